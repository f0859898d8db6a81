// One virtiofsd process: the helper that serves one shared folder to one running VM over a
// vhost-user socket in the VM's run dir. Spawned detached in its own process group (like QEMU),
// its output appended to a log file (not a pipe: it must outlive a short-lived engine), proved
// ours by /proc before it is adopted or killed, and watched for death.
//
// Read-only is enforced on the host: Debian 12's C virtiofsd has no read-only option, so a
// read-only share's virtiofsd runs in a private mount namespace (util-linux `unshare`) where the
// directory is bind-mounted onto itself read-only before virtiofsd starts. Whatever the guest
// asks (a write, `mount -o remount,rw`), the host kernel answers EROFS. The sandbox
// (sandbox=namespace: pivot_root into the shared directory) keeps every path, symlinks
// included, inside the directory.
import { closeSync, constants, openSync } from 'node:fs';
import { access, lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import type { SpawnFn } from '../qemu-process';
import { readStartTime } from '../qemu-process';
import { isPidAlive } from '../proc-identity';

/** Debian 12 ships the C virtiofsd here (qemu-system-common); later QEMUs dropped it for the Rust one. */
export const DEFAULT_VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
export function virtiofsdBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLOTILLA_VIRTIOFSD || DEFAULT_VIRTIOFSD;
}

/**
 * The read-only wrapper's script. It is a constant: the directory and virtiofsd's own arguments
 * reach it only as positional parameters ("$1", "$@"), never as text of the script, so no path
 * can become shell syntax. `unshare` has no "mount this, then exec" option, hence the shell.
 */
export const READ_ONLY_SCRIPT = 'set -e; mount --bind -- "$1" "$1"; mount -o remount,bind,ro -- "$1"; shift; exec "$@"';

/**
 * The wrapper's script for a user other than root ("$1" the directory, "$2" an empty mount point
 * the engine made in the VM's run dir, "$3" `ro` or `rw`, then virtiofsd and its arguments).
 * Debian 12's C virtiofsd writes a lock file into /var/run/virtiofsd, which only root may create,
 * and has no option to put it elsewhere. So in the share's own mount namespace a small tmpfs
 * covers /var/run, after the directory is bound onto the mount point, where virtiofsd serves it
 * from: that way a directory under /run (a removable drive in /run/media) stays reachable. The
 * mount namespace and the tmpfs exist for this one process only.
 */
export const USER_SCRIPT =
  'set -e; if [ "$3" = ro ]; then mount --bind -- "$1" "$2"; mount -o remount,bind,ro -- "$2"; else mount --rbind -- "$1" "$2"; fi; ' +
  'mount -t tmpfs -o mode=0755,size=1m flotilla-virtiofsd /var/run; shift 3; exec "$@"';

export interface VirtiofsdPlan {
  file: string;
  args: string[];
}

/** A block of subordinate ids (/etc/subuid, /etc/subgid). */
export interface IdRange {
  start: number;
  count: number;
}

/**
 * Who virtiofsd runs as. Root needs no user namespace. Any other user runs it in one, where it is
 * root (mapped to the user: what the guest's root writes is the user's on the host). virtiofsd
 * drops its supplementary groups there, which the kernel allows only when the id maps were
 * written by newuidmap/newgidmap (package uidmap) from the user's subordinate ids, which also
 * map the guest's other users (1…count) to them. Without those, `--map-root-user` is all that is
 * left, and it works only for a process with no supplementary groups.
 */
export type VirtiofsdUser = { root: true } | { root: false; mountPoint: string; subIds: { uids: IdRange; gids: IdRange } | null };

