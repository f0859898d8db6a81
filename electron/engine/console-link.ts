// Console sockets read on their own thread. QEMU's virtio console (`virtconsole`, the console of
// default guests built before the 'vport' kind) does not wait for a slow reader: when its chardev
// socket is full it drops the bytes (QEMU says so in virtio-console.c, because the guest's hvc
// driver writes with spinlocks held). A guest writes ~10 MB/s under TCG and the socket holds
// ~100–200 KiB, so a reader that pauses for 10–20 ms loses output — and the engine's main thread
// pauses that long for GC, a burst of RPC work, or a busy neighbour on a 2-core box (measured: a
// reader stalling 30 ms every 50 reads lost 44 % of a 4 MiB write). Today's default guest puts its
// console on a plain virtio-serial port ('vport', qemu-args.ts), which QEMU throttles instead: no
// loss whatever the reader does, but a late reader now slows the guest's writer. So a virtio
// console's socket lives in one worker thread that does nothing but read (and write keystrokes);
// reads are handed to the main thread, which may be late but loses nothing. A throttled console
// (the port, the UART) is read on the main thread: nothing to lose, and a keystroke's echo is
// spared two thread hops (see ConsoleLinkOptions.onThread).
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

/**
 * The first read after a quiet moment goes out at once (a keystroke's echo waits for nothing)
 * and opens a window this long; reads within it are gathered and go out together when it ends
 * (or at 64 KiB), and while output keeps coming the windows follow one another. A streaming
 * guest then costs one message, one log write and one event per subscriber per window rather
 * than per read (~1/15 of them), and no reader of a terminal can tell 4 ms apart.
 */
export const COALESCE_MS = 4;

/** A window's gathering goes out early once it holds this much. */
const MAX_PENDING = 64 * 1024;

export interface ConsoleLinkHandlers {
  onData(buf: Buffer): void;
  /** the socket closed or could not be opened; the link is dead */
  onClose(): void;
}

export interface ConsoleLink {
  /** true until the connection is made */
  readonly connecting: boolean;
  readonly destroyed: boolean;
  write(data: string): void;
  destroy(): void;
}

export interface Gatherer {
  /** a socket read */
  push(b: Uint8Array): void;
  /** the socket closed: what is gathered goes out now */
  close(): void;
}

/**
 * The gathering of COALESCE_MS, for both readers: the first read after a quiet moment goes to
 * `post` at once and opens a window; reads within it go out together when it ends (or at
 * `maxPending` bytes); while output keeps coming the windows follow one another. `post` gets one
 * fresh array (its buffer can be transferred). Self-contained, no outer names: the reader thread
 * runs it from its source text.
 */
export function makeGatherer(windowMs: number, maxPending: number, post: (data: Uint8Array) => void): Gatherer {
  let pending: Uint8Array[] = [];
  let bytes = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = (): void => {
    if (bytes === 0) return;
    const data = new Uint8Array(bytes);
    let off = 0;
    for (const b of pending) {
      data.set(b, off);
      off += b.length;
    }
    pending = [];
    bytes = 0;
    post(data);
  };
  const openWindow = (): void => {
    timer = setTimeout(() => {
      timer = null;
      if (bytes === 0) return;
      flush();
      openWindow();
    }, windowMs);
  };
  return {
    push(b) {
      pending.push(b);
      bytes += b.length;
      if (!timer) {
        flush();
        openWindow();
      } else if (bytes >= maxPending) flush();
    },
    close() {
      if (timer) clearTimeout(timer);
      timer = null;
      flush();
    },
  };
}

