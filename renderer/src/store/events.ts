// The renderer's ONE subscription to engine events. It writes into the store and nothing
// else does. On every (re)connect it fetches the full state once, then applies events.
import { LOCAL_HOST, type EventPayloads, type HostInfo, type Progress, type VmInfo, type VmStats } from '../../../shared/contract';
import { isActive } from '../../../shared/state';
import type { Transport } from '../api/transport';
import { toUiError } from './errors';
import { getAllStats, getStats, replaceAllStats, setStats } from './stats-store';
import { appendConsole, resubscribeAll, setThumb } from './streams';
import { STATS_WINDOW, useStore, type CreatingVm, type StatsSeries, type StoreState } from './store';

function push<T>(arr: readonly T[], v: T): T[] {
  const out = arr.length >= STATS_WINDOW ? arr.slice(arr.length - STATS_WINDOW + 1) : arr.slice();
  out.push(v);
  return out;
}

/** Apply many stats samples in ONE change; only the VMs in the batch get new series objects (and re-render). */
export function applyStatsBatch(batch: readonly VmStats[]): void {
  if (batch.length === 0) return;
  const known = useStore.getState().vms.byId;
  const changes: Record<string, StatsSeries> = {};
  for (const st of batch) {
    if (!known[st.id]) continue;
    const prev: StatsSeries = changes[st.id] ?? getStats(st.id) ?? { t: [], cpu: [], rss: [] };
    changes[st.id] = { t: push(prev.t, st.t), cpu: push(prev.cpu, st.cpuPercent), rss: push(prev.rss, st.rssBytes) };
  }
  setStats(changes);
}

export function applyStats(st: VmStats): void {
  applyStatsBatch([st]);
}

const pendingStats: VmStats[] = [];
let statsFlushScheduled = false;
/** samples per frame while a backlog drains; only grows until the queue is empty */
let drainRate = 0;

/**
 * Samples applied per animation frame. One store update for the whole 1 Hz burst of 100 VMs
 * re-rendered 100 tiles in one frame (the bench's slowest frames). In the tiles bench, 25 per
 * frame gave a p95 of 12.7 ms main-thread CPU per frame and 10 gave 7.1 ms (same run); a burst
 * of 100 still lands within 10 frames (~170 ms), well inside the 1 s between samples.
 */
export const STATS_PER_FRAME = 10;
/** However many VMs report, a backlog drains within this many frames (half a second at 60 Hz). */
const MAX_FRAMES_PER_BACKLOG = 30;

/**
 * 100 VMs each report once a second; applied one by one that is 100 store updates (~1.7 ms of
 * main-thread work each, measured by the bench), and frames were dropped. Queue them and apply
 * a slice per animation frame (in arrival order). A hidden page gets no frames and draws
 * nothing, so there a timer applies everything at once.
 */
export function queueStats(st: VmStats): void {
  queueStatsBatch([st]);
}

/** The engine's one event per tick (`vm.statsBatch`): every running VM's sample, queued as above. */
export function queueStatsBatch(samples: readonly VmStats[]): void {
  if (samples.length === 0) return;
  pendingStats.push(...samples);
  scheduleStatsFlush();
}

function scheduleStatsFlush(): void {
  if (statsFlushScheduled) return;
  statsFlushScheduled = true;
  const inFrames = typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible';
  const flush = (): void => {
    statsFlushScheduled = false;
    drainRate = Math.max(drainRate, STATS_PER_FRAME, Math.ceil(pendingStats.length / MAX_FRAMES_PER_BACKLOG));
    applyStatsBatch(pendingStats.splice(0, inFrames ? drainRate : pendingStats.length));
    if (pendingStats.length) scheduleStatsFlush();
    else drainRate = 0;
  };
  if (inFrames) requestAnimationFrame(flush);
  else setTimeout(flush, 100);
}

export function applyVm(vm: VmInfo): void {
  const before = useStore.getState().vms.byId[vm.id];
  // a VM that stopped has no live numbers; its sparklines restart on the next run
  if (!isActive(vm) && getStats(vm.id)) setStats({ [vm.id]: undefined });
  useStore.setState((s) => {
    // the engine committed a VM we showed as "creating": the real tile replaces it
    const made = (c: CreatingVm): boolean => c.vmId === vm.id || (c.name === vm.name && (c.host ?? LOCAL_HOST) === vm.host && !c.error);
    const creating = Object.values(s.vms.creating).some(made) ? Object.fromEntries(Object.entries(s.vms.creating).filter(([, c]) => !made(c))) : s.vms.creating;
    return { vms: { ...s.vms, byId: { ...s.vms.byId, [vm.id]: vm }, creating } };
  });
  if (before && !isActive(before) && isActive(vm)) resubscribeAll(vm.id);
}

