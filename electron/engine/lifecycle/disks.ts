// `flotilla disk resize|add|list`: a VM's own disks. A resize grows a disk, online through QMP
// `block_resize` while QEMU runs (the guest sees the new capacity at once) or offline with
// `qemu-img resize`. Both would shrink a disk without a word, destroying whatever lies past the new
// end, so grow-only is enforced here, against the size QEMU (online) or qemu-img (offline) reports.
// An added disk is a blank qcow2 named extra-<n>.qcow2 (qemu-args attaches those after the boot disk).
import { execFile } from 'node:child_process';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskInfo, VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmSpec } from '../../../shared/spec';
import { TMP_SUFFIX } from '../atomic-file';
import { QEMU_IMG, qemuImgCreate, qemuImgInfo } from '../images';
import { EXTRA_DISK_RE } from '../qemu-args';
import { assertNoLinkedClones } from './clone';
import type { OpsContext } from './ops-context';

const GiB = 2 ** 30;

function fmtGiB(bytes: number): string {
  const g = bytes / GiB;
  return Number.isInteger(g) ? `${g} GiB` : `${g.toFixed(2)} GiB`;
}

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

export async function listDisks(ctx: OpsContext, id: string): Promise<DiskInfo[]> {
  const spec = ctx.store.get(id);
  const dir = ctx.layout.vmDir(id);
  return Promise.all(
    spec.disks.map(async (name) => {
      const i = await qemuImgInfo(join(dir, name));
      return { name, virtualSize: i.virtualSize, actualSize: i.actualSize ?? null, ...(i.backingFile ? { backingFile: i.backingFile } : {}) };
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
    const growOnly = (current: number): void => {
      if (want <= current) {
        const message = `${name} of ${spec.name} is ${fmtGiB(current)}; a resize must make it larger (shrinking would destroy data and is refused)`;
        throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'sizeGiB', message }] });
      }
    };
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
    // a name left by an add that died before the spec was written is skipped, not overwritten
    while (used.has(n) || (await stat(join(dir, `extra-${n}.qcow2`)).catch(() => null))) n++;
    if (spec.disks.length >= 8) throw new FlotillaError('BAD_REQUEST', `${spec.name} already has ${spec.disks.length} disks; 8 is the most Flotilla attaches`);
    const name = `extra-${n}.qcow2`;
    // made under a temp name (swept at engine start) and renamed only when complete
    const tmp = join(dir, `.${name}${TMP_SUFFIX}`);
    try {
      await qemuImgCreate(tmp, sizeGiB, 'qcow2');
      await rename(tmp, join(dir, name));
    } finally {
      await rm(tmp, { force: true });
    }
    await ctx.store.setDisks(id, [...spec.disks, name]);
  });
  ctx.changed(id);
  return ctx.info(id);
}
