// What a disk operation tells the user, worded once for local VMs (lifecycle/disks.ts) and libvirt
// domains (hosts/libvirt/domain-disks.ts): which disks must stay, and the grow-only refusal.
import { FlotillaError } from '../../shared/errors';

const GiB = 2 ** 30;

/** `a`, `a and b`, `a, b and c` */
export const listed = (names: readonly string[]): string => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`);

/** Why the disk a VM was made with stays (a clause about "it", as DiskInfo.keptBecause is). */
export const madeWith = (vmName: string): string => `it is the disk ${vmName} was made with; only a disk added later can be removed`;

/** Why a disk that snapshots hold stays, or null when none does. */
export function snapshotsNeedIt(snapshots: readonly string[]): string | null {
  if (!snapshots.length) return null;
  const one = snapshots.length === 1;
  return `the snapshot${one ? '' : 's'} ${listed(snapshots)} need${one ? 's' : ''} it to go back; delete ${one ? 'that snapshot' : 'them'} first`;
}

function fmtGiB(bytes: number): string {
  const g = bytes / GiB;
  return Number.isInteger(g) ? `${g} GiB` : `${g.toFixed(2)} GiB`;
}

/** Refuses a resize to `want` bytes that would not make `disk` of `vmName` (now `current` bytes) larger. */
export function assertGrows(disk: string, vmName: string, current: number, want: number): void {
  if (want > current) return;
  const message = `${disk} of ${vmName} is ${fmtGiB(current)}; a resize must make it larger (shrinking would destroy data and is refused)`;
  throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'sizeGiB', message }] });
}
