// KVM or emulation, and why. Without KVM every VM is emulated (TCG), many times slower, and the
// user must be told why, in words that say what to change: a missing module, a CPU (or an outer
// VM) without virtualization, or a /dev/kvm this user may not open.
import { constants as fsConstants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';

export interface AccelChoice {
  accel: 'kvm:tcg' | 'tcg';
  /** why VMs are emulated, what to change; null when KVM is used */
  why: string | null;
}

export interface AccelProbe {
  kvmPath?: string;
  cpuinfoPath?: string;
  groupPath?: string;
}

/** The name of group `gid` in /etc/group, or null. */
async function groupName(gid: number, groupPath: string): Promise<string | null> {
  const text = await readFile(groupPath, 'utf8').catch(() => '');
  return text.split('\n').find((l) => l.split(':')[2] === String(gid))?.split(':')[0] ?? null;
}

/** What to tell a user who may not open the device: join its group, or fix a root-only device. */
export async function noAccessReason(path: string, st: { mode: number; gid: number }, groupPath = '/etc/group'): Promise<string> {
  const group = st.gid === 0 ? null : await groupName(st.gid, groupPath);
  if (group && (st.mode & 0o060) === 0o060) {
    return `you may not open ${path}: add yourself to the group ${group} (sudo usermod -aG ${group} $USER), then log out and in again`;
  }
  return `${path} is for root only here (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): install your distribution's udev rule for KVM (group kvm, mode 0660), or ask your administrator`;
}

/**
 * KVM is used when /dev/kvm opens read-write AND the CPU advertises hardware virtualization
 * (vmx/svm). Some sandboxes expose a /dev/kvm whose vCPUs then fail ("failed to set MSR"), and
 * QEMU's `-accel kvm -accel tcg` fallback only covers a failing KVM *init*, so the CPU flag check
 * keeps those hosts on TCG. FLOTILLA_ACCEL=kvm|tcg overrides the choice.
 */
export async function detectAccel(env: NodeJS.ProcessEnv = process.env, probe: AccelProbe = {}): Promise<AccelChoice> {
  const kvm = probe.kvmPath ?? '/dev/kvm';
  if (env.FLOTILLA_ACCEL === 'tcg') return { accel: 'tcg', why: 'FLOTILLA_ACCEL=tcg asks for emulation' };
  if (env.FLOTILLA_ACCEL === 'kvm') return { accel: 'kvm:tcg', why: null };
  const st = await stat(kvm).catch(() => null);
  if (!st) {
    return { accel: 'tcg', why: `${kvm} does not exist: turn on virtualization (VT-x or AMD-V) in the computer's firmware settings and load the kvm module (kvm_intel or kvm_amd)` };
  }
  const cpuinfo = await readFile(probe.cpuinfoPath ?? '/proc/cpuinfo', 'utf8').catch(() => '');
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) {
    return { accel: 'tcg', why: 'this CPU offers no hardware virtualization (no vmx or svm flag in /proc/cpuinfo); inside another VM, turn on nested virtualization there' };
  }
  try {
    await access(kvm, fsConstants.R_OK | fsConstants.W_OK);
    return { accel: 'kvm:tcg', why: null };
  } catch {
    return { accel: 'tcg', why: await noAccessReason(kvm, st, probe.groupPath) };
  }
}
