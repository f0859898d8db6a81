// Splits a byte stream into newline-terminated lines. Works on bytes, so a UTF-8 character split
// across chunks survives, and a line longer than the limit is dropped (and reported) instead of
// growing memory without bound.
export interface LineSplitterOptions {
  maxLineBytes: number;
  onLine: (line: string) => void;
  /** a line over the limit was dropped; `bytes` is how much of it was seen */
  onOversize?: (bytes: number) => void;
}

const NL = 0x0a;

export class LineSplitter {
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** inside an oversized line: discard until the next newline */
  private dropping = false;
  private droppedBytes = 0;

  constructor(private readonly opts: LineSplitterOptions) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NL, start); nl >= 0; nl = chunk.indexOf(NL, start)) {
      this.take(chunk.subarray(start, nl));
      this.finishLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  /** The unterminated rest, if any (e.g. at end of stream); clears it. */
  end(): string | undefined {
    const rest = this.dropping || this.partBytes === 0 ? undefined : this.joined();
    this.reset();
    return rest;
  }

  private take(piece: Buffer): void {
    if (this.dropping) {
      this.droppedBytes += piece.length;
      return;
    }
    if (this.partBytes + piece.length > this.opts.maxLineBytes) {
      this.dropping = true;
      this.droppedBytes = this.partBytes + piece.length;
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    if (piece.length === 0) return;
    // copy: callers may reuse their buffers
    this.parts.push(Buffer.from(piece));
    this.partBytes += piece.length;
  }

  private finishLine(): void {
    if (this.dropping) {
      const n = this.droppedBytes;
      this.reset();
      this.opts.onOversize?.(n);
      return;
    }
    const line = this.joined();
    this.reset();
    this.opts.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  private joined(): string {
    return Buffer.concat(this.parts, this.partBytes).toString('utf8');
  }

  private reset(): void {
    this.parts = [];
    this.partBytes = 0;
    this.dropping = false;
    this.droppedBytes = 0;
  }
}
