// Client for QEMU's QMP monitor on a unix socket: greeting, capabilities negotiation, commands
// matched to replies by id, per-command timeouts, and async events. A peer that sends garbage
// (malformed, oversized, truncated or unmatched lines) is reported as 'protocol-error' and never
// throws out of the socket handlers: a misbehaving QEMU must not take the engine down.
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { FlotillaError } from '../../shared/errors';
import { LineSplitter } from './line-splitter';

export const QMP_MAX_LINE_BYTES = 16 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

export interface QmpEvent {
  event: string;
  data: unknown;
  timestamp: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type QmpMessage = Record<string, unknown>;

function isObject(v: unknown): v is QmpMessage {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class QmpClient extends EventEmitter {
  private readonly pending = new Map<string, Pending>();
  private readonly splitter: LineSplitter;
  private nextId = 1;
  private greeted = false;
  private onGreeting: ((greeting: QmpMessage) => void) | undefined;
  private _closed = false;
  /** the greeting's QMP object (version, capabilities) */
  greeting: QmpMessage | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly sockPath: string,
  ) {
    super();
    this.splitter = new LineSplitter({
      maxLineBytes: QMP_MAX_LINE_BYTES,
      onLine: (line) => this.handleLine(line),
      onOversize: (n) => this.protocolError(`dropped an oversized QMP line (${n} bytes)`),
    });
    socket.on('data', (chunk: Buffer) => this.splitter.push(chunk));
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Connects, waits for the greeting and negotiates capabilities. */
  static connect(sockPath: string, opts: { timeoutMs?: number } = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise<QmpClient>((resolve, reject) => {
      const socket = createConnection(sockPath);
      const client = new QmpClient(socket, sockPath);
      let settled = false;
      const fail = (err: FlotillaError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.close();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new FlotillaError('TIMEOUT', `QMP on ${sockPath} did not greet within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once('error', (e: NodeJS.ErrnoException) =>
        fail(new FlotillaError('QMP_ERROR', `cannot connect to QMP socket ${sockPath}: ${e.code ?? e.message}`, { errno: e.code })),
      );
      socket.once('close', () => fail(new FlotillaError('DISCONNECTED', `QMP socket ${sockPath} closed before the handshake`)));
      client.onGreeting = (greeting) => {
        client.greeting = greeting;
        client
          .execute('qmp_capabilities', undefined, { timeoutMs })
          .then(() => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(client);
          })
          .catch((e: unknown) =>
            fail(e instanceof FlotillaError ? e : new FlotillaError('QMP_ERROR', `qmp_capabilities failed: ${String(e)}`)),
          );
      };
    });
  }

  execute<T = unknown>(command: string, args?: object, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this._closed) return Promise.reject(new FlotillaError('DISCONNECTED', `QMP connection to ${this.sockPath} is closed`));
    const id = `flo-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // a late reply to this id is then ignored as unmatched
        this.pending.delete(id);
        reject(new FlotillaError('TIMEOUT', `QMP command ${command} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(JSON.stringify(msg) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
    this.teardown();
  }

  private handleLine(line: string): void {
    if (line.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.protocolError(`malformed QMP line: ${line.slice(0, 200)}`);
      return;
    }
    if (!isObject(msg)) return this.protocolError(`unexpected QMP message: ${line.slice(0, 200)}`);
    if (!this.greeted && isObject(msg.QMP)) return this.handleGreeting(msg.QMP);
    if (typeof msg.event === 'string') return this.handleEvent(msg);
    if ('return' in msg || 'error' in msg) return this.handleReply(msg, line);
    this.protocolError(`unexpected QMP message: ${line.slice(0, 200)}`);
  }

  private handleGreeting(greeting: QmpMessage): void {
    this.greeted = true;
    this.onGreeting?.(greeting);
  }

  private handleEvent(msg: QmpMessage): void {
    const ts = isObject(msg.timestamp) ? msg.timestamp : {};
    const event: QmpEvent = {
      event: msg.event as string,
      data: msg.data ?? {},
      timestamp: { seconds: Number(ts.seconds ?? 0), microseconds: Number(ts.microseconds ?? 0) },
    };
    this.safeEmit('event', event);
  }

  private handleReply(msg: QmpMessage, line: string): void {
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return this.protocolError(`QMP reply matches no pending command: ${line.slice(0, 200)}`);
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const err = isObject(msg.error) ? msg.error : {};
      const desc = typeof err.desc === 'string' ? err.desc : 'unknown error';
      p.reject(new FlotillaError('QMP_ERROR', `QMP ${p.command} failed: ${desc}`, { ...(typeof err.class === 'string' ? { class: err.class } : {}), desc }));
    } else {
      p.resolve(msg.return);
    }
  }

  private protocolError(message: string): void {
    this.safeEmit('protocol-error', new FlotillaError('QMP_ERROR', message));
  }

  /** A throwing listener must not unwind into the socket's data handler. */
  private safeEmit(name: string, payload: unknown): void {
    try {
      this.emit(name, payload);
    } catch {
      // the listener's bug; the connection stays usable
    }
  }

  private teardown(): void {
    if (this._closed) return;
    this._closed = true;
    const rest = this.splitter.end();
    if (rest) this.protocolError(`QMP connection closed mid-line: ${rest.slice(0, 200)}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new FlotillaError('DISCONNECTED', `QMP connection to ${this.sockPath} closed before ${p.command} answered`));
    }
    this.safeEmit('close', undefined);
  }
}
