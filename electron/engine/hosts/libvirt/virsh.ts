// The one way Flotilla talks to libvirt: `virsh --connect URI …` spawned with an argument
// array (never a shell), C locale for parseable output, a timeout per call. virsh's "error: …"
// lines become typed errors that name the host and the command.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { FlotillaError, type ErrorCode } from '../../../../shared/errors';
import { diesWithEngine } from '../../dies-with-engine';
import { watchFilePosition } from '../../file-position';
import { safeText } from './virsh-parse';

export interface VirshResult {
  stdout: string;
  stderr: string;
}

/** Classifies virsh's stderr into an error code. */
export function virshErrorCode(stderr: string): ErrorCode {
  if (/failed to get (domain|vol|pool)|Domain not found|no domain with matching|Storage (volume|pool) not found/i.test(stderr)) return 'NOT_FOUND';
  if (/guest agent is not (responding|connected)|QEMU guest agent is not|Guest agent not available/i.test(stderr)) return 'AGENT_UNAVAILABLE';
  if (/domain is already (active|running)|is not running|domain is not running|Requested operation is not valid/i.test(stderr)) return 'INVALID_STATE';
  if (/failed to connect to the hypervisor|Cannot recv data|End of file while reading data|Connection reset|no connection driver|Failed to connect socket|client socket is closed|Cannot write data/i.test(stderr)) return 'DISCONNECTED';
  if (/already exists/i.test(stderr)) return 'NAME_TAKEN';
  return 'INTERNAL';
}

export class Virsh {
  /** the `run` calls whose virsh has not ended yet */
  private readonly running = new Set<ChildProcess>();

  constructor(
    /** the URI virsh connects to (for ssh hosts: the forwarded local socket) */
    private readonly uri: () => string,
    /** the host's name, for error messages */
    private readonly hostName: string,
    private readonly binary = 'virsh',
  ) {}

  /** the URI in use now (throws DISCONNECTED while the host is unreachable) */
  currentUri(): string {
    return this.uri();
  }

  args(args: readonly string[]): string[] {
    return ['--quiet', '--connect', this.uri(), ...args];
  }

  /**
   * `signal`: kills the call (a stream such as vol-upload; libvirt ends its side) and rejects with
   * the signal's reason. `watch`: the bytes virsh has read from or written to that local file so
   * far, every half second while it grows (vol-upload and vol-download say nothing themselves).
   */
  run(args: readonly string[], opts: { timeoutMs?: number; maxBuffer?: number; signal?: AbortSignal; watch?: { path: string; onBytes: (bytes: number) => void } } = {}): Promise<VirshResult> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binary,
        this.args(args),
        { timeout: opts.timeoutMs ?? 60_000, maxBuffer: opts.maxBuffer ?? 16 << 20, env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8', ...(opts.signal ? { signal: opts.signal } : {}) },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr });
          if (opts.signal?.aborted) return reject(opts.signal.reason instanceof Error ? opts.signal.reason : new FlotillaError('CANCELLED', `virsh ${args[0]} cancelled`));
          const killed = (err as { killed?: boolean }).killed;
          const text = safeText(stderr.replace(/^error:\s*/gm, '').trim().split('\n').filter(Boolean).join('; '), 600);
          const code: ErrorCode = killed ? 'TIMEOUT' : virshErrorCode(stderr);
          reject(new FlotillaError(code, `libvirt host ${this.hostName}: virsh ${args[0]} failed: ${killed ? 'timed out' : text || err.message}`, { host: this.hostName, command: args[0] }));
        },
      );
      this.running.add(child);
      const unwatch = opts.watch && child.pid ? watchFilePosition(child.pid, opts.watch.path, opts.watch.onBytes) : null;
      child.once('close', () => {
        unwatch?.();
        this.running.delete(child);
      });
    });
  }

  /**
   * Waits, at most `ms`, for the calls in flight to end. A closed host calls it after taking its
   * URI away (so no new call starts, and an ssh host's calls fail at once with its tunnel gone):
   * no virsh of a removed host is left writing or waiting behind it. One that outlasts `ms` is
   * left to its own timeout (killing a command mid-way could leave libvirt's side half done).
   */
  async settle(ms = 2000): Promise<void> {
    const ended = [...this.running].map((c) => new Promise<void>((r) => c.once('close', () => r())));
    if (!ended.length) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ended), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
  }

  /** A long-lived virsh (event stream); the caller owns the process. */
  spawn(args: readonly string[]): ChildProcess {
    // it dies with the engine: the next engine starts its own (dies-with-engine.ts)
    const [cmd, argv] = diesWithEngine(this.binary, this.args(args));
    return spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  }
}
