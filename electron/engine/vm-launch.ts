// What a start needs besides the QEMU process itself: the resources QEMU's arguments name
// (sockets, the default guest's kernel, a reference disk's format, the UEFI variable store),
// the run state a QMP status means, and the host port a failed hostfwd names.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmSpec } from '../../shared/spec';
import { qemuImgInfo } from './images';
import type { HomeLayout } from './paths';
import { OVMF_VARS_FILE, OVMF_VARS_TEMPLATE, type DefaultGuestBoot, type QemuResources } from './qemu-args';
import { cleanRunFiles } from './qemu-process';

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

/** Lines of our timestamped logs are "<ISO time> <text>". */
export function stripStamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '');
}

export interface LaunchEnv {
  layout: HomeLayout;
  qemuBinary: string;
  accel: 'kvm' | 'tcg' | 'kvm:tcg';
  defaultGuest: (vmName: string) => Promise<DefaultGuestBoot>;
}

/** Everything but the forwards: a clean run dir and the paths and formats QEMU's arguments name. */
export async function launchResources(env: LaunchEnv, id: string, spec: VmSpec): Promise<Omit<QemuResources, 'forwards'>> {
  const { layout } = env;
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
  if (src.kind === 'default') res.defaultGuest = await env.defaultGuest(spec.name);
  if (src.kind === 'disk' && src.mode === 'reference') res.referenceDiskFormat = (await qemuImgInfo(src.path)).format;
  if (src.kind === 'kernel' && src.disk) res.referenceDiskFormat = (await qemuImgInfo(src.disk)).format;
  if (spec.firmware === 'uefi') {
    const vars = join(vmDir, OVMF_VARS_FILE);
    // normally copied at create time; recreate if the user removed it
    await copyFile(OVMF_VARS_TEMPLATE, vars, 1 /* COPYFILE_EXCL */).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    res.ovmfVars = vars;
  }
  return res;
}
