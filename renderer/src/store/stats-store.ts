// Each running VM's recent stats (the tiles' numbers and sparklines), kept apart from the main
// store and notified per VM. Every VM reports once a second; in the main store each applied
// slice of samples ran every selector of every tile (about 20 per tile: 10 000 calls for 500
// tiles, 30 slices a second), which was most of the 500-tile frame cost (issue 15,
// tiles500P95FrameMs). Here a slice wakes only the tiles whose VM it carries.
// Only store/events.ts writes here, as it does into the main store.
import { useCallback, useSyncExternalStore } from 'react';
import type { StatsSeries } from './store';

let series: Readonly<Record<string, StatsSeries>> = {};
const byId = new Map<string, Set<() => void>>();
const anyChange = new Set<() => void>();

/** The series of every VM that has any (a snapshot: replaced, never mutated, on each change). */
export function getAllStats(): Readonly<Record<string, StatsSeries>> {
  return series;
}

export function getStats(id: string): StatsSeries | undefined {
  return series[id];
}

/**
 * Set (or, with undefined, drop) the series of some VMs in one change; only their listeners run,
 * then the listeners of any change, once.
 */
export function setStats(changes: Readonly<Record<string, StatsSeries | undefined>>): void {
  const ids = Object.keys(changes);
  if (ids.length === 0) return;
  const next = { ...series };
  for (const id of ids) {
    const s = changes[id];
    if (s) next[id] = s;
    else delete next[id];
  }
  series = next;
  for (const id of ids) byId.get(id)?.forEach((cb) => cb());
  anyChange.forEach((cb) => cb());
}

/** Replace every series at once (a fresh list from the engine). */
export function replaceAllStats(all: Readonly<Record<string, StatsSeries>>): void {
  const changed = new Set([...Object.keys(series), ...Object.keys(all)]);
  series = { ...all };
  for (const id of changed) byId.get(id)?.forEach((cb) => cb());
  anyChange.forEach((cb) => cb());
}

function subscribeVm(id: string, cb: () => void): () => void {
  let set = byId.get(id);
  if (!set) byId.set(id, (set = new Set()));
  set.add(cb);
  return () => {
    set.delete(cb);
    if (set.size === 0) byId.delete(id);
  };
}

/** Called after every change, whichever VMs it touched. */
export function subscribeStats(cb: () => void): () => void {
  anyChange.add(cb);
  return () => void anyChange.delete(cb);
}

/** One VM's series; the component re-renders when that VM's series changes, and only then. */
export function useVmStats(id: string): StatsSeries | undefined {
  const subscribe = useCallback((cb: () => void) => subscribeVm(id, cb), [id]);
  return useSyncExternalStore(subscribe, () => series[id]);
}

/** Test helper (with resetStore): no series. */
export function resetStats(): void {
  series = {};
}
