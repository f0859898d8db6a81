// A local VM whose vm.json cannot be used (issue 11 defect 3). It is not dropped: it is listed
// by id with the reason, its ports stay in the table (nothing releases them), its name stays
// reserved (VmStore), and a QEMU it left running is found by its pidfile and proved ours, so
// the list says it runs and a force stop can end it; if it ends on its own, the list says so. The user repairs the file (the next
// start or get reads it again) or deletes the VM. BrokenVms is the local host's table of them.
import { capsOf, LOCAL_HOST, type PortEntry, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { NO_SETTINGS, vmSpecSchema, type VmSpec } from '../../../shared/spec';
import type { HomeLayout } from '../paths';
import { isOurQemu, isPidAlive, readPidFile } from '../proc-identity';
import type { BrokenSpec } from '../vm-store';

/** A live QEMU of this VM, proved by /proc as the supervisor proves it before adoption. */
export async function liveQemuOf(layout: HomeLayout, id: string): Promise<number | null> {
  const pid = await readPidFile(layout.pidFile(id));
  if (pid === null) return null;
  return (await isOurQemu(pid, layout.qmpSock(id))).ours ? pid : null;
}

/** Placeholders for a spec that cannot be read: the UI shows `broken`, not these. */
function placeholderSpec(b: BrokenSpec): VmSpec {
  // parsed, so every field a later spec gains gets its default here too
  return vmSpecSchema.parse({ id: b.id, name: b.name ?? b.id, createdAt: '', source: { kind: 'default' } });
}

export function brokenInfo(b: BrokenSpec, pid: number | null, ports: PortEntry[], since: string): VmInfo {
  const reason = pid === null ? b.reason : `${b.reason}. Its QEMU (pid ${pid}) is still running: force-stop it first, or repair the file and start it to take it back`;
  return {
    id: b.id,
    host: LOCAL_HOST,
    // all it can do is be deleted (or force-stopped while its QEMU runs)
    caps: capsOf([]),
    settings: NO_SETTINGS,
    broken: { reason, file: b.file },
    name: b.name ?? b.id,
    spec: placeholderSpec(b),
    state: pid === null ? 'stopped' : 'running',
    reason,
    stateSince: since,
    pid,
    agent: 'unknown',
    ips: [],
    guestOs: null,
    ports,
    hasDisplay: false,
    progress: null,
    lastExit: null,
    lastDiskCheck: null,
    adopted: false,
    qmpHealthy: pid === null,
    stopDeadline: null,
    agentLastSeen: null,
  };
}

/** Force-stop the QEMU a broken VM left running: SIGKILL after proving it is ours, then wait for it to go. */
export async function killBrokenQemu(layout: HomeLayout, id: string): Promise<void> {
  const pid = await liveQemuOf(layout, id);
  if (pid === null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    throw new FlotillaError('INTERNAL', `could not stop QEMU ${pid}: ${(err as Error).message}`);
  }
  while (await isPidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Calls onExit once `pid` is gone. A broken VM's QEMU is not supervised (nothing holds its QMP),
 * so /proc is polled: Node has no pidfd, and a QMP connection would take the one the repair's
 * adoption needs. Returns the function that stops watching.
 */
export function watchPidExit(pid: number, onExit: () => void, intervalMs = 2000): () => void {
  let stopped = false;
  const timer = setInterval(() => {
    void isPidAlive(pid).then((alive) => {
      if (alive || stopped) return;
      stop();
      onExit();
    });
  }, intervalMs);
  timer.unref();
  const stop = (): void => {
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}

interface BrokenEntry {
  pid: number | null;
  since: string;
  unwatch?: () => void;
}

/**
 * The local host's broken VMs (unreadable vm.json) and the pid of a QEMU each left running,
 * watched so that its own exit shows as stopped. local-host.ts lists, repairs and deletes
 * through it.
 */
export class BrokenVms {
  private readonly entries = new Map<string, BrokenEntry>();

  constructor(
    private readonly d: {
      layout: HomeLayout;
      /** the store's broken specs (VmStore.broken) */
      specs: () => ReadonlyMap<string, BrokenSpec>;
      ports: (id: string) => PortEntry[];
      now: () => number;
      /** the VM's info changed (its QEMU ended) */
      changed: (id: string) => void;
    },
  ) {}

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  /** At engine start: every broken spec the store found, with its QEMU if one is ours and alive. */
  async load(since: string): Promise<void> {
    for (const id of this.d.specs().keys()) this.setPid(id, await liveQemuOf(this.d.layout, id), since);
  }

  info(id: string): VmInfo {
    const b = this.d.specs().get(id);
    const live = this.entries.get(id);
    if (!b || !live) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return brokenInfo(b, live.pid, this.d.ports(id), live.since);
  }

  /** Record a broken VM's QEMU (or none), watching it so that its own exit shows as stopped. */
  setPid(id: string, pid: number | null, since: string): void {
    this.entries.get(id)?.unwatch?.();
    const entry: BrokenEntry = { pid, since };
    if (pid !== null) {
      entry.unwatch = watchPidExit(pid, () => {
        if (this.entries.get(id) !== entry) return;
        this.setPid(id, null, new Date(this.d.now()).toISOString());
        this.d.changed(id);
      });
    }
    this.entries.set(id, entry);
  }

  /** Force-stop a broken VM's QEMU (proved ours first) and show it stopped. */
  async forceStop(id: string): Promise<void> {
    await killBrokenQemu(this.d.layout, id);
    if (this.entries.has(id)) this.setPid(id, null, new Date(this.d.now()).toISOString());
    this.d.changed(id);
  }

  /** Refuse while its QEMU runs: deleting the files under a live QEMU would orphan it. */
  async assertDeletable(id: string): Promise<void> {
    const pid = await liveQemuOf(this.d.layout, id);
    if (pid !== null) throw new FlotillaError('INVALID_STATE', `its QEMU (pid ${pid}) is still running: force-stop it before deleting it`, { broken: true });
  }

  drop(id: string): void {
    this.entries.get(id)?.unwatch?.();
    this.entries.delete(id);
  }

  /** Stop watching every QEMU (engine close). */
  close(): void {
    for (const b of this.entries.values()) b.unwatch?.();
  }
}
