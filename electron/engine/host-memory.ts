// The host's memory, as the engine weighs VMs against it: a VM may not ask for more memory than
// the machine has (refused at create and update, with the numbers), and starting one that could
// push the running VMs past the memory still available gives a warning with the numbers (QEMU
// allocates guest memory lazily, so a start itself succeeds and the trouble comes later, as
// swapping or the OOM killer picking a VM).
import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../../shared/errors';
import { isActive, type VmState } from '../../shared/state';

export interface HostMemory {
  totalMiB: number;
  /** MemAvailable: what can be claimed without swapping */
  availableMiB: number;
}

/** Parses /proc/meminfo (values in kB). */
export function parseMeminfo(text: string): HostMemory {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/meminfo has no ${key}`);
    return Number(m[1]);
  };
  return { totalMiB: Math.floor(kb('MemTotal') / 1024), availableMiB: Math.floor(kb('MemAvailable') / 1024) };
}

export async function readHostMemory(path = '/proc/meminfo'): Promise<HostMemory> {
  return parseMeminfo(await readFile(path, 'utf8'));
}

/** Resident memory of a process in MiB, or null if it is gone. */
export async function readRssMiB(pid: number): Promise<number | null> {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.floor(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** Refuses a memory size larger than the host's, as a field error on `memoryMiB`. */
export function assertMemoryFits(memoryMiB: number, host: HostMemory, path: string[] = ['memoryMiB']): void {
  if (memoryMiB <= host.totalMiB) return;
  throw invalidArgument([
    {
      path,
      message: `memory of ${memoryMiB} MiB is more than this machine has (${host.totalMiB} MiB); choose at most ${host.totalMiB} MiB`,
    },
  ]);
}

export interface RunningVm {
  name: string;
  memoryMiB: number;
  /** what its QEMU holds now; null if unknown (counted as nothing yet) */
  rssMiB: number | null;
}

/**
 * Warnings for starting `vm` next to `running`: each running VM may still claim up to its
 * memory size minus what it already holds, and the new one its whole size. If that exceeds what
 * the host has available, say so with the numbers.
 */
export function startMemoryWarnings(vm: { name: string; memoryMiB: number }, running: readonly RunningVm[], host: HostMemory): string[] {
  const stillClaimable = running.reduce((sum, r) => sum + Math.max(0, r.memoryMiB - (r.rssMiB ?? 0)), 0);
  const need = vm.memoryMiB + stillClaimable;
  if (need <= host.availableMiB) return [];
  const others =
    running.length === 0
      ? ''
      : ` plus up to ${stillClaimable} MiB the ${running.length} running VM${running.length === 1 ? '' : 's'} may still claim`;
  return [
    `${vm.name} may use ${vm.memoryMiB} MiB${others} (${need} MiB), but this machine has only ${host.availableMiB} MiB of its ${host.totalMiB} MiB available: ` +
      'the host may swap or kill a VM; stop a VM or give this one less memory',
  ];
}

/** A VM as the engine's supervisors describe it. */
interface EngineVm {
  id: string;
  state: VmState;
  pid: number | null;
  spec: { name: string; memoryMiB: number };
}

/**
 * startMemoryWarnings against the live host (its meminfo, the running QEMUs' resident memory) for
 * starting `vm` beside the active ones of `all` (shown, never refused); none for a VM already
 * active (its start refuses it) or without /proc/meminfo. The running set is taken before the
 * first await, so a caller can start the VM right after calling this, and the start keeps its
 * place in the VM's queue.
 */
export async function warnBeforeStart(vm: EngineVm, all: Iterable<EngineVm>): Promise<string[]> {
  if (isActive(vm)) return [];
  const running = [...all].filter((s) => s.id !== vm.id && isActive(s) && s.pid !== null);
  try {
    const [host, rss] = await Promise.all([readHostMemory(), Promise.all(running.map((r) => readRssMiB(r.pid!)))]);
    return startMemoryWarnings(
      vm.spec,
      running.map((r, i) => ({ name: r.spec.name, memoryMiB: r.spec.memoryMiB, rssMiB: rss[i] ?? null })),
      host,
    );
  } catch {
    return []; // no /proc/meminfo: nothing to weigh against
  }
}
