// One VM's serial console, held by the engine: a client connection to QEMU's serial socket, a
// scrollback ring, a size-capped serial log, and any number of subscribers. The socket is read
// on the console reader thread (console-link.ts), always, even with nobody watching: a virtio
// console (older guests) drops output it cannot hand over at once, and a throttled port (today's
// guest) would stall the guest's writer. Reads arrive coalesced per burst window, so there
// is one log write and one event per subscriber per window, not per socket read; memory stays
// bounded by the ring.
import { StringDecoder } from 'node:string_decoder';
import { ByteRing } from './byte-ring';
import { CappedLog } from './capped-log';
import { openConsoleLink, type ConsoleLink } from './console-link';

export const SCROLLBACK_BYTES = 256 * 1024;

export type ConsoleListener = (data: string) => void;

export interface ConsoleHubOptions {
  sockPath: string;
  logFile: string;
  scrollbackBytes?: number;
  /** how often to retry while the socket is not there yet */
  retryMs?: number;
  /** the reader thread's gathering window (tests widen it) */
  coalesceMs?: number;
  /** called after each socket read is taken in (tests join subscribers mid-burst) */
  onRead?: () => void;
}

export class ConsoleHub {
  private readonly ring: ByteRing;
  private readonly log: CappedLog;
  private readonly listeners = new Map<string, ConsoleListener>();
  private decoder = new StringDecoder('utf8');
  private sock: ConsoleLink | null = null;
  private wanted = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private onThread = true;

  constructor(private readonly opts: ConsoleHubOptions) {
    this.ring = new ByteRing(opts.scrollbackBytes ?? SCROLLBACK_BYTES);
    this.log = new CappedLog(opts.logFile);
  }

  /**
   * Refill the scrollback from the serial log (an engine that adopts a running VM: the output it
   * printed before is in the log, not in this new engine's memory). Only into an empty
   * scrollback, before attach(), so nothing is shown twice. When the log holds more than fits,
   * the restored text starts at a line start: a cut escape sequence or UTF-8 character would
   * show as garbage.
   */
  restoreFromLog(): void {
    if (this.ring.size > 0) return;
    const tail = this.log.tailFromLineStart(this.ring.capacity);
    if (tail.length > 0) this.ring.push(tail);
  }

  /** Connect (and keep reconnecting while attached) to QEMU's serial socket. */
  /**
   * Connect (and reconnect) to QEMU's serial socket. `dropsWhenSlow`: the socket is a virtio
   * console's, which drops output a late reader misses, so it is read on the reader thread
   * (console-link.ts); the default, when unknown, is the safe one.
   */
  attach(opts: { dropsWhenSlow?: boolean } = {}): void {
    if (this.closed) return;
    this.onThread = opts.dropsWhenSlow ?? true;
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
    this.flushDecoder();
  }

  get connected(): boolean {
    return this.sock !== null && !this.sock.connecting;
  }

  subscribe(key: string, cb: ConsoleListener): string {
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
    return this.ring.snapshot().toString('utf8');
  }

  /**
   * Type into the console. Returns false when there is no socket to QEMU (the VM is not running).
   * While the reader thread is still connecting, input waits there and goes out on connect.
   */
  write(data: string): boolean {
    if (!this.sock || this.sock.destroyed) return false;
    this.sock.write(data);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.detach();
    this.listeners.clear();
    await this.log.close();
  }

  private tryConnect(): void {
    if (!this.wanted || this.closed) return;
    const s: ConsoleLink = openConsoleLink(this.opts.sockPath, {
      onData: (buf) => {
        if (this.sock !== s) return;
        this.onData(buf);
        this.opts.onRead?.();
      },
      onClose: () => {
        if (this.sock !== s) return;
        this.sock = null;
        this.flushDecoder();
        if (this.wanted && !this.closed) {
          this.retryTimer = setTimeout(() => this.tryConnect(), this.opts.retryMs ?? 300);
          this.retryTimer.unref();
        }
      },
    }, { windowMs: this.opts.coalesceMs, onThread: this.onThread });
    this.sock = s;
  }

  /**
   * A new boot's output is about to follow the last one's: a dim line between them (journalctl
   * puts "-- Boot … --" there), in the scrollback, the serial log and to every subscriber. Nothing
   * when there is no earlier output to separate it from (neither in the scrollback nor the log).
   */
  separateBoot(label: string): void {
    if (this.ring.size === 0 && !this.log.hasContent()) return;
    // a multibyte character the last boot left half-sent is not finished by the next one
    this.flushDecoder();
    const text = `\r\n\x1b[2m${label}\x1b[0m\r\n`;
    const buf = Buffer.from(text);
    this.ring.push(buf);
    this.log.write(buf);
    this.fanOut(text);
  }

  private onData(buf: Buffer): void {
    // subscribers first: a keystroke's echo does not wait for the log's write to the disk
    // the decoder keeps a split multibyte sequence for the next chunk
    const text = this.decoder.write(buf);
    if (text) this.fanOut(text);
    this.ring.push(buf);
    this.log.write(buf);
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

/** "-- web started 2026-12-06 04:01:22 --", the time local to this machine. */
export function bootLabel(name: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `-- ${name} started ${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())} --`;
}
