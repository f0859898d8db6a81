// The virtiofsd helpers of one VM, supervised like its QEMU: started (socket ready) before QEMU
// connects, their pids kept in the VM's runtime record, proved ours by /proc and adopted by the
// next engine, killed and their sockets removed when the VM stops, and a death while the VM
// runs reported in the VM's lifecycle log and in its ShareInfo state.
import { mkdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ShareInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { Share } from '../../../shared/spec';
import type { HomeLayout } from '../paths';
import type { SpawnFn } from '../qemu-process';
import { describeExit } from '../exit-policy';
import type { RuntimeRecord } from '../runtime-record';
import { findVirtiofsdsIn, isOurVirtiofsd, ownSubordinateIds, SUBIDS_HINT, Virtiofsd, virtiofsdBinary, virtiofsdPlan, type VirtiofsdUser } from './virtiofsd';

/** What QEMU's arguments need per share. */
export interface QemuShare {
  tag: string;
  sock: string;
  readOnly: boolean;
}

export interface ShareHelpersHost {
  id: string;
  layout: HomeLayout;
  spawn: SpawnFn;
  record(): RuntimeRecord;
  saveRecord(): void;
  log(text: string): void;
  changed(): void;
  /** the VM's QEMU is alive: a helper's exit now is a death, not the end of the VM */
  qemuAlive(): Promise<boolean>;
}

const SOCKET_WAIT_MS = 10_000;
/** In the run dir: the built-in Linux's list of shares to mount (fw_cfg), written at each start. */
export const SHARE_LIST_FILE = 'shares.list';
/** On the built-in Linux's kernel command line when it has shares: its init then mounts them. */
export const SHARES_PARAM = 'flotilla.shares=1';

/** The mount command a user types in a guest other than the built-in Linux. */
export function mountCommand(s: Pick<Share, 'tag' | 'readOnly'>): string {
  return `mkdir -p /mnt/${s.tag} && mount -t virtiofs${s.readOnly ? ' -o ro' : ''} ${s.tag} /mnt/${s.tag}`;
}

/**
 * The directory a share serves, checked again at every start: it must still be a directory and
 * still resolve to itself (a path swapped for a symlink since it was added would expose
 * somewhere the user never named).
 */
export async function checkShareDir(s: Share): Promise<void> {
  const st = await stat(s.hostPath).catch(() => null);
  if (!st) throw new FlotillaError('FILE_NOT_FOUND', `shared folder ${s.tag}: ${s.hostPath} does not exist`, { path: s.hostPath, field: 'shares' });
  if (!st.isDirectory()) throw new FlotillaError('WRONG_FILE_TYPE', `shared folder ${s.tag}: ${s.hostPath} is not a directory`, { path: s.hostPath, expected: 'dir', found: 'file' });
  const real = await realpath(s.hostPath);
  if (real !== s.hostPath) throw new FlotillaError('INVALID_STATE', `shared folder ${s.tag}: ${s.hostPath} now leads to ${real} (a symlink); remove the share and add the directory you mean`, { path: s.hostPath });
}

export class ShareHelpers {
  private readonly procs = new Map<string, Virtiofsd>();
  private readonly dead = new Map<string, string>();
  private stopping = false;

  constructor(private readonly h: ShareHelpersHost) {}

  private sock(index: number): string {
    return join(this.h.layout.runDir(this.h.id), `fs${index}.sock`);
  }

  /** Who share `index`'s virtiofsd runs as (virtiofsd.ts): root as itself, any other user in a user namespace. */
  private async user(index: number): Promise<VirtiofsdUser> {
    if (process.geteuid?.() === 0) return { root: true };
    const mountPoint = join(this.h.layout.runDir(this.h.id), `fs${index}.src`);
    await mkdir(mountPoint, { recursive: true, mode: 0o700 });
    return { root: false, mountPoint, subIds: await ownSubordinateIds() };
  }

  /** Start one helper per share and wait for each socket; on any failure none is left running. */
  async startAll(shares: readonly Share[], signal: AbortSignal): Promise<QemuShare[]> {
    await this.stopAll();
    const out: QemuShare[] = [];
    try {
      for (const [i, s] of shares.entries()) {
        if (signal.aborted) throw new FlotillaError('ABORTED', 'start aborted');
        await checkShareDir(s);
        const sock = this.sock(i);
        await rm(sock, { force: true });
        const plan = virtiofsdPlan({ binary: virtiofsdBinary(), sock, dir: s.hostPath, readOnly: s.readOnly, user: await this.user(i) });
        const logFile = join(this.h.layout.vmLogsDir(this.h.id), `virtiofsd-${s.tag}.log`);
        await rm(logFile, { force: true });
        const proc = Virtiofsd.spawn(this.h.spawn, plan, sock, logFile, this.h.layout.runDir(this.h.id));
        this.watch(s.tag, proc);
        this.h.record().shareHelpers.push({ tag: s.tag, pid: proc.pid, sock });
        this.h.saveRecord();
        const tail = async () => (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
        await proc.waitSocket(SOCKET_WAIT_MS, tail, signal).catch((err: unknown) => {
          const why = (err as Error).message;
          throw new FlotillaError('QEMU_FAILED', `shared folder ${s.tag} (${s.hostPath}): ${why}${/setgroups\(\) failed/.test(why) ? `; ${SUBIDS_HINT}` : ''}`);
        });
        this.h.log(`share ${s.tag}: virtiofsd (pid ${proc.pid}) serves ${s.hostPath}${s.readOnly ? ' read-only' : ''}`);
        out.push({ tag: s.tag, sock, readOnly: s.readOnly });
      }
    } catch (err) {
      await this.stopAll();
      throw err;
    }
    return out;
  }

  /** Engine start found the VM's QEMU alive: take over the helpers the record names, proved ours. */
  async adopt(): Promise<void> {
    const rec = this.h.record();
    for (const r of rec.shareHelpers) {
      const verdict = await isOurVirtiofsd(r.pid, r.sock);
      if (!verdict.ours) {
        this.dead.set(r.tag, `its virtiofsd (pid ${r.pid}) was gone when the engine started`);
        this.h.log(`share ${r.tag}: not adopting: ${verdict.why}`);
        continue;
      }
      const proc = await Virtiofsd.adopt(r.pid, r.sock);
      this.watch(r.tag, proc);
      this.h.log(`share ${r.tag}: adopted virtiofsd (pid ${r.pid})`);
    }
  }

  /** Engine start found no QEMU: end helpers an earlier engine left (proved ours), forget them. */
  async reapLeftovers(): Promise<void> {
    const rec = this.h.record();
    // and any the record never heard of (an engine killed between spawn and its record write)
    const known = new Set(rec.shareHelpers.map((r) => r.pid));
    const strays = (await findVirtiofsdsIn(this.h.layout.runDir(this.h.id))).filter((p) => !known.has(p.pid));
    for (const r of [...rec.shareHelpers, ...strays.map((p) => ({ tag: `(unrecorded, ${basename(p.sock)})`, ...p }))]) {
      if ((await isOurVirtiofsd(r.pid, r.sock)).ours) {
        const proc = await Virtiofsd.adopt(r.pid, r.sock);
        await proc.kill();
        proc.release();
        this.h.log(`share ${r.tag}: ended virtiofsd (pid ${r.pid}) left by the VM's last run`);
      }
      await rm(r.sock, { force: true });
    }
    if (rec.shareHelpers.length) {
      rec.shareHelpers = [];
      this.h.saveRecord();
    }
  }

  /** The VM stopped (or its start failed): end every helper, remove the sockets, forget them. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    try {
      for (const [, proc] of this.procs) {
        await proc.kill();
        proc.release();
        await rm(proc.sock, { force: true });
      }
      this.procs.clear();
      this.dead.clear();
      await rm(join(this.h.layout.runDir(this.h.id), SHARE_LIST_FILE), { force: true });
      const rec = this.h.record();
      if (rec.shareHelpers.length) {
        for (const r of rec.shareHelpers) await rm(r.sock, { force: true });
        rec.shareHelpers = [];
        this.h.saveRecord();
      }
    } finally {
      this.stopping = false;
    }
  }

  /** Engine shutdown: stop watching; the helpers run on with their VM. */
  release(): void {
    for (const p of this.procs.values()) p.release();
    this.procs.clear();
  }

  info(s: Share, vmActive: boolean, builtIn: boolean): ShareInfo {
    const proc = this.procs.get(s.tag);
    const deadWhy = this.dead.get(s.tag) ?? null;
    const running = vmActive && proc !== undefined && proc.exited === null;
    return {
      tag: s.tag,
      hostPath: s.hostPath,
      readOnly: s.readOnly,
      state: !vmActive ? 'inactive' : running ? 'running' : 'dead',
      pid: running ? proc.pid : null,
      reason: vmActive && !running ? (deadWhy ?? 'its virtiofsd is not running') : null,
      guestPath: builtIn ? `/mnt/${s.tag}` : null,
      mountCommand: mountCommand(s),
    };
  }

  private watch(tag: string, proc: Virtiofsd): void {
    this.procs.set(tag, proc);
    proc.onExit((e) => {
      if (this.stopping || this.procs.get(tag) !== proc) return;
      const why = `its virtiofsd (pid ${proc.pid}) died: ${e.code === null && e.signal === null ? 'it is gone' : describeExit(e.code, e.signal)}`;
      this.dead.set(tag, why);
      // QEMU's end closes the vhost-user connection and virtiofsd exits with it: that is the
      // VM stopping, which settles the helpers itself. Only a helper that dies under a live QEMU is news.
      void (async () => {
        await new Promise((r) => setTimeout(r, 300));
        if (this.stopping || this.procs.get(tag) !== proc || !(await this.h.qemuAlive())) return;
        this.h.log(`share ${tag}: ${why}; /mnt/${tag} in the guest fails until the VM is restarted`);
        this.h.changed();
      })();
    });
  }
}
