// `flotilla disk resize|add|rm|list`: a VM's own disks. A resize grows a disk, online through QMP
// `block_resize` while QEMU runs (the guest sees the new capacity at once) or offline with
// `qemu-img resize`. Both would shrink a disk without a word, destroying whatever lies past the new
// end, so grow-only is enforced here, against the size QEMU (online) or qemu-img (offline) reports.
// An added disk is a blank qcow2 named extra-<n>.qcow2 (qemu-args attaches those after the boot disk).
// Only such a disk can be removed, from a stopped VM, and never while a snapshot or a linked clone
// needs it. An add or remove killed halfway is finished or rolled back at the next engine start by
// the names its file had meanwhile (disk-intents.ts); a file no spec names is never deleted.
import { execFile } from 'node:child_process';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskInfo, VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmSpec } from '../../../shared/spec';
import { ADDING_SUFFIX, REMOVING_SUFFIX } from '../disk-intents';
import { assertGrows, listed, madeWith, snapshotsNeedIt } from '../disk-words';
import { QEMU_IMG, qemuImgCreate, qemuImgInfo } from '../images';
import { EXTRA_DISK_RE } from '../qemu-args';
import { assertNoLinkedClones, linkedClonesOf } from './clone';
import type { OpsContext } from './ops-context';

const GiB = 2 ** 30;

function diskName(spec: VmSpec, disk: string | undefined): string {
  if (spec.disks.length === 0) {
    throw new FlotillaError('INVALID_STATE', `${spec.name} has no disk of its own${spec.source.kind === 'disk' || spec.source.kind === 'kernel' ? ' (its disk is used in place, by reference)' : ''}; add one with \`flotilla disk add\``);
  }
  const name = disk ?? spec.disks[0]!;
  if (!spec.disks.includes(name)) throw new FlotillaError('NOT_FOUND', `${spec.name} has no disk ${name}; its disks are ${spec.disks.join(', ')}`);
  return name;
}

interface BlockNode {
  'node-name': string;
  drv: string;
  file: string;
  image: { filename: string; 'virtual-size': number };
}

async function qcow2Node(ctx: OpsContext, id: string, path: string): Promise<BlockNode> {
  const nodes = await ctx.qmp<BlockNode[]>(id, 'query-named-block-nodes', { flat: true });
  const node = nodes.find((n) => n.drv === 'qcow2' && n.file === path);
  if (!node) throw new FlotillaError('QMP_ERROR', `QEMU of ${ctx.store.get(id).name} has no qcow2 node for ${path}`);
  return node;
}

/** A disk `flotilla disk add` made. (The first disk of a VM made from an image, an ISO or the built-in Linux is its system disk.) */
const isAdded = (spec: VmSpec, name: string): boolean => EXTRA_DISK_RE.test(name) && (name !== spec.disks[0] || spec.source.kind === 'kernel');

/**
 * Why `name` must stay whatever the VM's state, or null: a clause about "it" (the disk), which the
 * UI shows on the disk's row and the refusal puts after the disk's name. `snapshots`: those its file holds.
 */
function keptBecause(ctx: OpsContext, spec: VmSpec, name: string, snapshots: readonly string[]): string | null {
  if (!isAdded(spec, name)) return madeWith(spec.name);
  const snaps = snapshotsNeedIt(snapshots);
  if (snaps) return snaps;
  const clones = linkedClonesOf(ctx.store, spec.id);
  if (clones.length === 1) return `the linked clone ${clones[0]!.name} reads through to it; delete that clone first`;
  if (clones.length) return `the linked clones ${listed(clones.map((c) => c.name))} read through to it; delete them first`;
  return null;
}

export async function listDisks(ctx: OpsContext, id: string): Promise<DiskInfo[]> {
  const spec = ctx.store.get(id);
  const dir = ctx.layout.vmDir(id);
  return Promise.all(
    spec.disks.map(async (name) => {
      const i = await qemuImgInfo(join(dir, name));
      const kept = keptBecause(ctx, spec, name, i.snapshots ?? []);
      return {
        name,
        virtualSize: i.virtualSize,
        actualSize: i.actualSize ?? null,
        ...(i.backingFile ? { backingFile: i.backingFile } : {}),
        added: isAdded(spec, name),
        ...(kept ? { keptBecause: kept } : {}),
        ...(spec.source.kind === 'default' && isAdded(spec, name) ? { guestMount: `/mnt/${name.replace(/\.qcow2$/, '')}` } : {}),
      };
    }),
  );
}

