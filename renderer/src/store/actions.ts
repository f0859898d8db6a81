// Everything the UI can ask for. Module functions that call the Api and write results into
// the store; each VM action marks its tile pending and puts any error on that tile.
import { LOCAL_HOST, type ExecResult, type VmInfo } from '../../../shared/contract';
import { canStart, canStop } from '../../../shared/state';
import type { VmConfigInput, VmPatch } from '../../../shared/spec';
import { getApi } from '../api/current';
import { defaultTabFor } from '../lib/router';
import { rememberTheme, type ThemeChoice } from '../lib/theme';
import { toUiError } from './errors';
import { applyRemoved, applyVm, dropCreating } from './events';
import { IDLE_OP, useStore, type CreatingVm, type Dialog, type SortKey, type StoreState, type UiError, type VmTab } from './store';
import { vmRef } from './vm-ref';
import { selectStopAllIds } from './selectors';

function setOp(id: string, patch: Partial<typeof IDLE_OP>): void {
  useStore.setState((s) => ({ vms: { ...s.vms, ops: { ...s.vms.ops, [id]: { ...(s.vms.ops[id] ?? IDLE_OP), ...patch } } } }));
}

/** Run one VM action with tile-local pending/error. Resolves to false when it failed. */
async function runOp(id: string, label: string, action: string, fn: () => Promise<VmInfo | void>): Promise<boolean> {
  setOp(id, { pending: label, error: null });
  try {
    const vm = await fn();
    if (vm) applyVm(vm);
    setOp(id, { pending: null });
    return true;
  } catch (err) {
    setOp(id, { pending: null, error: toUiError(err, action) });
    return false;
  }
}

/** `carried`: warnings of what made the VM (an import), shown with the start's own */
export const startVm = (id: string, carried: readonly string[] = []): Promise<boolean> => {
  setOp(id, { warnings: [...carried] });
  return runOp(id, 'Starting…', 'Start', async () => {
    const { warnings, ...vm } = await getApi().invoke('vm.start', vmRef(id));
    if (warnings && warnings.length > 0) setOp(id, { warnings: [...carried, ...warnings] });
    return vm;
  });
};

export function clearTileWarnings(id: string): void {
  setOp(id, { warnings: [] });
}
export const stopVm = (id: string): Promise<boolean> => runOp(id, 'Stopping…', 'Stop', () => getApi().invoke('vm.stop', vmRef(id)));
export const forceStopVm = (id: string): Promise<boolean> =>
  runOp(id, 'Forcing off…', 'Force stop', () => getApi().invoke('vm.stop', { ...vmRef(id), force: true }));
export const pauseVm = (id: string): Promise<boolean> => runOp(id, 'Pausing…', 'Pause', () => getApi().invoke('vm.pause', vmRef(id)));
export const resumeVm = (id: string): Promise<boolean> => runOp(id, 'Resuming…', 'Resume', () => getApi().invoke('vm.resume', vmRef(id)));
export const restartVm = (id: string): Promise<boolean> => runOp(id, 'Restarting…', 'Restart', () => getApi().invoke('vm.restart', vmRef(id)));

/** `storage`: on a libvirt host, also delete the domain's disks (local VMs always lose theirs). */
export async function deleteVm(id: string, opts: { storage?: boolean } = {}): Promise<boolean> {
  closeDialog();
  const ok = await runOp(id, 'Deleting…', 'Delete', async () => {
    await getApi().invoke('vm.delete', { ...vmRef(id), ...(opts.storage !== undefined ? { storage: opts.storage } : {}) });
  });
  if (ok) applyRemoved(id);
  return ok;
}

export function clearTileError(id: string): void {
  setOp(id, { error: null });
}

export async function updateVm(id: string, patch: VmPatch): Promise<UiError | null> {
  try {
    applyVm(await getApi().invoke('vm.update', { ...vmRef(id), patch }));
    return null;
  } catch (err) {
    return toUiError(err, 'Save settings');
  }
}

/** Create (and optionally start) a VM. A start failure lands on the new tile, not the form. */
let createSeq = 1;

