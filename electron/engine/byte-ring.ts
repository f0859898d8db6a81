// Fixed-size scrollback: keeps the most recent `capacity` bytes of a stream (a VM's serial
// console) in one preallocated buffer, so a guest flooding its console cannot grow engine memory.
export class ByteRing {
  private readonly buf: Buffer;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`ByteRing capacity must be a positive integer, got ${capacity}`);
    this.buf = Buffer.alloc(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(data: Buffer): void {
    // only the last `capacity` bytes of a large chunk can survive anyway
    const chunk = data.length > this.capacity ? data.subarray(data.length - this.capacity) : data;
    const end = (this.start + this.length) % this.capacity;
    const first = Math.min(chunk.length, this.capacity - end);
    chunk.copy(this.buf, end, 0, first);
    chunk.copy(this.buf, 0, first);
    const overflow = Math.max(0, this.length + chunk.length - this.capacity);
    this.start = (this.start + overflow) % this.capacity;
    this.length = Math.min(this.capacity, this.length + chunk.length);
  }

  /** A copy of the content, oldest byte first. */
  snapshot(): Buffer {
    const tail = Math.min(this.length, this.capacity - this.start);
    return Buffer.concat([this.buf.subarray(this.start, this.start + tail), this.buf.subarray(0, this.length - tail)], this.length);
  }

  clear(): void {
    this.start = 0;
    this.length = 0;
  }
}
