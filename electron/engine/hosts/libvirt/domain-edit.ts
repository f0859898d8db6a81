// Changing a libvirt domain's settings with libvirt's own commands, as virt-manager and Cockpit
// do (LIBVIRT_SETTINGS in domain-info.ts says which): vCPUs (`setvcpus --config`, its maximum
// too), memory (`setmaxmem` / `setmem --config`), the name (`domrename`), the description that
// Flotilla shows as the note (`desc`), and libvirt's autostart. Every value is one argv word of a
// virsh command (never a shell string); domains are addressed by UUID.
import type { Virsh } from './virsh';

export interface DomainChange {
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  note?: string;
  autostart?: boolean;
}

/**
 * The virsh commands for `change`, in an order libvirt accepts: a count and its maximum move
 * together (the maximum first when it grows, last when it shrinks, so the current value never
 * exceeds it); the rename last, since nothing here names the domain by its name.
 */
export function editCommands(uuid: string, now: { cpus: number; memoryMiB: number; running: boolean }, change: DomainChange): string[][] {
  const dom = ['--domain', uuid];
  const out: string[][] = [];
  const pair = (grow: boolean, max: string[], cur: string[]) => out.push(...(grow ? [max, cur] : [cur, max]));
  if (change.cpus !== undefined) {
    const n = String(change.cpus);
    pair(change.cpus > now.cpus, ['setvcpus', ...dom, '--count', n, '--config', '--maximum'], ['setvcpus', ...dom, '--count', n, '--config']);
  }
  if (change.memoryMiB !== undefined) {
    const kib = String(change.memoryMiB * 1024);
    pair(change.memoryMiB > now.memoryMiB, ['setmaxmem', ...dom, '--size', kib, '--config'], ['setmem', ...dom, '--size', kib, '--config']);
  }
  // a running domain's live description too, so both say the same
  if (change.note !== undefined) out.push(['desc', ...dom, '--config', ...(now.running ? ['--live'] : []), '--new-desc', change.note]);
  if (change.autostart !== undefined) out.push(['autostart', ...dom, ...(change.autostart ? [] : ['--disable'])]);
  if (change.name !== undefined) out.push(['domrename', ...dom, change.name]);
  return out;
}

export async function editDomain(virsh: Virsh, uuid: string, now: { cpus: number; memoryMiB: number; running: boolean }, change: DomainChange): Promise<void> {
  for (const argv of editCommands(uuid, now, change)) await virsh.run(argv);
}

/** The domain's description (`virsh desc`), '' for none (virsh prints a sentence then). */
export async function domainDescription(virsh: Virsh, uuid: string, name: string): Promise<string> {
  const out = (await virsh.run(['desc', '--domain', uuid])).stdout.replace(/\n$/, '');
  return out === `No description for domain: ${name}` ? '' : out;
}
