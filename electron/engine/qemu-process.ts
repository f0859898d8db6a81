// One QEMU process and its identity, as lima's QEMU driver keeps it: spawned detached in its
// own process group with an argument array, stdout/stderr piped into a capped log, and a
// promise for its exit. An adopted QEMU (started by an earlier engine) is not our child: no
// 'exit' event will come, so its death is found by polling the pid and its start time.
//
// Each process is its own object, so a late callback of an older QEMU of the same VM can never
// be mistaken for news about the current one (the old code needed a generation counter).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CappedLog } from './capped-log';
import type { HomeLayout } from './paths';
import { isOurQemu, isPidAlive } from './proc-identity';
import { parseProcStat } from './stats';

export type SpawnFn = (cmd: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export const LOG_TAIL_LINES = 50;
const LIVENESS_POLL_MS = 250;

/** The files a VM's QEMU leaves in its run dir; removed before a start and after an exit. */
export function runFiles(layout: HomeLayout, id: string): string[] {
  return [layout.pidFile(id), ...layout.runSockets(id), join(layout.runDir(id), 'shot.png')];
}

export async function cleanRunFiles(layout: HomeLayout, id: string): Promise<void> {
  await Promise.all(runFiles(layout, id).map((p) => rm(p, { force: true })));
}

export async function readStartTime(pid: number): Promise<number | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'))?.startTime ?? null;
  } catch {
    return null;
  }
}

export class QemuProcess {
  pid: number | null;
  startTime: number | null = null;
  /** its command line: what the engine spawned it with, or /proc's for an adopted one (null if unreadable) */
  argv: readonly string[] | null = null;
  /** set once the process is gone */
  exited: ExitInfo | null = null;
  /** the guest asked to power off (QMP SHUTDOWN with guest=true): its exit is not a crash */
  guestShutdown = false;
  /** the exit has been settled (state, ports, files): later settlements are no-ops */
  settled = false;
  /** what this process printed (the log file also holds earlier runs) */
  readonly recentOutput: string[] = [];

  /** resolves once the output pipes are drained (a failed start's last words are in) */
  drained: Promise<void> = Promise.resolve();
  private exitListeners: ((e: ExitInfo) => void)[] = [];
  private pollTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly adopted: boolean,
    pid: number | null,
    private child: ChildProcess | null,
  ) {
    this.pid = pid;
  }

  /** Spawn QEMU; `onOutput` gets each line it prints (also written to `log`). */
  static spawn(opts: { spawn: SpawnFn; binary: string; args: string[]; cwd: string; log: CappedLog; now: () => number }): QemuProcess {
    // QEMU creates its sockets, pidfile and screendumps with our umask: make them 0600 from
    // birth (the child inherits the umask at fork, inside this synchronous call)
    const oldUmask = process.umask(0o077);
    let child: ChildProcess;
    try {
      child = opts.spawn(opts.binary, opts.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
    } finally {
      process.umask(oldUmask);
    }
    const proc = new QemuProcess(false, child.pid ?? null, child);
    proc.argv = [opts.binary, ...opts.args];
    proc.pipeOutput(child, opts.log, opts.now);
    child.once('error', (err) => {
      const line = `could not run ${opts.binary}: ${err.message}`;
      opts.log.write(`${new Date(opts.now()).toISOString()} ${line}\n`);
      proc.remember([line]);
      proc.markExited({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => proc.markExited({ code, signal }));
    proc.drained = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    return proc;
  }

  /** A live QEMU an earlier engine started (proven ours by /proc). */
  static async adopt(pid: number): Promise<QemuProcess> {
    const proc = new QemuProcess(true, pid, null);
    proc.startTime = await readStartTime(pid);
    // NUL-terminated arguments: the last split piece is the empty string after the final NUL
    proc.argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
      (t) => t.split('\0').slice(0, -1),
      () => null,
    );
    proc.pollTimer = setInterval(() => void proc.checkAlive(), LIVENESS_POLL_MS);
    proc.pollTimer.unref();
    return proc;
  }

  onExit(cb: (e: ExitInfo) => void): void {
    if (this.exited) cb(this.exited);
    else this.exitListeners.push(cb);
  }

  /** Resolves true once the process is gone, false after `ms` (or when `signal` aborts). */
  waitExit(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      const onAbort = (): void => done(false);
      const t = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.onExit(() => done(true));
    });
  }

  /** Is it still there (same pid, same start time)? Reports its death if not. */
  async checkAlive(): Promise<boolean> {
    if (this.exited) return false;
    const pid = this.pid;
    if (pid === null) return false;
    const alive = (await isPidAlive(pid)) && (this.startTime === null || (await readStartTime(pid)) === this.startTime);
    // our own child reports its exit itself, with the status
    if (!alive && !this.child) this.markExited({ code: null, signal: null });
    return alive;
  }

  /** SIGKILL the process group, but only after proving the pid is still our QEMU. */
  async kill(qmpSock: string): Promise<void> {
    const pid = this.pid;
    if (pid === null || this.exited) return;
    const child = this.child;
    const ours = child ? child.exitCode === null && child.signalCode === null : (await isOurQemu(pid, qmpSock)).ours;
    if (!ours) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  /** Stop watching: the pipes close, the poll stops; the process itself runs on (engine shutdown). */
  release(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (this.child) {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
      this.child.removeAllListeners();
      this.child.unref();
      this.child = null;
    }
    this.exitListeners = [];
  }

  tail(): string[] {
    return this.recentOutput.slice(-LOG_TAIL_LINES);
  }

  private markExited(e: ExitInfo): void {
    if (this.exited) return;
    this.exited = e;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    for (const l of this.exitListeners.splice(0)) l(e);
  }

  private pipeOutput(child: ChildProcess, log: CappedLog, now: () => number): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > 8192) {
          lines.push(partial);
          partial = '';
        }
        const stamp = new Date(now()).toISOString();
        if (lines.length) log.write(lines.map((l) => `${stamp} ${l}\n`).join(''));
        this.remember(lines);
      });
      stream.on('end', () => {
        if (partial) {
          log.write(`${new Date(now()).toISOString()} ${partial}\n`);
          this.remember([partial]);
        }
        partial = '';
      });
      stream.on('error', () => undefined);
    }
  }

  private remember(lines: string[]): void {
    this.recentOutput.push(...lines.filter((l) => l.trim() !== ''));
    if (this.recentOutput.length > 4 * LOG_TAIL_LINES) this.recentOutput.splice(0, this.recentOutput.length - LOG_TAIL_LINES);
  }
}
