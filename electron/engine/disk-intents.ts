// How adding and removing a VM's added disk survive a killed engine without deleting anything the
// user did not ask to delete. While the change is in flight the file's name carries what it is for:
//   add:    qemu-img makes `extra-<n>.qcow2.adding`; the spec names extra-<n>.qcow2; the file is renamed to that.
//   remove: the file is renamed to `extra-<n>.qcow2.removing`; the spec forgets it; the file is deleted.
// The store settles what a killed engine left when it loads (settleDiskIntents): an .adding file
// the spec names is finished (renamed), one it does not name is deleted (that add never reached
// the spec); a .removing file is deleted and dropped from the spec (its rename was the remove
// committing). A plain extra-<n>.qcow2 that no spec names is left alone: it can be a user's data,
// say beside a vm.json restored from a backup, and only the engine's own intents delete a file.
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXTRA_DISK_RE } from './qemu-block-args';

export const ADDING_SUFFIX = '.adding';
export const REMOVING_SUFFIX = '.removing';

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

export interface SettledDisks {
  /** the spec's disks afterwards */
  disks: string[];
  /** whether they differ from the spec's (the store writes them back) */
  changed: boolean;
}

/** Finishes or rolls back the disk adds and removes a killed engine left in `dir`, whose spec names `disks`. */
export async function settleDiskIntents(dir: string, disks: readonly string[]): Promise<SettledDisks> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let next = [...disks];
  for (const n of names) {
    if (n.endsWith(REMOVING_SUFFIX) && EXTRA_DISK_RE.test(n.slice(0, -REMOVING_SUFFIX.length))) {
      next = next.filter((d) => d !== n.slice(0, -REMOVING_SUFFIX.length));
      await rm(join(dir, n), { force: true });
    } else if (n.endsWith(ADDING_SUFFIX) && EXTRA_DISK_RE.test(n.slice(0, -ADDING_SUFFIX.length))) {
      const disk = n.slice(0, -ADDING_SUFFIX.length);
      if (next.includes(disk) && !(await exists(join(dir, disk)))) await rename(join(dir, n), join(dir, disk));
      else await rm(join(dir, n), { force: true });
    }
  }
  return { disks: next, changed: next.length !== disks.length };
}
