// The issue-12 operations on a VM (snapshots, clone, export/import, disks, CD) as module
// functions. Long ones mark the tile pending (its progress bar comes from vm.progress events)
// and answer the dialog that asked with null or the UiError to show inline; the dialog stays
// open on an error so the user can fix the field it names. Clone, export and import outlast
// their engine as `flotilla` does (shared/outlast-engine.ts).
import type { DiskInfo, ExportResult, ShareInfo, SnapshotInfo, VmInfo } from '../../../shared/contract';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { FlotillaError } from '../../../shared/errors';
import { createSnapshotOutlasting, deleteSnapshotOutlasting, outlastEngine, resizeDiskOutlasting, revertSnapshotOutlasting, type JobClient } from '../../../shared/outlast-engine';
import { getApi } from '../api/current';
import { closeDialog, placeholderDone, startVm } from './actions';
import { toUiError } from './errors';
import { applyVm } from './events';
import { untilReconnected } from './reconnect';
import { IDLE_OP, useStore, type TileOp, type UiError } from './store';
import { vmRef } from './vm-ref';

function setOp(id: string, patch: Partial<TileOp>): void {
  useStore.setState((s) => ({ vms: { ...s.vms, ops: { ...s.vms.ops, [id]: { ...(s.vms.ops[id] ?? IDLE_OP), ...patch } } } }));
}

/** Run `fn` with the tile showing `label`; the error (if any) goes back to the caller's dialog, not the tile. */
async function withPending<T>(id: string, label: string, action: string, fn: () => Promise<T>): Promise<{ value: T; error: null } | { value: null; error: UiError }> {
  setOp(id, { pending: label, error: null });
  try {
    return { value: await fn(), error: null };
  } catch (err) {
    return { value: null, error: toUiError(err, action) };
  } finally {
    setOp(id, { pending: null });
  }
}

// ---------------------------------------------------------------------- snapshots

export async function listSnapshots(id: string): Promise<{ list: SnapshotInfo[]; error: UiError | null }> {
  try {
    return { list: await getApi().invoke('snapshot.list', vmRef(id)), error: null };
  } catch (err) {
    return { list: [], error: toUiError(err, 'List snapshots') };
  }
}

export async function createSnapshot(id: string, name: string, diskOnly: boolean): Promise<UiError | null> {
  // QEMU finishes a save whose engine went, and the next engine waits for it (shared/outlast-engine.ts)
  const r = await withPending(id, 'Saving snapshot…', 'Take snapshot', () =>
    createSnapshotOutlasting(clientFor(id, 'Saving snapshot…'), vmRef(id), name || undefined, diskOnly),
  );
  return r.error;
}

export async function revertSnapshot(id: string, name: string): Promise<UiError | null> {
  const r = await withPending(id, 'Reverting…', 'Revert', () => revertSnapshotOutlasting(clientFor(id, 'Reverting…'), vmRef(id), name));
  if (r.value) applyVm(r.value);
  return r.error;
}

export async function deleteSnapshot(id: string, name: string): Promise<UiError | null> {
  return (await withPending(id, 'Deleting snapshot…', 'Delete snapshot', () => deleteSnapshotOutlasting(clientFor(id, 'Deleting snapshot…'), vmRef(id), name))).error;
}

/**
 * Whether a failed full snapshot may be taken disk-only instead: the engine says so in the
 * UNSUPPORTED error's details (a raw disk used in place, a shared folder attached).
 */
export function offersDiskOnly(err: UiError | null): boolean {
  return err?.code === 'UNSUPPORTED' && (err.details as { diskOnly?: unknown } | undefined)?.diskOnly === true;
}

// ---------------------------------------------------------------------- clone / export / import

/**
 * A tile's side of a job across lost engines (shared/outlast-engine.ts): while it waits for the
 * next engine the tile says so, and shows the job's label again once the connection is back.
 */
function clientFor(id: string | null, label: string): JobClient {
  return {
    invoke: (method, req) => getApi().invoke(method, req),
    reconnect: async (lost) => {
      if (id) setOp(id, { pending: 'Waiting for the engine…' });
      await untilReconnected(lost, new AbortController().signal);
      if (id) setOp(id, { pending: label });
    },
  };
}

function outlast<T>(id: string | null, label: string, job: () => Promise<T>, finished: () => Promise<T | null>): Promise<T> {
  return outlastEngine({ ...clientFor(id, label), job, finished });
}

/**
 * The VM `ref` names, if the engine has one that is not among `before` (the ids there when the
 * job began: a VM that had the name already is not the job's); else null.
 */