export function applyRemoved(id: string): void {
  if (getStats(id)) setStats({ [id]: undefined });
  useStore.setState((s) => {
    const drop = <T,>(r: Record<string, T>): Record<string, T> => {
      const o = { ...r };
      delete o[id];
      return o;
    };
    return {
      vms: { ...s.vms, byId: drop(s.vms.byId), ops: drop(s.vms.ops) },
      consoles: { text: drop(s.consoles.text), thumbs: drop(s.consoles.thumbs), logs: drop(s.consoles.logs), exec: drop(s.consoles.exec), files: drop(s.consoles.files), fileFolders: drop(s.consoles.fileFolders) },
      ui: {
        ...s.ui,
        openVmId: s.ui.openVmId === id ? null : s.ui.openVmId,
        focusedId: s.ui.focusedId === id ? null : s.ui.focusedId,
        selected: drop(s.ui.selected),
        dialog: s.ui.dialog?.kind === 'delete' && s.ui.dialog.id === id ? null : s.ui.dialog,
      },
    };
  });
}

function patchVm(id: string, fn: (vm: VmInfo) => VmInfo): void {
  useStore.setState((s) => {
    const vm = s.vms.byId[id];
    return vm ? { vms: { ...s.vms, byId: { ...s.vms.byId, [id]: fn(vm) } } } : s;
  });
}

/** Progress for a known VM goes on its tile; for an id we have not seen yet it belongs to a
 *  create in flight (the engine reports disk work before it commits the VM). */
/** How long the placeholder of a job started elsewhere stays after the job ends, for its VM's tile to come. */
export const ELSEWHERE_LINGER_MS = 2000;

/**
 * A job's progress: on its VM's tile, or on the placeholder of the VM it is making (a create or
 * an import: in no list until it is done). This window's own create or import takes the id the
 * first time its job names the VM; a job started elsewhere (another window, the CLI) gets a
 * placeholder of its own, with its bar and Cancel, that goes when the job ends.
 */
export function applyProgress(host: string, id: string, progress: Progress | null): void {
  if (useStore.getState().vms.byId[id]) {
    patchVm(id, (vm) => ({ ...vm, progress }));
    return;
  }
  const put = (s: StoreState, c: CreatingVm): Partial<StoreState> => ({ vms: { ...s.vms, creating: { ...s.vms.creating, [c.key]: c } } });
  useStore.setState((s) => {
    const all = Object.values(s.vms.creating);
    const known = all.find((c) => c.vmId === id && (c.host ?? LOCAL_HOST) === host);
    if (known) {
      // its VM's tile replaces it when the engine commits it (applyVm); a failed job's is dropped
      if (!progress && known.elsewhere) setTimeout(() => dropCreating(known.key), ELSEWHERE_LINGER_MS);
      return put(s, { ...known, progress });
    }
    const name = progress?.newVm;
    if (!name) return s;
    const own = all.find((c) => c.vmId === null && !c.error && (c.host ?? LOCAL_HOST) === host && (c.name === name || (c.op === 'import' && c.nameFromArchive)));
    if (own) return put(s, { ...own, name, vmId: id, progress });
    const op = progress.op === 'import' ? 'import' : 'create';
    return put(s, { key: `job-${host}-${id}`, name, vmId: id, progress, error: null, op, elsewhere: true, ...(host !== LOCAL_HOST ? { host } : {}) });
  });
}

/** A placeholder goes (dismissed, or its job started elsewhere ended). */
export function dropCreating(key: string): void {
  useStore.setState((s) => {
    if (!s.vms.creating[key]) return s;
    const creating = { ...s.vms.creating };
    delete creating[key];
    return { vms: { ...s.vms, creating } };
  });
}

function appendLog({ id, entry }: EventPayloads['vm.log']): void {
  useStore.setState((s) => {
    const logs = s.consoles.logs[id];
    if (!logs) return s; // nobody opened the Logs tab; vm.logs fetches history then
    const next = logs.length >= 2000 ? logs.slice(-1999) : logs.slice();
    next.push(entry);
    return { consoles: { ...s.consoles, logs: { ...s.consoles.logs, [id]: next } } };
  });
}

function applyHost(host: HostInfo): void {
  useStore.setState((s) => {
    const known = s.vms.hosts.some((h) => h.id === host.id);
    const hosts = known ? s.vms.hosts.map((h) => (h.id === host.id ? host : h)) : [...s.vms.hosts, host];
    return { vms: { ...s.vms, hosts } };
  });
}

