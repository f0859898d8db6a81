// The per-VM handles of the `local` host (the seam's VmHandle): a supervised VM's operations,
// each a one-line forward to its Supervisor (which runs it as a job of the VM's queue) or to a
// lifecycle/ job body; and what a broken VM (unreadable vm.json) can still do. Kept apart from
// local-host.ts, which owns the store, the allocator and the supervisors' life.
import { FlotillaError } from '../../../shared/errors';
import type { VmInfo } from '../../../shared/contract';
import type { VmPatch, VmSpec } from '../../../shared/spec';
import { isActive, pausedRefusal } from '../../../shared/state';
import type { DisplayProxy } from '../display-proxy';
import { assertMemoryFits, readHostMemory } from '../host-memory';
import { cloneVm } from '../lifecycle/clone';
import { addDisk, listDisks, removeDisk, resizeDisk } from '../lifecycle/disks';
import { applyLiveForwards, type LiveForwardDeps } from '../lifecycle/live-forwards';
import { ejectMedia, insertMedia } from '../lifecycle/media';
import type { OpsContext } from '../lifecycle/ops-context';
import { addShare, listShares, removeShare, type ShareOps } from '../lifecycle/shares';
import { createSnapshot, deleteSnapshot, listSnapshots, revertSnapshot } from '../lifecycle/snapshots';
import { exportVm } from '../lifecycle/transfer';
import type { StatsSampler } from '../stats';
import type { Supervisor } from '../supervisor';
import type { VmHandle } from './host';

export interface LocalVmDeps {
  id: string;
  ops: OpsContext;
  display: DisplayProxy;
  sampler: StatsSampler;
  updateSpec(patch: VmPatch): Promise<VmSpec>;
  startWarnings(): Promise<string[]>;
  changed(): void;
  setShares: ShareOps['setShares'];
  /** the port table and QEMU's monitor, for forwards changed while it runs */
  liveForwards: LiveForwardDeps;
}

export function localVmHandle(sup: Supervisor, d: LocalVmDeps): VmHandle {
  const { id, ops } = d;
  const shareOps: ShareOps = { ctx: ops, helpers: () => sup.shareHelpers, setShares: d.setShares };
  return {
    start: (o) => sup.start(o),
    startWarnings: () => d.startWarnings(),
    stop: (o) => sup.stop(o),
    restart: () => sup.restart(),
    pause: () => sup.pause(),
    resume: () => sup.resume(),
    update: async (patch: VmPatch) => {
      // checked inside the VM's job, so the update keeps its place in the queue
      await sup.update(patch, async (changed) => {
        if (patch.memoryMiB !== undefined) assertMemoryFits(patch.memoryMiB, await readHostMemory(), ['patch', 'memoryMiB']);
        const before = sup.spec;
        const live = isActive(sup) && changed.includes('forwards');
        if (live && sup.state !== 'running' && sup.state !== 'paused') {
          throw new FlotillaError('INVALID_STATE', `wait until ${before.name} is running or stopped to change its port forwards (it is ${sup.state})`);
        }
        // the spec first: a kill -9 after it leaves the user's choice written (and the adopting
        // engine finishes giving it to QEMU, live-forwards.ts)
        const spec = await d.updateSpec(patch);
        if (!live) return spec;
        try {
          await applyLiveForwards(d.liveForwards, spec.forwards);
        } catch (err) {
          // the whole update is refused: what else it changed goes back too
          const undo: VmPatch = Object.fromEntries(changed.map((k) => [k, before[k]]));
          await d.updateSpec(undo).catch((e: unknown) => sup.lifecycle(`could not put back the settings in vm.json: ${(e as Error).message}`));
          throw err;
        }
        return spec;
      });
      d.changed();
    },
    exec: async (command, o) => (await agentOf(sup)).exec(command, o),
    readFile: async (path, range) => (await agentOf(sup)).readFile(path, range),
    writeFile: async (path, data, opts) => (await agentOf(sup)).writeFile(path, data, opts),
    logs: (tail) => sup.logs(tail),
    consoleSubscribe: (key, cb) => sup.console.subscribe(key, cb),
    consoleUnsubscribe: (key) => sup.console.unsubscribe(key),
    consoleInput: (data) => sup.console.write(data),
    thumbnailSubscribe: (key, cb) => {
      if (sup.spec.display !== 'vnc') throw new FlotillaError('INVALID_STATE', `${sup.spec.name} has no display`);
      return sup.thumbnails.subscribe(key, cb);
    },
    thumbnailUnsubscribe: (key) => sup.thumbnails.unsubscribe(key),
    displayUrl: () => d.display.open(id),
    stats: async () => (sup.pid !== null && isActive(sup) ? d.sampler.sample(sup.pid) : null),
    exportTo: (path, force) => exportVm(ops, id, path, force),
    clone: (newName, o) => cloneVm(ops, id, newName, o.linked, o.start),
    disks: () => listDisks(ops, id),
    resizeDisk: (disk, sizeGiB) => resizeDisk(ops, id, disk, sizeGiB),
    addDisk: async (sizeGiB) => void (await addDisk(ops, id, sizeGiB)),
    removeDisk: async (disk) => void (await removeDisk(ops, id, disk)),
    changeMedia: async (iso) => void (await (iso === null ? ejectMedia(ops, id) : insertMedia(ops, id, iso))),
    snapshots: () => listSnapshots(ops, id),
    snapshotCreate: (name, o) => createSnapshot(ops, id, name, o.diskOnly),
    snapshotRevert: (name) => revertSnapshot(ops, id, name),
    snapshotDelete: (name) => deleteSnapshot(ops, id, name),
    shares: async () => listShares(shareOps, id),
    shareAdd: (share) => addShare(shareOps, id, share),
    shareRemove: (tag) => removeShare(shareOps, id, tag),
    cancelJob: () => sup.cancelJob(),
  };
}

export interface BrokenVmDeps {
  info(): VmInfo;
  /** read vm.json again and supervise the VM; INVALID_STATE while it is still unreadable */
  repair(): Promise<Supervisor>;
  /** end the QEMU it left running (proved ours first) */
  forceStop(): Promise<void>;
}

/** What a broken VM can do: be repaired and started, force-stopped, or deleted (host.delete). */
export function brokenVmHandle(d: BrokenVmDeps): VmHandle {
  const refuse = (): never => {
    throw new FlotillaError('INVALID_STATE', d.info().reason, { broken: true });
  };
  return {
    start: async (o) => {
      const sup = await d.repair();
      if (!isActive(sup)) await sup.start(o);
    },
    stop: async (o) => {
      if (!o.force) refuse();
      await d.forceStop();
    },
    restart: refuse,
    pause: refuse,
    resume: refuse,
    update: refuse,
    exec: refuse,
    readFile: refuse,
    writeFile: refuse,
    logs: async () => [],
    consoleSubscribe: refuse,
    consoleUnsubscribe: () => undefined,
    consoleInput: refuse,
    thumbnailSubscribe: refuse,
    thumbnailUnsubscribe: () => undefined,
    displayUrl: refuse,
    stats: async () => null,
  };
}

/** The agent for a command or a file; a paused guest's cannot answer, which is said at once (it waited 30 s, then blamed the agent). */
function agentOf(sup: Supervisor) {
  if (sup.state === 'paused') return Promise.reject(new FlotillaError('INVALID_STATE', pausedRefusal(sup.spec.name)));
  return sup.agentClient();
}
