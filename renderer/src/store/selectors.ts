// Derived reads. Lists are returned as fresh arrays; callers wrap them in useShallow so a
// component re-renders only when the list's members change, not on every store write.
import type { HostInfo, VmInfo } from '../../../shared/contract';
import { canStop, type VmState } from '../../../shared/state';
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
  const host = s.ui.hostFilter;
  const vms = Object.values(s.vms.byId).filter((vm) => (!q || vm.name.toLowerCase().includes(q)) && (host === null || vm.host === host));
  return vms.sort(compareVms(s.ui.sort)).map((vm) => vm.id);
}

/** The hosts, when there is more than one (only then do tiles name their host and the toolbar filter by it). */
export const selectHosts = (s: StoreState): HostInfo[] => (s.vms.hosts.length > 1 ? s.vms.hosts : NO_HOSTS);
const NO_HOSTS: HostInfo[] = [];

/** The name of a VM's host, or null when there is only one host. */
export function selectHostName(s: StoreState, hostId: string): string | null {
  if (s.vms.hosts.length < 2) return null;
  return s.vms.hosts.find((h) => h.id === hostId)?.name ?? hostId;
}

/** Why a VM's host cannot be reached right now (its last known state stays on the tile), or null. */
export function selectHostTrouble(s: StoreState, hostId: string): string | null {
  const h = s.vms.hosts.find((x) => x.id === hostId);
  if (!h || h.state === 'connected') return null;
  return h.state === 'connecting' ? `connecting to ${h.name}…` : `${h.name} is unreachable${h.reason ? `: ${h.reason}` : ''}`;
}

export const selectVmCount = (s: StoreState): number => Object.keys(s.vms.byId).length;

export function selectNames(s: StoreState): string[] {
  return Object.values(s.vms.byId).map((v) => v.name);
}

/** Whether the tiles view hides some VMs (a name filter or a host filter is on). */
export const selectFiltered = (s: StoreState): boolean => s.ui.filter.trim() !== '' || s.ui.hostFilter !== null;

/**
 * What "Stop all" stops: every VM that can stop, or, while a filter is on, every shown one (a
 * user looking at one host's VMs means those, not also the ones the filter hides).
 */
export function selectStopAllIds(s: StoreState): string[] {
  const ids = selectFiltered(s) ? selectVisibleIds(s) : Object.keys(s.vms.byId);
  return ids.filter((id) => {
    const vm = s.vms.byId[id];
    return vm !== undefined && canStop(vm) && !s.vms.ops[id]?.pending;
  });
}

/** Their names for the confirmation, by host when there is more than one: "web, db (This computer); ci (lab)". */
export function selectStopAllNames(s: StoreState): string {
  const byHost = new Map<string, string[]>();
  for (const id of selectStopAllIds(s)) {
    const vm = s.vms.byId[id]!;
    byHost.set(vm.host, [...(byHost.get(vm.host) ?? []), vm.name]);
  }
  if (s.vms.hosts.length < 2) return [...byHost.values()].flat().join(', ');
  return [...byHost].map(([host, names]) => `${names.join(', ')} (${selectHostName(s, host)})`).join('; ');
}
