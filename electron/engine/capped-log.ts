// A size-capped, rotating log file (QEMU's stdout/stderr, lifecycle lines, the serial console).
// Writes are synchronous so they can be called from any event handler without ordering surprises,
// and never throw: a full disk must not take down the VM's supervisor (the error is kept in lastError).
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface CappedLogOptions {
  /** size of the live file before it rotates; default 1 MiB */
  maxBytes?: number;
  /** rotated files kept (file.1 … file.N); default 2 */
  keep?: number;
}

export class CappedLog {
  private fd: number | undefined;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly keep: number;
  private closed = false;
  lastError: Error | undefined;

  constructor(
    readonly file: string,
    opts: CappedLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 1024 * 1024;
    this.keep = opts.keep ?? 2;
  }

  write(data: string | Buffer): void {
    if (this.closed) return;
    let buf = typeof data === 'string' ? Buffer.from(data) : data;
    if (buf.length === 0) return;
    if (buf.length > this.maxBytes) buf = buf.subarray(buf.length - this.maxBytes);
    try {
      if (this.fd !== undefined && this.bytes + buf.length > this.maxBytes) this.rotate();
      const fd = this.ensureOpen();
      if (this.bytes + buf.length > this.maxBytes) {
        this.rotate();
        return this.writeAll(this.ensureOpen(), buf);
      }
      this.writeAll(fd, buf);
    } catch (err) {
      this.lastError = err as Error;
    }
  }

  /** The last `lines` lines across the live file and its rotations, oldest first. */
  async tail(lines: number): Promise<string[]> {
    if (lines <= 0) return [];
    const out: string[] = [];
    for (const f of this.filesNewestFirst()) {
      const text = await readOrEmpty(f);
      if (text === '') continue;
      const fileLines = text.split('\n');
      if (fileLines.at(-1) === '') fileLines.pop();
      out.unshift(...fileLines.slice(-(lines - out.length)));
      if (out.length >= lines) break;
    }
    return out;
  }

  /**
   * The last `bytes` bytes across the live file and its rotations, oldest first; what cannot be
   * read (missing, unreadable) counts as empty. Synchronous, like write(), so it sees every write
   * made so far.
   */
  tailBytes(bytes: number): Buffer {
    const parts: Buffer[] = [];
    let want = bytes;
    for (const f of this.filesNewestFirst()) {
      if (want <= 0) break;
      let fd: number | undefined;
      try {
        fd = openSync(f, 'r');
        const size = fstatSync(fd).size;
        const n = Math.min(size, want);
        const buf = Buffer.alloc(n);
        let got = 0;
        while (got < n) {
          const r = readSync(fd, buf, got, n - got, size - n + got);
          if (r === 0) break;
          got += r;
        }
        parts.unshift(buf.subarray(0, got));
        want -= got;
      } catch {
        // missing or unreadable: nothing from this file
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    return Buffer.concat(parts);
  }

  /**
   * At most the last `cap` bytes, starting at a line start when the log holds more (a cut escape
   * sequence or UTF-8 character would show as garbage): what a new scrollback is refilled with.
   */
  tailFromLineStart(cap: number): Buffer {
    const tail = this.tailBytes(cap + 1);
    if (tail.length <= cap) return tail;
    const nl = tail.indexOf(0x0a, tail.length - cap);
    return tail.subarray(nl < 0 ? tail.length - cap : nl + 1);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closeFd();
  }

  /** Deletes the live file and its rotations (e.g. when the VM is removed). */
  removeFiles(): void {
    this.closeFd();
    for (const f of this.filesNewestFirst()) rmSync(f, { force: true });
  }

  /** Whether anything was ever logged here (the live file or a rotation holds bytes). */
  hasContent(): boolean {
    if (this.fd !== undefined && this.bytes > 0) return true;
    return this.filesNewestFirst().some((f) => {
      try {
        return statSync(f).size > 0;
      } catch {
        return false;
      }
    });
  }

  private filesNewestFirst(): string[] {
    return [this.file, ...Array.from({ length: this.keep }, (_, i) => `${this.file}.${i + 1}`)];
  }

  private ensureOpen(): number {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      this.fd = openSync(this.file, 'a', 0o600);
      this.bytes = fstatSync(this.fd).size;
    }
    return this.fd;
  }

  private rotate(): void {
    this.closeFd();
    const files = this.filesNewestFirst();
    if (this.keep === 0) rmSync(this.file, { force: true });
    for (let i = files.length - 1; i >= 1; i--) {
      try {
        renameSync(files[i - 1]!, files[i]!);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }

  private writeAll(fd: number, buf: Buffer): void {
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    this.bytes += buf.length;
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already gone
    }
    this.fd = undefined;
    this.bytes = 0;
  }
}

function readOrEmpty(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '');
}
