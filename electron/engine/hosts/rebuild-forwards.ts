// Issue 11 defect 7: ports.json lost or corrupt while VMs run. Before a VM is adopted, its
// forwards are read back from its live QEMU's command line (/proc/PID/cmdline holds the
// `hostfwd=tcp:127.0.0.1:H-:G` that reserved them), put back into the port table so no other
// VM is handed those ports, and the lifecycle log says what happened.
import { readFile } from 'node:fs/promises';
import type { PortEntry } from '../../../shared/contract';
import type { HomeLayout } from '../paths';
import type { PortAllocator } from '../port-allocator';
import { parseHostfwds } from '../qemu-args';
import { liveQemuOf } from './broken-vm';

export async function readCmdline(pid: number): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  return raw.split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
}

/**
 * For a VM whose QEMU still runs but whose forwards the table no longer has: rebuild them from
 * the command line. `tableProblem` is why the table was unreadable (null when it was fine).
 */
export async function rebuildForwards(
  layout: HomeLayout,
  ports: PortAllocator,
  vm: { id: string; lifecycle(text: string): void },
  tableProblem: string | null,
  cmdline: (pid: number) => Promise<string[]> = readCmdline,
): Promise<PortEntry[]> {
  const known = ports.entries(vm.id).filter((e) => e.purpose === 'forward');
  if (known.length > 0) return known;
  const pid = await liveQemuOf(layout, vm.id);
  if (pid === null) return [];
  const fwds = parseHostfwds(await cmdline(pid));
  if (fwds.length === 0) return [];
  const entries: PortEntry[] = fwds.map((f) => ({ vmId: vm.id, purpose: 'forward', proto: f.proto, hostPort: f.hostPort, guestPort: f.guestPort, host: '127.0.0.1' }));
  await ports.mark(vm.id, [...ports.entries(vm.id), ...entries]);
  const list = entries.map((e) => `127.0.0.1:${e.hostPort}->${e.guestPort}/${e.proto}`).join(', ');
  vm.lifecycle(
    tableProblem
      ? `the port table (ports.json) was unreadable (${tableProblem}); rebuilt this VM's forwards from its running QEMU ${pid}: ${list}`
      : `the port table had no forwards for this VM; rebuilt them from its running QEMU ${pid}: ${list}`,
  );
  return entries;
}
