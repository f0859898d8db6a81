// A local VM whose vm.json cannot be used (issue 11 defect 3). It is not dropped: it is listed
// by id with the reason, its ports stay in the table (nothing releases them), its name stays
// reserved (VmStore), and a QEMU it left running is found by its pidfile and proved ours, so
// the list says it runs and a force stop can end it; if it ends on its own, the list says so. The user repairs the file (the next
// start or get reads it again) or deletes the VM.
import { capsOf, LOCAL_HOST, type PortEntry, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { vmSpecSchema, type VmSpec } from '../../../shared/spec';
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
    broken: { reason, file: b.file },
    name: b.name ?? b.id,
    spec: placeholderSpec(b),
    state: pid === null ? 'stopped' : 'running',
    reason,
    stateSince: since,
    pid,
    agent: 'unknown',
    ips: [],
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