/** What to spawn for one share. */
export function virtiofsdPlan(o: { binary: string; sock: string; dir: string; readOnly: boolean; user: VirtiofsdUser }): VirtiofsdPlan {
  const own = (source: string): string[] => [`--socket-path=${o.sock}`, '-o', `source=${source}`, '-o', 'sandbox=namespace', '-o', 'cache=auto', '-o', 'no_xattr'];
  const ns = ['--mount', '--propagation', 'private'];
  const u = o.user;
  if (u.root) {
    if (!o.readOnly) return { file: o.binary, args: own(o.dir) };
    return { file: 'unshare', args: [...ns, '--', '/bin/sh', '-c', READ_ONLY_SCRIPT, 'flotilla-share-ro', o.dir, o.binary, ...own(o.dir)] };
  }
  // at most 65535 more ids: uid 65535 itself is left unmapped, as the kernel's overflow id
  const block = (r: IdRange): string => `${r.start},1,${Math.min(r.count, 65535)}`;
  const maps = u.subIds ? ['--map-user=0', '--map-group=0', `--map-users=${block(u.subIds.uids)}`, `--map-groups=${block(u.subIds.gids)}`] : ['--map-root-user'];
  return {
    file: 'unshare',
    args: [...maps, ...ns, '--', '/bin/sh', '-c', USER_SCRIPT, 'flotilla-share', o.dir, u.mountPoint, o.readOnly ? 'ro' : 'rw', o.binary, ...own(u.mountPoint)],
  };
}

/** The first block of subordinate ids of user `name` (or uid `id`) in the text of /etc/subuid or /etc/subgid. */
export function subordinateIds(text: string, name: string | null, id: number): IdRange | null {
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who === undefined || start === undefined || count === undefined || (who !== name && who !== String(id))) continue;
    const r = { start: Number(start), count: Number(count) };
    if (Number.isSafeInteger(r.start) && Number.isSafeInteger(r.count) && r.start > 0 && r.count > 0) return r;
  }
  return null;
}

/** This user's subordinate ids, when newuidmap and newgidmap can apply them; null otherwise. */
export async function ownSubordinateIds(): Promise<{ uids: IdRange; gids: IdRange } | null> {
  const tools = await Promise.all(['/usr/bin/newuidmap', '/usr/bin/newgidmap'].map((f) => access(f, constants.X_OK).then(() => true, () => false)));
  if (tools.includes(false)) return null;
  const { username, uid, gid } = userInfo();
  const groupName = await readFile('/etc/group', 'utf8').then((t) => t.split('\n').find((l) => l.split(':')[2] === String(gid))?.split(':')[0] ?? null, () => null);
  const [subuid, subgid] = await Promise.all(['/etc/subuid', '/etc/subgid'].map((f) => readFile(f, 'utf8').catch(() => '')));
  // newgidmap checks the group block against the user's name (or uid), like newuidmap
  const uids = subordinateIds(subuid!, username, uid);
  const gids = subordinateIds(subgid!, username, uid) ?? subordinateIds(subgid!, groupName, gid);
  return uids && gids ? { uids, gids } : null;
}

/** What to tell a user whose share could not start because virtiofsd could not drop its groups. */
export const SUBIDS_HINT =
  'shared folders as a user other than root need the user\'s subordinate ids applied by newuidmap/newgidmap: install the package uidmap and give the user a block in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER)';

/** Is `pid` a live virtiofsd serving exactly this socket? (exe, then the exact --socket-path argument) */
export async function isOurVirtiofsd(pid: number, sock: string): Promise<{ ours: true } | { ours: false; why: string }> {
  if (!(await isPidAlive(pid))) return { ours: false, why: `process ${pid} is not running` };
  try {
    const exe = basename((await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, ''));
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    if (!exe.startsWith('virtiofsd')) return { ours: false, why: `process ${pid} is ${exe}, not virtiofsd` };
    if (!cmdline.includes(`--socket-path=${sock}`)) return { ours: false, why: `process ${pid} serves another socket` };
    return { ours: true };
  } catch (err) {
    return { ours: false, why: `cannot inspect process ${pid}: ${(err as Error).message}` };
  }
}

/**
 * virtiofsd processes serving a socket in `runDir` (`--socket-path=<runDir>/fs<N>.sock`), for the
 * window where an engine died after spawning one but before its pid reached the runtime record.
 * Matching the VM's own run dir (not a process name) is what makes this safe. A helper's
 * sandbox child (same command line, forked into new namespaces) is left to die with its parent.
 */