function applyHostRemoved(id: string): void {
  useStore.setState((s) => ({
    vms: { ...s.vms, hosts: s.vms.hosts.filter((h) => h.id !== id) },
    // a filter on a host that is gone would show nothing
    ui: s.ui.hostFilter === id ? { ...s.ui, hostFilter: null } : s.ui,
  }));
}

/**
 * Seed sparklines from the engine's recent history: a VM we have no samples for takes the
 * history as it is; one we do have keeps its own and gains the older history in front.
 */
export function seedStats(stats: Record<string, StatsSeries>, history: readonly VmStats[], known: (id: string) => boolean): Record<string, StatsSeries> {
  const byId = new Map<string, VmStats[]>();
  for (const h of history) if (known(h.id)) byId.set(h.id, [...(byId.get(h.id) ?? []), h]);
  if (byId.size === 0) return stats;
  const out = { ...stats };
  for (const [id, samples] of byId) {
    const cur = out[id] ?? { t: [], cpu: [], rss: [] };
    const first = cur.t[0] ?? Infinity;
    const older = samples.filter((x) => x.t < first).sort((a, b) => a.t - b.t);
    const keep = Math.max(0, STATS_WINDOW - cur.t.length);
    const add = older.slice(Math.max(0, older.length - keep));
    out[id] = { t: [...add.map((x) => x.t), ...cur.t], cpu: [...add.map((x) => x.cpuPercent), ...cur.cpu], rss: [...add.map((x) => x.rssBytes), ...cur.rss] };
  }
  return out;
}

/** Replace the VM list with a fresh one from the engine, keeping tile-local state. */
export async function refreshAll(api: Transport): Promise<void> {
  try {
    // an engine from before stats.history answers without it: sparklines then start empty
    const [info, list, hosts, history, making] = await Promise.all([
      api.invoke('engine.info', {}),
      api.invoke('vm.list', {}),
      api.invoke('host.list', {}),
      api.invoke('stats.history', {}).catch(() => ({ samples: [] as VmStats[] })),
      // an engine from before vm.making: jobs started elsewhere show from their next progress
      api.invoke('vm.making', {}).catch(() => []),
    ]);
    const byId: Record<string, VmInfo> = {};
    for (const vm of list) byId[vm.id] = vm;
    const keep = <T,>(r: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(r).filter(([k]) => k in byId));
    replaceAllStats(seedStats(keep(getAllStats()), history.samples, (id) => !!byId[id] && isActive(byId[id])));
    useStore.setState((s: StoreState) => ({
      // the placeholders of jobs started elsewhere are made again from what runs now (one may have ended meanwhile)
      vms: { ...s.vms, byId, hosts, ops: keep(s.vms.ops), creating: Object.fromEntries(Object.entries(s.vms.creating).filter(([, c]) => !c.elsewhere)), loaded: true },
      ui: { ...s.ui, engine: info, notice: null, openVmId: s.ui.openVmId && byId[s.ui.openVmId] ? s.ui.openVmId : null, selected: keep(s.ui.selected) },
    }));
    for (const m of making) applyProgress(m.host, m.id, m.progress);
    resubscribeAll();
    // tiles show stats: ask for them on every (re)connect, the engine samples only while someone listens
    await api.invoke('stats.subscribe', {});
  } catch (err) {
    useStore.setState((s) => ({ ui: { ...s.ui, notice: toUiError(err, 'Load VMs') } }));
  }
}

/** Wire an Api into the store. Returns a function that unhooks everything. */
export function connectStore(api: Transport): () => void {
  const offs = [
    api.on('vm.changed', applyVm),
    api.on('vm.removed', ({ id }) => applyRemoved(id)),
    api.on('host.changed', applyHost),
    api.on('host.removed', ({ id }) => applyHostRemoved(id)),
    api.on('vm.statsBatch', ({ samples }) => queueStatsBatch(samples)),
    api.on('vm.agent', ({ id, agent, ips }) => patchVm(id, (vm) => ({ ...vm, agent, ips }))),
    api.on('vm.progress', ({ host, id, progress }) => applyProgress(host, id, progress)),
    api.on('vm.log', appendLog),
    api.on('console.data', ({ id, data }) => appendConsole(id, data)),
    api.on('vm.thumbnail', ({ id, pngBase64 }) => setThumb(id, pngBase64)),
    // the Electron app menu's "New VM"
    api.on('ui.newVm', () => useStore.setState((s) => ({ ui: { ...s.ui, dialog: s.ui.dialog ?? { kind: 'create' } } }))),
    api.onStatus((status) => {
      useStore.setState((s) => ({ ui: { ...s.ui, connection: status } }));
      if (status.kind === 'online') void refreshAll(api);
    }),
  ];
  return () => offs.forEach((off) => off());
}