export async function resizeDisk(ctx: OpsContext, id: string, disk: string | undefined, sizeGiB: number): Promise<DiskInfo> {
  return ctx.runJob(id, 'disk-resize', async () => {
    const spec = ctx.store.get(id);
    const name = diskName(spec, disk);
    assertNoLinkedClones(ctx.store, id, 'resize the disk of');
    const path = join(ctx.layout.vmDir(id), name);
    const want = sizeGiB * GiB;
    const state = ctx.state(id);
    const growOnly = (current: number): void => assertGrows(name, spec.name, current, want);
    if (state === 'running' || state === 'paused') {
      const node = await qcow2Node(ctx, id, path);
      growOnly(node.image['virtual-size']);
      await ctx.qmp(id, 'block_resize', { 'node-name': node['node-name'], size: want });
      const after = await qcow2Node(ctx, id, path);
      if (after.image['virtual-size'] !== want) throw new FlotillaError('QMP_ERROR', `block_resize left ${name} at ${after.image['virtual-size']} bytes, not ${want}`);
      ctx.changed(id);
      return { name, virtualSize: want, actualSize: null, online: true };
    }
    if (state !== 'stopped' && state !== 'crashed') throw new FlotillaError('INVALID_STATE', `${spec.name} is ${state}; resize it once it is running or stopped`);
    growOnly((await qemuImgInfo(path)).virtualSize);
    await new Promise<void>((resolve, reject) =>
      execFile(QEMU_IMG, ['resize', '-q', '-f', 'qcow2', path, String(want)], (err, _o, stderr) =>
        err ? reject(new FlotillaError('IMAGE_ERROR', `qemu-img resize failed for ${path}: ${stderr.trim() || err.message}`)) : resolve(),
      ),
    );
    ctx.changed(id);
    return { name, virtualSize: (await qemuImgInfo(path)).virtualSize, actualSize: null, online: false };
  });
}

export async function addDisk(ctx: OpsContext, id: string, sizeGiB: number): Promise<VmInfo> {
  await ctx.runJob(id, 'disk-add', async () => {
    ctx.requireStopped(id, 'adding a disk');
    const spec = ctx.store.get(id);
    const dir = ctx.layout.vmDir(id);
    let n = 1;
    const used = new Set(spec.disks.map((d) => EXTRA_DISK_RE.exec(d)?.[1]).filter(Boolean).map(Number));
    // a file no spec names keeps its name: it may be someone's data
    while (used.has(n) || (await stat(join(dir, `extra-${n}.qcow2`)).catch(() => null))) n++;
    if (spec.disks.length >= 8) throw new FlotillaError('BAD_REQUEST', `${spec.name} already has ${spec.disks.length} disks; 8 is the most Flotilla attaches`);
    const name = `extra-${n}.qcow2`;
    // made as extra-<n>.qcow2.adding, which the spec then names; killed before it does, the file goes at the next start
    const adding = join(dir, name + ADDING_SUFFIX);
    try {
      await qemuImgCreate(adding, sizeGiB, 'qcow2');
      await ctx.store.setDisks(id, [...spec.disks, name]);
    } catch (err) {
      await rm(adding, { force: true });
      throw err;
    }
    await rename(adding, join(dir, name));
  });
  ctx.changed(id);
  return ctx.info(id);
}

export async function removeDisk(ctx: OpsContext, id: string, disk: string): Promise<VmInfo> {
  await ctx.runJob(id, 'disk-remove', async () => {
    const spec = ctx.store.get(id);
    const name = diskName(spec, disk);
    ctx.requireStopped(id, 'removing a disk');
    const path = join(ctx.layout.vmDir(id), name);
    // a disk whose file is gone can still leave the spec (that is the repair)
    const present = await stat(path).then(() => true, () => false);
    const kept = keptBecause(ctx, spec, name, present ? ((await qemuImgInfo(path)).snapshots ?? []) : []);
    if (kept) throw new FlotillaError('INVALID_STATE', `cannot remove ${name} from ${spec.name}: ${kept}`);
    // the rename commits the remove: killed after it, the next start finishes it (disk-intents.ts)
    const removing = path + REMOVING_SUFFIX;
    if (present) await rename(path, removing);
    try {
      await ctx.store.setDisks(id, spec.disks.filter((d) => d !== name));
    } catch (err) {
      if (present) await rename(removing, path);
      throw err;
    }
    await rm(removing, { force: true });
  });
  ctx.changed(id);
  return ctx.info(id);
}
