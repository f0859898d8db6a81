// What a start needs besides the QEMU process itself: the resources QEMU's arguments name
// (sockets, the default guest's kernel, its own disk and SSH keys, a reference disk's format,
// the UEFI variable store),
// the run state a QMP status means, and the host port a failed hostfwd names.
import type { VmSpec } from '../../shared/spec';
import { ensureRootDisk, userPublicKeys, writeAuthorizedKeys } from './builtin-vm';
import { ensureOwnKey } from './own-ssh-key';
import { ensureOvmfVars } from './firmware-vars';
import { qemuImgInfo } from './images';
import type { HomeLayout } from './paths';
import { shareListText, VM_DISK_FILE, type DefaultGuestBoot, type QemuResources } from './qemu-args';
import { cleanRunFiles } from './qemu-process';
import { SHARE_LIST_FILE, SHARES_PARAM, type ShareHelpers } from './shares/share-helpers';
import { writeFileAtomic } from './atomic-file';
import { step } from './vm-job-queue';
import { join } from 'node:path';

/** The host port QEMU could not bind, from its "Could not set up host forwarding rule" error. */
export function parseHostfwdFailure(lines: readonly string[]): { proto: 'tcp' | 'udp'; hostPort: number } | null {
  for (const l of lines) {
    const m = /Could not set up host forwarding rule '(tcp|udp):[^:']*:(\d+)-/.exec(l);
    if (m) return { proto: m[1] as 'tcp' | 'udp', hostPort: Number(m[2]) };
  }
  return null;
}

/**
 * Our state for a QMP run status: only 'running' runs guest code; every other status
 * (paused, prelaunch, suspended, inmigrate, io-error, ...) is paused. Spawn, adoption and
 * the health probe must agree, or an adopted VM flips state on the next probe.
 */
export function vmStateOfStatus(status: string): 'running' | 'paused' {
  return status === 'running' ? 'running' : 'paused';
}

export interface LaunchEnv {
  layout: HomeLayout;
  qemuBinary: string;
  accel: 'kvm' | 'tcg' | 'kvm:tcg';
  defaultGuest: (vmName: string) => Promise<DefaultGuestBoot>;
  /** records a built-in VM's disk in its spec when the start made it */
  setDisks?: (id: string, disks: string[]) => Promise<unknown>;
  userPublicKeys?: () => Promise<string[]>;
  /** the VM's lifecycle log */
  log?: (text: string) => void;
}

/**
 * Everything but the forwards: a clean run dir and the paths and formats QEMU's arguments name.
 *
 * A force stop aborts the start through `signal`. Only the wait for the default guest (which may
 * be building, minutes) is let go of at once; every other step is short, and the start job waits
 * for it to end before it cleans up. After each step this looks at `signal` and writes nothing
 * more once the start is aborted, so no disk, spec or key file of the VM is written after the
 * aborted start's cleanup, or into a VM deleted since.
 */
export async function launchResources(env: LaunchEnv, id: string, spec: VmSpec, signal: AbortSignal): Promise<Omit<QemuResources, 'forwards'>> {
  const { layout } = env;
  const stillWanted = (): void => signal.throwIfAborted();
  stillWanted();
  await layout.ensureRunDir(id);
  await cleanRunFiles(layout, id);
  const vmDir = layout.vmDir(id);
  const res: Omit<QemuResources, 'forwards'> = {
    qemuBinary: env.qemuBinary,
    accel: env.accel,
    qmpSock: layout.qmpSock(id),
    serialSock: layout.serialSock(id),
    agentSock: layout.agentSock(id),
    vncSock: layout.vncSock(id),
    pidFile: layout.pidFile(id),
    vmDir,
  };
  const src = spec.source;
  if (src.kind === 'default') {
    res.defaultGuest = await step(signal, env.defaultGuest(spec.name));
    // its own disk: made here for a VM from before built-in VMs had one, or whose file was removed
    // (the disk and its line in the spec are one step: no look at the signal between them)
    if ((await ensureRootDisk(vmDir, spec)) && !spec.disks.length) await env.setDisks?.(id, [VM_DISK_FILE]);
    // the user's own keys and Flotilla's (own-ssh-key.ts: `flotilla ssh` works without a key of one's own)
    const own = await ensureOwnKey(env.layout.home, env.log);
    const userKeys = await (env.userPublicKeys ?? userPublicKeys)();
    stillWanted();
    const keys = await writeAuthorizedKeys(vmDir, spec, [...userKeys, ...(own ? [own.publicKey] : [])]);
    if (keys) res.authorizedKeys = keys;
  }
  if (src.kind === 'disk' && src.mode === 'reference') res.referenceDiskFormat = (await qemuImgInfo(src.path)).format;
  if (src.kind === 'kernel' && src.disk) res.referenceDiskFormat = (await qemuImgInfo(src.disk)).format;
  stillWanted();
  // normally made at create time; made here for a VM from before qcow2 VARS or whose file was removed
  if (spec.firmware === 'uefi') res.ovmfVars = await ensureOvmfVars(vmDir);
  return res;
}

/**
 * The shared folders' part of a start: their virtiofsd helpers, each socket ready before QEMU
 * connects, and for the built-in Linux the list of tags it mounts (read from fw_cfg, not the
 * kernel command line, so nothing of it is ever parsed as a kernel or shell argument).
 */
export async function shareResources(
  vm: { id: string; shareHelpers: ShareHelpers; deps: { layout: HomeLayout } },
  spec: VmSpec,
  res: Pick<QemuResources, 'defaultGuest'>,
  signal: AbortSignal,
): Promise<Pick<QemuResources, 'shares' | 'shareList' | 'defaultGuest'>> {
  const shares = spec.shares ?? [];
  const out: Pick<QemuResources, 'shares' | 'shareList' | 'defaultGuest'> = { shares: await vm.shareHelpers.startAll(shares, signal) };
  if (spec.source.kind === 'default' && res.defaultGuest) {
    out.shareList = join(vm.deps.layout.runDir(vm.id), SHARE_LIST_FILE);
    await writeFileAtomic(out.shareList, shareListText(shares), 0o600);
    // tells the guest's init to read the list before its agent starts (VMs without shares skip that)
    if (!/(^| )flotilla\.shares=1( |$)/.test(res.defaultGuest.append)) out.defaultGuest = { ...res.defaultGuest, append: `${res.defaultGuest.append} ${SHARES_PARAM}` };
  }
  return out;
}
