// `flotilla clone`: a new VM from a stopped one. A full clone copies each disk with
// `qemu-img convert` (progress from its -p output; internal snapshots are not copied); a linked
// clone gets qcow2 overlays backed by the source's disks, created in a moment. The new VM is built
// in the store's staging directory, so a failure or a killed engine leaves no half-made VM.
//
// A linked clone reads its source's disk on every boot, so that disk must never change again:
// the source then refuses deletion *and* start while linked clones exist (a start would write the
// base under the clones and corrupt them silently; QEMU's image locks only catch it while a clone
// runs). Delete the linked clones, or make full clones, to use the source again.
import { copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { vmConfigSchema, type VmConfig, type VmSpec } from '../../../shared/spec';
import { qemuImgConvert, qemuImgCreateOverlay, qemuImgInfo } from '../images';
import { OVMF_VARS_FILE } from '../qemu-args';
import type { VmStore } from '../vm-store';
import type { OpsContext } from './ops-context';

/** The VMs whose disks are overlays of `id`'s. */
export function linkedClonesOf(store: VmStore, id: string): VmSpec[] {
  return store.list().filter((s) => s.linkedFrom === id);
}

/** Throws INVALID_STATE if `id` has linked clones; `doing` completes "cannot … X". */
export function assertNoLinkedClones(store: VmStore, id: string, doing: string): void {
  const clones = linkedClonesOf(store, id);
  if (clones.length === 0) return;
  const names = clones.map((c) => c.name).join(', ');
  throw new FlotillaError(
    'INVALID_STATE',
    `cannot ${doing} ${store.get(id).name}: its disk is the base of the linked clone${clones.length > 1 ? 's' : ''} ${names}; delete ${clones.length > 1 ? 'them' : 'it'} first`,
    { linkedClones: clones.map((c) => c.id) },
  );
}

export async function cloneVm(ctx: OpsContext, id: string, name: string, linked: boolean, start: boolean): Promise<VmInfo> {
  const spec = await ctx.runJob(id, 'clone', async (signal, progress) => {
    ctx.requireStopped(id, 'cloning it');
    const src = ctx.store.get(id);
    if (src.source.kind === 'disk' && src.source.mode === 'reference') {
      throw new FlotillaError('INVALID_STATE', `${src.name} uses the disk ${src.source.path} in place (by reference); two VMs writing one disk would corrupt it, so it cannot be cloned`);
    }
    if (src.source.kind === 'kernel' && src.source.disk) {
      throw new FlotillaError('INVALID_STATE', `${src.name} uses the disk ${src.source.disk} in place (by reference); two VMs writing one disk would corrupt it, so it cannot be cloned`);
    }
    const srcDir = ctx.layout.vmDir(id);
    const sizes: number[] = [];
    for (const d of src.disks) sizes.push((await qemuImgInfo(join(srcDir, d))).actualSize ?? 1);
    const total = sizes.reduce((a, b) => a + b, 0) || 1;
    const keys = Object.keys(vmConfigSchema.shape) as (keyof VmConfig)[];
    const config = Object.fromEntries(keys.filter((k) => src[k] !== undefined).map((k) => [k, structuredClone(src[k])])) as VmConfig;
    config.name = name;
    // host ports the user pinned belong to the source; the clone gets automatic ones
    config.forwards = config.forwards.map(({ hostPort: _pinned, ...f }) => f);
    return ctx.store.create(config, {
      beforeCommit: async (s, staging) => {
        const report = (pct: number | null, message: string): void => progress({ op: 'clone', percent: pct, message });
        let before = 0;
        for (const [i, d] of src.disks.entries()) {
          const from = join(srcDir, d);
          if (linked) {
            report(null, `linking ${d}`);
            await qemuImgCreateOverlay(join(staging, d), from);
          } else {
            const share = sizes[i]! / total;
            await qemuImgConvert(from, join(staging, d), {
              outFormat: 'qcow2',
              srcFormat: 'qcow2',
              signal,
              onProgress: (p) => report(Math.floor((before + (share * p) / 100) * 100), `copying ${d}`),
            });
            before += share;
          }
        }
        if (src.firmware === 'uefi' && (await stat(join(srcDir, OVMF_VARS_FILE)).catch(() => null))) {
          await copyFile(join(srcDir, OVMF_VARS_FILE), join(staging, OVMF_VARS_FILE));
        }
        s.disks.push(...src.disks);
        if (linked) s.linkedFrom = id;
      },
    });
  });
  return ctx.added(spec, start);
}
