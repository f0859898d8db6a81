// Derived reads. Lists are returned as fresh arrays; callers wrap them in useShallow so a
// component re-renders only when the list's members change, not on every store write.
import type { VmInfo } from '../../../shared/contract';
import type { VmState } from '../../../shared/state';
import type { SortKey, StoreState } from './store';

const STATE_RANK: Record<VmState, number> = { running: 0, starting: 1, paused: 2, stopping: 3, crashed: 4, stopped: 5 };

export function compareVms(sort: SortKey): (a: VmInfo, b: VmInfo) => number {
  const byName = (a: VmInfo, b: VmInfo): number => a.name.localeCompare(b.name, undefined, { numeric: true });
  if (sort === 'state') return (a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || byName(a, b);
  if (sort === 'created') return (a, b) => b.spec.createdAt.localeCompare(a.spec.createdAt) || byName(a, b);
  return byName;
}

/** Ids of the VMs the tiles view shows, filtered and sorted. */
export function selectVisibleIds(s: StoreState): string[] {
  const q = s.ui.filter.trim().toLowerCase();
  const vms = Object.values(s.vms.byId).filter((vm) => !q || vm.name.toLowerCase().includes(q));
  return vms.sort(compareVms(s.ui.sort)).map((vm) => vm.id);
}

export const selectVmCount = (s: StoreState): number => Object.keys(s.vms.byId).length;

export function selectNames(s: StoreState): string[] {
  return Object.values(s.vms.byId).map((v) => v.name);
}
