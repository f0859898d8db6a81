// `flotilla media insert|eject`: the CD of a running or stopped VM, which is how a user finishes
// an OS install (eject the installer) or swaps discs. A running VM's drive changes through QMP
// (blockdev-change-medium / eject, addressed by the drive's qdev id, so it works the same for
// -drive and -blockdev); the spec records the medium either way, so the next boot has it too.
// A running VM without a drive cannot get one (IDE has no hotplug): it says to stop it first.
import type { VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { assertReadableFile, inspectPath } from '../images';
import { CDROM_QDEV_ID, cdromMedium } from '../qemu-args';
import type { OpsContext } from './ops-context';

export async function insertMedia(ctx: OpsContext, id: string, iso: string): Promise<VmInfo> {
  await assertReadableFile(iso, 'iso');
  const info = await inspectPath(iso, 'iso');
  if (info.format !== 'iso') throw new FlotillaError('WRONG_FILE_TYPE', `${iso} is not an ISO image (it looks like ${info.format ?? 'no known format'})`, { path: iso, expected: 'iso', found: info.format });
  return changeMedia(ctx, id, iso);
}

export function ejectMedia(ctx: OpsContext, id: string): Promise<VmInfo> {
  return changeMedia(ctx, id, null);
}

async function changeMedia(ctx: OpsContext, id: string, iso: string | null): Promise<VmInfo> {
  await ctx.runJob(id, iso === null ? 'media-eject' : 'media-insert', async () => {
    const spec = ctx.store.get(id);
    const state = ctx.state(id);
    const had = cdromMedium(spec);
    if (iso === null && (had === undefined || had === null)) throw new FlotillaError('INVALID_STATE', `${spec.name} has no disc to eject`);
    if (state === 'running' || state === 'paused') {
      if (had === undefined) throw new FlotillaError('INVALID_STATE', `${spec.name} has no CD drive while it runs; stop it, insert the ISO, and start it again`);
      if (iso === null) await ctx.qmp(id, 'eject', { id: CDROM_QDEV_ID, force: true });
      else await ctx.qmp(id, 'blockdev-change-medium', { id: CDROM_QDEV_ID, filename: iso, format: 'raw', 'read-only-mode': 'read-only' });
    } else if (state !== 'stopped' && state !== 'crashed') {
      throw new FlotillaError('INVALID_STATE', `${spec.name} is ${state}; change its CD once it is running or stopped`);
    }
    await ctx.store.setMedia(id, iso);
  });
  ctx.changed(id);
  return ctx.info(id);
}