export async function findVirtiofsdsIn(runDir: string): Promise<{ pid: number; sock: string }[]> {
  const out: { pid: number; sock: string }[] = [];
  const prefix = `--socket-path=${runDir}/fs`;
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const arg = (await readFile(`/proc/${e}/cmdline`, 'utf8')).split('\0').find((a) => a.startsWith(prefix));
      if (!arg || !/^fs\d+\.sock$/.test(arg.slice(prefix.length - 2))) continue;
      const sock = arg.slice('--socket-path='.length);
      if ((await isOurVirtiofsd(Number(e), sock)).ours) out.push({ pid: Number(e), sock });
    } catch {
      /* gone */
    }
  }
  const pids = new Set(out.map((p) => p.pid));
  const parents = await Promise.all(out.map(async (p) => Number((await readFile(`/proc/${p.pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ')[1])));
  return out.filter((_, i) => !pids.has(parents[i]!));
}

const POLL_MS = 1000;

export class Virtiofsd {
  exited: { code: number | null; signal: string | null } | null = null;
  private listeners: ((e: { code: number | null; signal: string | null }) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private constructor(
    readonly pid: number,
    readonly sock: string,
    private startTime: number | null,
  ) {}

  /** Spawn it (socket created 0600 from birth through the umask), logging to `logFile`. */
  static spawn(spawn: SpawnFn, plan: VirtiofsdPlan, sock: string, logFile: string, cwd: string): Virtiofsd {
    const fd = openSync(logFile, 'a', 0o600);
    const oldUmask = process.umask(0o077);
    try {
      const child = spawn(plan.file, plan.args, { detached: true, stdio: ['ignore', fd, fd], cwd });
      if (child.pid === undefined) throw new Error(`could not run ${plan.file}`);
      const proc = new Virtiofsd(child.pid, sock, null);
      child.once('exit', (code, signal) => proc.markExited({ code, signal }));
      child.once('error', () => proc.markExited({ code: 127, signal: null }));
      // the engine's exit must not wait for it, nor take it down
      child.unref();
      return proc;
    } finally {
      process.umask(oldUmask);
      closeSync(fd);
    }
  }

  /** A live virtiofsd an earlier engine started (the caller proved it ours). */
  static async adopt(pid: number, sock: string): Promise<Virtiofsd> {
    const proc = new Virtiofsd(pid, sock, await readStartTime(pid));
    proc.timer = setInterval(() => void proc.checkAlive(), POLL_MS);
    proc.timer.unref();
    return proc;
  }

  onExit(cb: (e: { code: number | null; signal: string | null }) => void): void {
    if (this.exited) cb(this.exited);
    else this.listeners.push(cb);
  }

  async checkAlive(): Promise<boolean> {
    if (this.exited) return false;
    const alive = (await isPidAlive(this.pid)) && (this.startTime === null || (await readStartTime(this.pid)) === this.startTime);
    if (!alive) this.markExited({ code: null, signal: null });
    return alive;
  }

  /** Resolves once its socket exists; rejects with its log's last lines if it dies first or `ms` pass. */
  async waitSocket(ms: number, logTail: () => Promise<string>, signal?: AbortSignal): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const st = await lstat(this.sock).catch(() => null);
      if (st?.isSocket()) return;
      if (this.exited) throw new Error(`virtiofsd exited before serving the share: ${(await logTail()) || `exit code ${String(this.exited.code)}`}`);
      if (Date.now() > until || signal?.aborted) throw new Error(`virtiofsd did not create ${this.sock} in time: ${await logTail()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM its process group (its sandboxed child dies with it), proved ours first; SIGKILL if it lingers. */
  async kill(): Promise<void> {
    if (this.exited) return;
    if (!(await isOurVirtiofsd(this.pid, this.sock)).ours) return this.markExited({ code: null, signal: null });
    const send = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-this.pid, sig);
      } catch {
        try {
          process.kill(this.pid, sig);
        } catch {
          /* gone */
        }
      }
    };
    send('SIGTERM');
    for (let i = 0; i < 50 && (await this.checkAlive()); i++) await new Promise((r) => setTimeout(r, 20));
    if (await this.checkAlive()) send('SIGKILL');
  }

  /** Stop watching (engine shutdown): the process runs on. */
  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners = [];
  }

  private markExited(e: { code: number | null; signal: string | null }): void {
    if (this.exited) return;
    this.exited = e;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const l of this.listeners.splice(0)) l(e);
  }
}