function setCreating(key: string, patch: Partial<CreatingVm>): void {
  useStore.setState((s) => {
    const cur = s.vms.creating[key];
    return cur ? { vms: { ...s.vms, creating: { ...s.vms.creating, [key]: { ...cur, ...patch } } } } : s;
  });
}

/** A failed create's or import's placeholder, dismissed. */
export const dismissCreating = dropCreating;

export async function createVm(config: VmConfigInput, start: boolean, host?: string): Promise<{ vm: VmInfo | null; error: UiError | null }> {
  const api = getApi();
  const key = `create-${createSeq++}`;
  useStore.setState((s) => ({
    vms: { ...s.vms, creating: { ...s.vms.creating, [key]: { key, name: config.name, vmId: null, progress: null, error: null, ...(host && host !== LOCAL_HOST ? { host } : {}) } } },
  }));
  let vm: VmInfo;
  try {
    vm = await api.invoke('vm.create', { ...(host ? { host } : {}), config, start: false });
  } catch (err) {
    const error = toUiError(err, 'Create');
    // Once disk work began the dialog is gone and the placeholder tile carries the error.
    if (useStore.getState().vms.creating[key]?.vmId) setCreating(key, { error, progress: null });
    else dropCreating(key);
    return { vm: null, error };
  }
  return placeholderDone(key, vm, start);
}

/** A create or import placeholder became a VM: drop the placeholder, show the VM, start it if asked. */
/** `warnings`: what the tile should say about how the VM was made (an import that left things out) */
export function placeholderDone(key: string, vm: VmInfo, start: boolean, warnings: readonly string[] = []): { vm: VmInfo; error: null } {
  useStore.setState((s) => {
    const creating = { ...s.vms.creating };
    delete creating[key];
    return { vms: { ...s.vms, creating } };
  });
  applyVm(vm);
  if (start) void startVm(vm.id, warnings);
  else if (warnings.length > 0) setOp(vm.id, { warnings: [...warnings] });
  return { vm, error: null };
}

export function nextDefaultName(taken: readonly string[], base = 'linux'): string {
  const set = new Set(taken);
  for (let i = 1; ; i++) if (!set.has(`${base}-${i}`)) return `${base}-${i}`;
}

/** The first-run button: a small default Linux VM with SSH forwarded, started at once. */
export async function quickStartLinux(): Promise<UiError | null> {
  const taken = Object.values(useStore.getState().vms.byId).map((v) => v.name);
  const { error } = await createVm(
    { name: nextDefaultName(taken), source: { kind: 'default' }, forwards: [{ proto: 'tcp', guestPort: 22 }] },
    true,
  );
  return error;
}

export async function buildDefaultImage(): Promise<UiError | null> {
  try {
    await getApi().invoke('image.buildDefault', {});
    const info = await getApi().invoke('engine.info', {});
    useStore.setState((s) => ({ ui: { ...s.ui, engine: info } }));
    return null;
  } catch (err) {
    return toUiError(err, 'Build the default image');
  }
}

// ---------------------------------------------------------------------- consoles / exec / logs

let execSeq = 1;
export async function execInVm(id: string, command: string): Promise<void> {
  const n = execSeq++;
  const entry = { n, command, at: Date.now(), result: null as ExecResult | null, error: null as UiError | null };
  const put = (e: typeof entry): void =>
    useStore.setState((s) => {
      const list = (s.consoles.exec[id] ?? []).filter((x) => x.n !== n);
      return { consoles: { ...s.consoles, exec: { ...s.consoles.exec, [id]: [...list, e].slice(-50) } } };
    });
  put(entry);
  try {
    const result = await getApi().invoke('vm.exec', { ...vmRef(id), command: ['/bin/sh', '-c', command] });
    put({ ...entry, result });
  } catch (err) {
    put({ ...entry, error: toUiError(err, 'Run') });
  }
}

export async function loadLogs(id: string): Promise<UiError | null> {
  try {
    const { entries } = await getApi().invoke('vm.logs', { ...vmRef(id), tail: 500 });
    useStore.setState((s) => ({ consoles: { ...s.consoles, logs: { ...s.consoles.logs, [id]: entries } } }));
    return null;
  } catch (err) {
    return toUiError(err, 'Load logs');
  }
}

