// One VM's serial console, held by the engine: a client connection to QEMU's serial
// socket, a scrollback ring, a size-capped serial log, and any number of subscribers.
// We always drain the socket (even with nobody watching) so a chatty guest never blocks
// on a full chardev buffer; memory stays bounded by the ring.
// Output can arrive as many small socket reads in one I/O turn, so reads are coalesced: the first
// read after a quiet moment goes out at once (a keystroke's echo waits for nothing), and reads
// that follow within the same I/O turn are gathered and go out together at its end (or at
// MAX_PENDING bytes): one log write and one event per subscriber per burst, not per read.
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { ByteRing } from './byte-ring';
import { CappedLog } from './capped-log';

export const SCROLLBACK_BYTES = 256 * 1024;
/** coalesced bytes that force a flush before the end of the I/O turn */
const MAX_PENDING = 64 * 1024;

export type ConsoleListener = (data: string) => void;

export interface ConsoleHubOptions {
  sockPath: string;
  logFile: string;
  scrollbackBytes?: number;
  /** how often to retry while the socket is not there yet */
  retryMs?: number;
}

export class ConsoleHub {
  private readonly ring: ByteRing;
  private readonly log: CappedLog;
  private readonly listeners = new Map<string, ConsoleListener>();
  private decoder = new StringDecoder('utf8');
  private sock: Socket | null = null;
  private wanted = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** set while a burst is being gathered: reads wait for the end of this I/O turn */
  private gathering: NodeJS.Immediate | null = null;

  constructor(private readonly opts: ConsoleHubOptions) {
    this.ring = new ByteRing(opts.scrollbackBytes ?? SCROLLBACK_BYTES);
    this.log = new CappedLog(opts.logFile);
  }

  /** Connect (and keep reconnecting while attached) to QEMU's serial socket. */
  attach(): void {
    if (this.closed) return;
    this.wanted = true;
    if (!this.sock) this.tryConnect();
  }

  /** Drop the socket (QEMU is going away); scrollback and subscribers stay. */
  detach(): void {
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.sock?.destroy();
    this.sock = null;
    this.flushPending();
    this.flushDecoder();
  }

  get connected(): boolean {
    return this.sock !== null && !this.sock.connecting;
  }

  subscribe(key: string, cb: ConsoleListener): string {
    // what is pending goes to the existing subscribers and into the ring first, so the new
    // subscriber gets it once, in its scrollback
    this.flushPending();
    this.listeners.set(key, cb);
    return this.scrollback();
  }

  unsubscribe(key: string): void {
    this.listeners.delete(key);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  scrollback(): string {
    this.flushPending();
    return this.ring.snapshot().toString('utf8');
  }

  /** Type into the console. Returns false when QEMU's socket is not connected. */
  write(data: string): boolean {
    if (!this.sock || this.sock.connecting || this.sock.destroyed) return false;
    this.sock.write(data);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.detach();
    if (this.gathering) clearImmediate(this.gathering);
    this.gathering = null;
    this.listeners.clear();
    await this.log.close();
  }

  private tryConnect(): void {
    if (!this.wanted || this.closed) return;
    const s = connect(this.opts.sockPath);
    this.sock = s;
    s.on('data', (buf: Buffer) => this.onData(buf));
    s.on('error', () => {
      /* handled by close */
    });
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = null;
      this.flushPending();
      this.flushDecoder();
      if (this.wanted && !this.closed) {
        this.retryTimer = setTimeout(() => this.tryConnect(), this.opts.retryMs ?? 300);
        this.retryTimer.unref();
      }
    });
  }

  private onData(buf: Buffer): void {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (!this.gathering) {
      this.flushPending();
      this.gathering = setImmediate(() => {
        this.gathering = null;
        this.flushPending();
      });
    } else if (this.pendingBytes >= MAX_PENDING) this.flushPending();
  }

  private flushPending(): void {
    if (this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.ring.push(buf);
    this.log.write(buf);
    // the decoder keeps a split multibyte sequence for the next chunk
    const text = this.decoder.write(buf);
    if (text) this.fanOut(text);
  }

  private flushDecoder(): void {
    const rest = this.decoder.end();
    this.decoder = new StringDecoder('utf8');
    if (rest) this.fanOut(rest);
  }

  private fanOut(text: string): void {
    for (const cb of [...this.listeners.values()]) {
      try {
        cb(text);
      } catch {
        /* one bad subscriber must not starve the others */
      }
    }
  }
}