// Plain CommonJS run with `eval`, so the same worker runs from the TS sources (tests), the esbuild
// bundle and a packaged app without a second file to ship and locate. It moves bytes and
// coalesces them (makeGatherer, whose source it carries): a virtio console kicks the host once per
// tty chunk (~2 KiB), and one message per read would cost both threads more than the bytes do.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { connect } = require('node:net');
const makeGatherer = ${makeGatherer.toString()};
const links = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    const s = connect(m.path);
    const gather = makeGatherer(m.windowMs, ${MAX_PENDING}, (data) => parentPort.postMessage({ id: m.id, ev: 'data', data: data.buffer }, [data.buffer]));
    links.set(m.id, s);
    s.on('connect', () => parentPort.postMessage({ id: m.id, ev: 'connect' }));
    s.on('data', (b) => gather.push(b));
    s.on('error', () => {});
    s.on('close', () => {
      gather.close();
      links.delete(m.id);
      parentPort.postMessage({ id: m.id, ev: 'close' });
    });
  } else if (m.op === 'write') {
    const s = links.get(m.id);
    if (s && !s.destroyed) s.write(m.data);
  } else if (m.op === 'close') {
    links.get(m.id)?.destroy();
  }
});
`;

type FromWorker = { id: number; ev: 'connect' | 'close' } | { id: number; ev: 'data'; data: ArrayBuffer };

class LinkImpl implements ConsoleLink {
  connecting = true;
  destroyed = false;
  constructor(
    readonly id: number,
    private readonly thread: ReaderThread,
    readonly handlers: ConsoleLinkHandlers,
  ) {}
  write(data: string): void {
    if (!this.destroyed) this.thread.post({ op: 'write', id: this.id, data });
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.thread.post({ op: 'close', id: this.id });
    this.thread.forget(this.id);
  }
}

class ReaderThread {
  private readonly worker: Worker;
  private readonly links = new Map<number, LinkImpl>();
  private nextId = 1;
  dead = false;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name: 'flotilla-console-reader' });
    // the engine may exit with consoles open; the thread must not keep it alive
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    const die = (): void => {
      this.dead = true;
      // every link is gone with the thread; its owner reconnects (through a new thread)
      for (const link of [...this.links.values()]) this.close(link);
    };
    this.worker.on('error', die);
    this.worker.on('exit', die);
  }

  open(path: string, handlers: ConsoleLinkHandlers, windowMs: number): ConsoleLink {
    const link = new LinkImpl(this.nextId++, this, handlers);
    this.links.set(link.id, link);
    this.post({ op: 'open', id: link.id, path, windowMs });
    return link;
  }

  post(m: { op: 'open'; id: number; path: string; windowMs: number } | { op: 'write'; id: number; data: string } | { op: 'close'; id: number }): void {
    if (!this.dead) this.worker.postMessage(m);
  }

  forget(id: number): void {
    this.links.delete(id);
  }

  private onMessage(m: FromWorker): void {
    const link = this.links.get(m.id);
    if (!link) return; // destroyed here while the worker still had its bytes in flight
    if (m.ev === 'data') link.handlers.onData(Buffer.from(m.data));
    else if (m.ev === 'connect') link.connecting = false;
    else this.close(link);
  }

  private close(link: LinkImpl): void {
    link.connecting = false;
    link.destroyed = true;
    this.links.delete(link.id);
    link.handlers.onClose();
  }
}

let thread: ReaderThread | null = null;

export interface ConsoleLinkOptions {
  /** the gathering window (COALESCE_MS; tests widen it) */
  windowMs?: number;
  /**
   * Read on the reader thread: for a console that drops what it cannot hand over at once (a
   * virtio console, QEMU's `virtconsole`). One that QEMU throttles (a virtio-serial port, the
   * UART) loses nothing to a late reader, so it is read on the calling (main) thread: that saves
   * a keystroke and its echo a hop to the thread and back each (measured ~0.25 ms of a ~2 ms echo
   * on this 2-core box).
   */
  onThread?: boolean;
}

/** Connects to a console's unix socket, on the reader thread (started on first use) or on this one. */
export function openConsoleLink(path: string, handlers: ConsoleLinkHandlers, opts: ConsoleLinkOptions = {}): ConsoleLink {
  const windowMs = opts.windowMs ?? COALESCE_MS;
  if (opts.onThread === false) return new DirectLink(path, handlers, windowMs);
  if (!thread || thread.dead) thread = new ReaderThread();
  return thread.open(path, handlers, windowMs);
}

/** A console socket read on the main thread, with the reader thread's gathering (COALESCE_MS). */
class DirectLink implements ConsoleLink {
  connecting = true;
  destroyed = false;
  private readonly sock: Socket;

  constructor(path: string, handlers: ConsoleLinkHandlers, windowMs: number) {
    const gather = makeGatherer(windowMs, MAX_PENDING, (data) => {
      if (!this.destroyed) handlers.onData(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
    this.sock = connect(path);
    // like the reader thread: an engine may exit with consoles open
    this.sock.unref();
    this.sock.on('connect', () => {
      this.connecting = false;
    });
    this.sock.on('data', (b: Buffer) => gather.push(b));
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      gather.close();
      this.connecting = false;
      if (this.destroyed) return;
      this.destroyed = true;
      handlers.onClose();
    });
  }

  write(data: string): void {
    if (!this.destroyed) this.sock.write(data);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sock.destroy();
  }
}