export function sendConsoleInput(id: string, data: string): void {
  getApi()
    .invoke('console.input', { ...vmRef(id), data })
    .catch(() => {});
}

/** The terminal's size, for the guest's console pty (the engine sets it where the console has one). */
export function sendConsoleSize(id: string, cols: number, rows: number): void {
  getApi()
    .invoke('console.resize', { ...vmRef(id), cols, rows })
    .catch(() => {});
}

// ---------------------------------------------------------------------- ui

export function setFilter(filter: string): void {
  useStore.setState((s) => ({ ui: { ...s.ui, filter } }));
}
export function setHostFilter(hostFilter: string | null): void {
  useStore.setState((s) => ({ ui: { ...s.ui, hostFilter } }));
}
export function setSort(sort: SortKey): void {
  useStore.setState((s) => ({ ui: { ...s.ui, sort } }));
}
/** Open a VM; without a tab, a graphical VM opens on its Display and a headless one on its Console. */
export function openVm(id: string, tab?: VmTab): void {
  useStore.setState((s) => ({ ui: { ...s.ui, openVmId: id, tab: tab ?? defaultTabFor(s.vms.byId[id]) } }));
}
export function closeVm(): void {
  useStore.setState((s) => ({ ui: { ...s.ui, openVmId: null } }));
}
export function setTab(tab: VmTab): void {
  useStore.setState((s) => ({ ui: { ...s.ui, tab } }));
}
export function openDialog(dialog: Dialog): void {
  useStore.setState((s) => ({ ui: { ...s.ui, dialog } }));
}
export function closeDialog(): void {
  useStore.setState((s) => ({ ui: { ...s.ui, dialog: null } }));
}
export function setFocused(id: string | null): void {
  if (useStore.getState().ui.focusedId === id) return;
  useStore.setState((s) => ({ ui: { ...s.ui, focusedId: id } }));
}
export function requestFilterFocus(): void {
  useStore.setState((s) => ({ ui: { ...s.ui, openVmId: null, focusFilterSeq: s.ui.focusFilterSeq + 1 } }));
}
export function setTheme(theme: ThemeChoice): void {
  rememberTheme(theme);
  useStore.setState((s) => ({ ui: { ...s.ui, theme } }));
}

// ---------------------------------------------------------------------- several VMs at once

export function toggleSelected(id: string, on: boolean): void {
  useStore.setState((s) => {
    const selected = { ...s.ui.selected };
    if (on) selected[id] = true;
    else delete selected[id];
    return { ui: { ...s.ui, selected } };
  });
}

export function clearSelection(): void {
  useStore.setState((s) => ({ ui: { ...s.ui, selected: {} } }));
}

/** The selected VMs the guards allow `action` on (a stopped VM is not "stopped" again). */
export function selectedFor(s: StoreState, action: 'start' | 'stop'): string[] {
  return Object.keys(s.ui.selected).filter((id) => {
    const vm = s.vms.byId[id];
    if (!vm || s.vms.ops[id]?.pending) return false;
    return action === 'start' ? canStart(vm) : canStop(vm);
  });
}

/** Start or stop the selected VMs together; each tile shows its own progress and error. */
export async function startSelected(): Promise<void> {
  await Promise.all(selectedFor(useStore.getState(), 'start').map((id) => startVm(id)));
}
export async function stopSelected(): Promise<void> {
  await Promise.all(selectedFor(useStore.getState(), 'stop').map((id) => stopVm(id)));
}

/** "Stop all": a graceful stop of every VM that can stop (every shown one while a filter is on), each on its own tile. */
export async function stopAllVms(): Promise<void> {
  closeDialog();
  await Promise.all(selectStopAllIds(useStore.getState()).map((id) => stopVm(id)));
}

/** Force stop from its confirmation (or straight from a stop countdown's "Force now"). */
export function confirmForceStop(id: string): void {
  closeDialog();
  void forceStopVm(id);
}

export function dismissNotice(): void {
  useStore.setState((s) => ({ ui: { ...s.ui, notice: null } }));
}
