// A UEFI domain's firmware variables (its boot entries among them), copied for its clone as
// virt-clone copies them. libvirt picks the firmware when the domain starts and keeps the store
// at NAME_VARS.fd in its nvram directory, named nowhere in the inactive definition; a clone
// without a copy would start from the blank template, and an installed system whose only way to
// boot is its boot entry would not boot. libvirt copies files only between volumes of a pool, so
// the copy goes through a transient pool over that directory (as virt-clone manages a path that
// no pool holds), destroyed afterwards. The clone's libvirt then finds NAME_VARS.fd there and
// uses it. Only a system connection's directory is known (qemu.conf's default); on a session
// connection the clone gets a blank store. The copy is in the volume journal until the clone is
// defined, so a killed engine's is deleted by the next one.
import { randomBytes } from 'node:crypto';
import type { Virsh } from './virsh';
import type { VolumeJournal } from './volume-journal';

/** Where a system connection's libvirt keeps UEFI variable stores (qemu.conf's nvram_dir by default). */
export const SYSTEM_NVRAM_DIR = '/var/lib/libvirt/qemu/nvram';

export const varsName = (domain: string): string => `${domain}_VARS.fd`;

/** A system connection, whose libvirt keeps the stores in SYSTEM_NVRAM_DIR (a session one's directory is unknown here). */
export const onSystemConnection = (virsh: Virsh): boolean => /\/system(\?|$)/.test(virsh.currentUri());

/** Runs `fn` with a transient pool over `dir`, named for this use; the pool goes afterwards (its files stay). */
export async function withDirPool<T>(virsh: Virsh, dir: string, fn: (pool: string) => Promise<T>): Promise<T> {
  const pool = `flotilla-dir-${randomBytes(4).toString('hex')}`;
  await virsh.run(['pool-create-as', '--name', pool, '--type', 'dir', '--target', dir]);
  try {
    return await fn(pool);
  } finally {
    await virsh.run(['pool-destroy', '--pool', pool]).catch(() => undefined);
  }
}

/**
 * Copies the UEFI variable store of the shut-off domain `srcName` for its clone `name` (UUID
 * `uuid`), when the host's libvirt is a system one and the source has a store (it has started
 * once). Returns the undo: the copy deleted, for a clone that failed after it; null when there
 * was nothing to copy. The returned `forget` drops the journal's record once the clone is defined.
 */
export async function copyNvram(virsh: Virsh, journal: VolumeJournal, srcName: string, name: string, uuid: string): Promise<{ undo: () => Promise<void>; forget: () => Promise<void> } | null> {
  if (!onSystemConnection(virsh)) return null;
  return withDirPool(virsh, SYSTEM_NVRAM_DIR, async (pool) => {
    const have = await virsh.run(['vol-info', '--pool', pool, '--vol', varsName(srcName)]).then(() => true, () => false);
    if (!have) return null;
    const forget = await journal.track(pool, varsName(name), uuid, SYSTEM_NVRAM_DIR);
    // one left by an earlier domain of that name (undefined without its store) would be the clone's
    await virsh.run(['vol-delete', '--pool', pool, '--vol', varsName(name)]).catch(() => undefined);
    await virsh.run(['vol-clone', '--pool', pool, '--vol', varsName(srcName), '--newname', varsName(name)]);
    const undo = (): Promise<void> => withDirPool(virsh, SYSTEM_NVRAM_DIR, (p) => virsh.run(['vol-delete', '--pool', p, '--vol', varsName(name)])).then(() => undefined);
    return { undo, forget };
  });
}

/**
 * Puts a local variable store (an import's) where the host's libvirt looks for domain `name`'s,
 * on a system connection (else null: the domain starts from the blank template). Journaled as
 * copyNvram's copy; `undo` and `forget` as there.
 */
export async function uploadNvram(virsh: Virsh, journal: VolumeJournal, name: string, uuid: string, localFile: string, size: number): Promise<{ undo: () => Promise<void>; forget: () => Promise<void> } | null> {
  if (!onSystemConnection(virsh)) return null;
  return withDirPool(virsh, SYSTEM_NVRAM_DIR, async (pool) => {
    const forget = await journal.track(pool, varsName(name), uuid, SYSTEM_NVRAM_DIR);
    // one left by an earlier domain of that name (undefined without its store) would be this one's
    await virsh.run(['vol-delete', '--pool', pool, '--vol', varsName(name)]).catch(() => undefined);
    try {
      await virsh.run(['vol-create-as', '--pool', pool, '--name', varsName(name), '--capacity', `${size}b`, '--format', 'raw']);
      await virsh.run(['vol-upload', '--pool', pool, '--vol', varsName(name), '--file', localFile]);
    } catch (err) {
      await virsh.run(['vol-delete', '--pool', pool, '--vol', varsName(name)]).catch(() => undefined);
      await forget();
      throw err;
    }
    const undo = (): Promise<void> => withDirPool(virsh, SYSTEM_NVRAM_DIR, (p) => virsh.run(['vol-delete', '--pool', p, '--vol', varsName(name)])).then(() => undefined);
    return { undo, forget };
  });
}
