// Crash-safe file replacement: readers see the old file or the new one, never a torn write.
// Write a temp file in the same directory, fsync it, rename over the target, fsync the directory.
import { randomBytes } from 'node:crypto';
import { link, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import { diskFullError, isNoSpace } from './disk-full';

/** Every temp file ends with this, so a restart can find and remove leftovers of a killed writer. */
export const TMP_SUFFIX = '.flotilla-tmp';

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}${TMP_SUFFIX}`);
}

/** Makes a rename or a new name in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/** A full disk is a DISK_FULL error naming `path` (Node's own says "ENOSPC …, write" and no file). */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  try {
    await writeAndRename(path, data, mode);
  } catch (err) {
    throw isNoSpace(err) ? diskFullError(path) : err;
  }
}

async function writeAndRename(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const fd = await open(tmp, 'wx', mode);
    try {
      await fd.writeFile(data);
      await fd.sync();
    } finally {
      await fd.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dirname(path));
}

/**
 * Makes a file with a tool (qemu-img, …) atomically: `make` writes the temp path it is given, which
 * is then fsynced and renamed onto target. A crash leaves either no target or a complete one, plus
 * at most a temp file that cleanupTempFiles removes. Refuses to replace an existing target unless
 * `replace` (a copy the user asked to overwrite with).
 */
export async function produceFileAtomic(target: string, make: (tmp: string) => Promise<void>, opts: { replace?: boolean } = {}): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    await make(tmp);
    const fd = await open(tmp, 'r+');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
    // link() fails with EEXIST where rename() would silently replace a file made meanwhile
    if (opts.replace) await rename(tmp, target);
    else await link(tmp, target);
  } catch (err) {
    // a full disk is about the file the user will look for, not our temp name for it
    const full = isNoSpace(err) || (err instanceof FlotillaError && err.code === 'DISK_FULL');
    throw full ? diskFullError(target) : err;
  } finally {
    await rm(tmp, { force: true });
  }
  await fsyncDir(dirname(target));
}

/**
 * Removes temp files left by a writer that was killed mid-write. Call it only while owning the
 * directory (the engine holds run/engine.sock), or it could remove a live writer's temp file.
 */
export async function cleanupTempFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const stale = names.filter((n) => n.endsWith(TMP_SUFFIX));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale.length;
}
