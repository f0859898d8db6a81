// Client for qemu-guest-agent over the VM's virtio-serial channel (a unix socket QEMU serves).
// The agent answers in order and without ids, so commands are serialized. The stream is put in a
// known state with guest-sync-delimited: the agent's reply is preceded by a 0xFF byte and anything
// before that byte is a stale reply from an earlier client and is discarded. After any command
// times out, its late reply could be taken for the next command's, so the next command re-syncs first.
import { randomInt } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import type { ExecResult } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { agentReadFile, agentWriteFile, type WriteFileOptions } from './agent-files';
import { describeGuestOs } from './guest-os';
import { LineSplitter } from './line-splitter';

const SENTINEL = 0xff;
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const DEFAULT_EXEC_TIMEOUT_MS = 120_000;
const FILE_CHUNK_BYTES = 256 * 1024;

type Msg = Record<string, unknown>;

interface Waiter {
  accept: (msg: Msg) => boolean;
  resolve: (msg: Msg) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

interface GuestInterface {
  name?: string;
  'ip-addresses'?: Array<{ 'ip-address-type'?: string; 'ip-address'?: string }>;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

function isUsableAddress(ip: string): boolean {
  const v = ip.toLowerCase();
  return !(v.startsWith('127.') || v === '::1' || v.startsWith('fe80:'));
}

/** Addresses a user can reach the guest on: no loopback, no IPv6 link-local. */
export function usableIps(ifaces: GuestInterface[]): string[] {
  return ifaces
    .filter((i) => i.name !== 'lo')
    .flatMap((i) => i['ip-addresses'] ?? [])
    .map((a) => a['ip-address'] ?? '')
    .filter((ip) => ip !== '' && isUsableAddress(ip));
}

export class AgentClient {
  private readonly splitter: LineSplitter;
  private awaitingSentinel = false;
  private waiter: Waiter | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private needsSync = false;
  private _closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly sockPath: string,
  ) {
    this.splitter = new LineSplitter({ maxLineBytes: MAX_LINE_BYTES, onLine: (l) => this.handleLine(l) });
    socket.on('data', (chunk: Buffer) => this.handleData(chunk));
    socket.on('error', () => this.teardown());
    socket.on('close', () => this.teardown());
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Connects and syncs; a guest whose agent is not running answers nothing → AGENT_UNAVAILABLE. */
  static async connect(sockPath: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    const socket = await openSocket(sockPath);
    const client = new AgentClient(socket, sockPath);
    try {
      await client.sync(opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  ping(timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS): Promise<void> {
    return this.enqueue(async () => {
      try {
        await this.command('guest-ping', undefined, timeoutMs);
      } catch (err) {
        if (err instanceof FlotillaError && err.code === 'TIMEOUT') {
          throw new FlotillaError('AGENT_UNAVAILABLE', `guest agent did not answer a ping within ${timeoutMs} ms`);
        }
        throw err;
      }
    });
  }

  async exec(cmd: string[], opts: { stdin?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const [path, ...arg] = cmd;
    if (!path) throw new FlotillaError('BAD_REQUEST', 'exec needs a command');
    const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
    const args: Msg = { path, arg, 'capture-output': true };
    if (opts.stdin !== undefined) args['input-data'] = Buffer.from(opts.stdin).toString('base64');
    const { pid } = (await this.request('guest-exec', args)) as { pid: number };
    return this.waitForExit(pid, path, deadline);
  }

  /** All of a file (at most READ_FILE_MAX_BYTES), or `range.length` bytes from `range.offset` (fewer at its end). */
  readFile(path: string, range?: { offset: number; length: number }): Promise<Buffer> {
    return agentReadFile((c, a) => this.request(c, a), path, range, { chunkBytes: FILE_CHUNK_BYTES });
  }

  writeFile(path: string, data: Buffer, opts: WriteFileOptions = {}): Promise<number> {
    return agentWriteFile((c, a) => this.request(c, a), path, data, opts, { chunkBytes: FILE_CHUNK_BYTES });
  }

  /** What the guest says it runs, in one line (guest-os.ts); null when it does not say. */
  async osInfo(): Promise<string | null> {
    return describeGuestOs(await this.request('guest-get-osinfo'));
  }

  async ips(): Promise<string[]> {
    return usableIps((await this.request('guest-network-get-interfaces')) as GuestInterface[]);
  }

  /** The agent does not answer a successful shutdown: send it and return. */
  shutdown(mode: 'powerdown' | 'reboot' | 'halt' = 'powerdown'): Promise<void> {
    return this.enqueue(async () => {
      if (this.needsSync) await this.sync(DEFAULT_CONNECT_TIMEOUT_MS);
      await this.send({ execute: 'guest-shutdown', arguments: { mode } });
      // an error reply (e.g. command disabled) would otherwise be read as the next command's answer
      this.needsSync = true;
    });
  }

  close(): void {
    this.socket.destroy();
    this.teardown();
  }

  /** One command, serialized with all others. */
  request(command: string, args?: Msg, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<unknown> {
    return this.enqueue(() => this.command(command, args, timeoutMs));
  }

  private async waitForExit(pid: number, path: string, deadline: number): Promise<ExecResult> {
    for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
      const s = (await this.request('guest-exec-status', { pid })) as ExecStatus;
      if (s.exited) return toExecResult(s);
      if (Date.now() + wait > deadline) {
        throw new FlotillaError('TIMEOUT', `${path} is still running in the guest (pid ${pid}) after the exec timeout`);
      }
      await delay(wait);
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.catch(() => undefined).then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async command(command: string, args: Msg | undefined, timeoutMs: number): Promise<unknown> {
    if (this.needsSync) await this.sync(timeoutMs);
    await this.send(args === undefined ? { execute: command } : { execute: command, arguments: args });
    let msg: Msg;
    try {
      msg = await this.nextMessage(timeoutMs, () => true);
    } catch (err) {
      this.needsSync = true;
      if (err instanceof FlotillaError && err.code === 'TIMEOUT') {
        throw new FlotillaError('TIMEOUT', `guest agent did not answer ${command} within ${timeoutMs} ms`);
      }
      throw err;
    }
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      throw new FlotillaError('AGENT_ERROR', `guest agent: ${command} failed: ${e.desc ?? 'unknown error'}`, { class: e.class });
    }
    return msg.return;
  }

  private async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.awaitingSentinel = true;
    this.splitter.end();
    // a leading 0xFF makes the agent drop any half-parsed input from an earlier client
    await this.send({ execute: 'guest-sync-delimited', arguments: { id } }, true);
    try {
      await this.nextMessage(timeoutMs, (m) => m.return === id);
    } catch (err) {
      this.needsSync = true;
      if (err instanceof FlotillaError && err.code === 'TIMEOUT') {
        throw new FlotillaError('AGENT_UNAVAILABLE', `guest agent did not answer within ${timeoutMs} ms (is qemu-guest-agent running in the guest?)`);
      }
      throw err;
    }
    this.needsSync = false;
  }

  private send(msg: Msg, withSentinel = false): Promise<void> {
    if (this._closed) return Promise.reject(this.closedError());
    const text = Buffer.from(JSON.stringify(msg) + '\n');
    const data = withSentinel ? Buffer.concat([Buffer.from([SENTINEL]), text]) : text;
    return new Promise((resolve, reject) => this.socket.write(data, (err) => (err ? reject(this.closedError()) : resolve())));
  }

  private nextMessage(timeoutMs: number, accept: (m: Msg) => boolean): Promise<Msg> {
    if (this._closed) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new FlotillaError('TIMEOUT', `guest agent did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { accept, resolve, reject, timer };
    });
  }

  private handleData(chunk: Buffer): void {
    if (this.awaitingSentinel) {
      const at = chunk.lastIndexOf(SENTINEL);
      if (at < 0) return;
      this.awaitingSentinel = false;
      this.splitter.end();
      chunk = chunk.subarray(at + 1);
    }
    this.splitter.push(chunk.includes(SENTINEL) ? Buffer.from(chunk.filter((b) => b !== SENTINEL)) : chunk);
  }

  private handleLine(line: string): void {
    if (line.trim() === '') return;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // garbage from the guest side; the waiting command times out and re-syncs
    }
    const w = this.waiter;
    if (!w || typeof msg !== 'object' || msg === null || !w.accept(msg as Msg)) return; // stale or unsolicited
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(msg as Msg);
  }

  private closedError(): FlotillaError {
    return new FlotillaError('AGENT_UNAVAILABLE', `guest agent connection ${this.sockPath} is closed`);
  }

  private teardown(): void {
    if (this._closed) return;
    this._closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    if (w) {
      clearTimeout(w.timer);
      w.reject(this.closedError());
    }
  }
}

function toExecResult(s: ExecStatus): ExecResult {
  const result: ExecResult = { exitCode: s.exitcode ?? null, stdout: b64(s['out-data']), stderr: b64(s['err-data']) };
  if (s.signal !== undefined) result.signal = s.signal;
  if (s['out-truncated'] || s['err-truncated']) result.truncated = true;
  return result;
}

function openSocket(sockPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(sockPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e: NodeJS.ErrnoException) =>
      reject(new FlotillaError('AGENT_UNAVAILABLE', `cannot connect to the guest agent socket ${sockPath}: ${e.code ?? e.message}`)),
    );
  });
}