async function madeVm(ref: { nameOrId: string; host?: string }, before: ReadonlySet<string>): Promise<VmInfo | null> {
  try {
    const vm = await getApi().invoke('vm.find', ref);
    return before.has(vm.id) ? null : vm;
  } catch (err) {
    if (err instanceof FlotillaError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}

const knownIds = (): ReadonlySet<string> => new Set(Object.keys(useStore.getState().vms.byId));

/** The size of a file on the engine's machine; null when there is none, undefined when its folder cannot say. */
async function hostFileSize(path: string): Promise<number | null | undefined> {
  const cut = path.lastIndexOf('/');
  const dir = path.slice(0, cut) || '/';
  const name = path.slice(cut + 1);
  try {
    const listing = await getApi().invoke('fs.list', { path: dir, showHidden: true });
    const entry = listing.entries.find((e) => e.name === name);
    if (entry) return entry.kind === 'file' ? entry.size : undefined;
    return listing.truncated ? undefined : null;
  } catch (err) {
    return err instanceof FlotillaError && err.code === 'NOT_FOUND' ? null : undefined;
  }
}

/**
 * Close the dialog once the VM's job reports progress: from then on the tile shows it (with
 * Cancel) and carries any error. Errors before that (a taken name, a missing folder) stay in the
 * dialog. Returns whether it got that far, and a function to stop watching.
 */
function closeWhenUnderway(id: string): { underway: () => boolean; stop: () => void } {
  let seen = false;
  const stop = useStore.subscribe((s) => {
    if (!seen && s.vms.byId[id]?.progress) {
      seen = true;
      closeDialog();
    }
  });
  return { underway: () => seen, stop };
}

/** An error for the dialog, or (once the dialog closed) for the tile. */
function errorFor(id: string, err: UiError | null, underway: boolean): UiError | null {
  if (!err || !underway) return err;
  if (err.code !== 'CANCELLED') setOp(id, { error: err });
  return null;
}

export async function cloneVm(id: string, name: string, opts: { linked: boolean; start: boolean }): Promise<UiError | null> {
  const watch = closeWhenUnderway(id);
  const ref = vmRef(id);
  const before = knownIds();
  const r = await withPending(id, 'Cloning…', 'Clone', () =>
    outlast(
      id,
      'Cloning…',
      () => getApi().invoke('vm.clone', { ...ref, name, linked: opts.linked, start: false }),
      // the engine commits a clone whole or not at all: a new VM of the name is the clone
      () => madeVm({ nameOrId: name, ...(ref.host ? { host: ref.host } : {}) }, before),
    ),
  );
  watch.stop();
  if (!r.value) return errorFor(id, r.error, watch.underway());
  applyVm(r.value);
  closeDialog();
  // started here, not by the engine, so a start failure lands on the new tile rather than the dialog
  if (opts.start) void startVm(r.value.id);
  return null;
}

export async function exportVm(id: string, path: string, force: boolean): Promise<UiError | null> {
  const watch = closeWhenUnderway(id);
  const r = await withPending(id, 'Exporting…', 'Export', async () => {
    // With force an export replaces what is there, so running it again is always right. Without,
    // a run after a lost engine meets its own finished archive as FILE_EXISTS: that is the job
    // done only if the destination was free when the export began (the first try may have been
    // lost before the engine looked).
    const freeBefore = !force && (await hostFileSize(path)) === null;
    let again = false;
    return outlast(
      id,
      'Exporting…',
      async (): Promise<Pick<ExportResult, 'path' | 'bytes'>> => {
        try {
          return await getApi().invoke('vm.export', { ...vmRef(id), path, force });
        } catch (err) {
          const size = again && freeBefore && err instanceof FlotillaError && err.code === 'FILE_EXISTS' ? await hostFileSize(path) : undefined;
          if (typeof size === 'number') return { path, bytes: size };
          throw err;
        } finally {
          again = true;
        }
      },
      async () => null,
    );
  });
  watch.stop();
  if (r.value) closeDialog();
  return errorFor(id, r.error, watch.underway());
}

/** Ask the engine to stop this VM's long job (or the import making a VM with this id on `host`). */
export async function cancelJob(id: string, host?: string): Promise<void> {
  try {
    await getApi().invoke('vm.cancelJob', host && host !== LOCAL_HOST ? { host, id } : vmRef(id));
  } catch {
    // the job ended meanwhile: nothing left to cancel
  }
}

let importSeq = 1;

/**
 * Import an archive: the dialog closes once it is accepted and a placeholder tile (with the
 * progress and Cancel) stands for the VM until the engine commits it; an error on the way
 * stays on that tile. Resolves to the new VM or the error.
 */
export async function importArchive(path: string, name: string, start: boolean, host: string = LOCAL_HOST, onUnderway?: () => void): Promise<{ vm: VmInfo | null; error: UiError | null }> {
  const key = `import-${importSeq++}`;
  const shown = name || (path.split('/').pop() ?? path).replace(/\.[^.]*$/, '');
  useStore.setState((s) => ({ vms: { ...s.vms, creating: { ...s.vms.creating, [key]: { key, name: shown, vmId: null, progress: null, error: null, op: 'import', ...(name ? {} : { nameFromArchive: true }), ...(host !== LOCAL_HOST ? { host } : {}) } } } }));
  // the archive's first checks fail fast (in the dialog); once extraction reports, the tile takes over
  const unwatch = useStore.subscribe((s) => {
    if (s.vms.creating[key]?.vmId) {
      unwatch();
      onUnderway?.();
    }
  });
  try {
    const before = knownIds();
    const vm = await outlast(
      null,
      '',
      () => getApi().invoke('vm.import', { ...(host !== LOCAL_HOST ? { host } : {}), path, ...(name ? { name } : {}), start: false }),
      // committed whole or not at all: the VM its progress named, or a new VM of the name asked for
      async () => {
        const made = useStore.getState().vms.creating[key]?.vmId;
        return (made ? await madeVm({ nameOrId: made, host }, before) : null) ?? (name ? await madeVm({ nameOrId: name, host }, before) : null);
      },
    );
    const { warnings = [], ...made } = vm as VmInfo & { warnings?: string[] };
    return placeholderDone(key, made, start, warnings);
  } catch (err) {
    const error = toUiError(err, 'Import');
    useStore.setState((s) => {
      const creating = { ...s.vms.creating };
      const c = creating[key];
      // a cancelled import needs no tile; one that failed after it began keeps its tile with the error
      if (c && c.vmId && error.code !== 'CANCELLED') creating[key] = { ...c, error, progress: null };
      else delete creating[key];
      return { vms: { ...s.vms, creating } };
    });
    return { vm: null, error };
  } finally {
    unwatch();
  }
}

// ---------------------------------------------------------------------- disks / CD

export async function listDisks(id: string): Promise<{ list: DiskInfo[]; error: UiError | null }> {
  try {
    return { list: await getApi().invoke('disk.list', vmRef(id)), error: null };
  } catch (err) {
    return { list: [], error: toUiError(err, 'List disks') };
  }
}

export async function resizeDisk(id: string, disk: string, sizeGiB: number): Promise<UiError | null> {
  return (await withPending(id, 'Growing disk…', 'Grow disk', () => resizeDiskOutlasting(clientFor(id, 'Growing disk…'), vmRef(id), disk, sizeGiB))).error;
}

export async function addDisk(id: string, sizeGiB: number): Promise<UiError | null> {
  const r = await withPending(id, 'Adding disk…', 'Add disk', () => getApi().invoke('disk.add', { ...vmRef(id), sizeGiB }));
  if (!r.value) return r.error;
  applyVm(r.value);
  closeDialog();
  return null;
}

/** Detach an added disk from the stopped VM; the engine deletes its file. */
export async function removeDisk(id: string, disk: string): Promise<UiError | null> {
  const r = await withPending(id, 'Removing disk…', 'Remove disk', () => getApi().invoke('disk.remove', { ...vmRef(id), disk }));
  if (r.value) applyVm(r.value);
  return r.error;
}

export async function insertCd(id: string, path: string): Promise<UiError | null> {
  const r = await withPending(id, 'Inserting CD…', 'Insert CD', () => getApi().invoke('media.insert', { ...vmRef(id), path }));
  if (!r.value) return r.error;
  applyVm(r.value);
  closeDialog();
  return null;
}

export async function ejectCd(id: string): Promise<UiError | null> {
  const r = await withPending(id, 'Ejecting CD…', 'Eject', () => getApi().invoke('media.eject', vmRef(id)));
  if (r.value) applyVm(r.value);
  else setOp(id, { error: r.error });
  return r.error;
}

/** A GiB count typed in a field: a whole number from 1, or null. */
export function parseGiB(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return n >= 1 && n <= 4096 ? n : null;
}

/** The smallest whole GiB a disk may be grown to: more than it is now. */
export function minGrowGiB(virtualSize: number): number {
  return Math.floor(virtualSize / 2 ** 30) + 1;
}

// ---------------------------------------------------------------------- shares

export async function listShares(id: string): Promise<{ list: ShareInfo[]; error: UiError | null }> {
  try {
    return { list: await getApi().invoke('share.list', vmRef(id)), error: null };
  } catch (err) {
    return { list: [], error: toUiError(err, 'List shared folders') };
  }
}

export async function addShare(id: string, hostPath: string, tag: string, readOnly: boolean): Promise<UiError | null> {
  try {
    await getApi().invoke('share.add', { ...vmRef(id), hostPath, ...(tag ? { tag } : {}), readOnly });
    return null;
  } catch (err) {
    return toUiError(err, 'Share folder');
  }
}

export async function removeShare(id: string, tag: string): Promise<UiError | null> {
  try {
    await getApi().invoke('share.remove', { ...vmRef(id), tag });
    return null;
  } catch (err) {
    return toUiError(err, 'Stop sharing');
  }
}
