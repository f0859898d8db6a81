// "No space left on device" in words a user can act on. Node reports a failed write() as
// "ENOSPC: no space left on device, write" with no path (the fd has none), so every place that
// writes into the data directory names its file here, and the engine's last resort names the
// data directory itself.
import { dirname } from 'node:path';
import { FlotillaError } from '../../shared/errors';

export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** qemu-img and QEMU say it in their stderr. */
export function mentionsNoSpace(text: string): boolean {
  return /No space left on device|Disk quota exceeded/i.test(text);
}

/**
 * DISK_FULL naming the file that could not be written (or, when no one file is to blame, the
 * data directory) and what to do about it.
 */
export function diskFullError(path: string, opts: { dataDir?: boolean } = {}): FlotillaError<'DISK_FULL'> {
  const where = opts.dataDir ? path : dirname(path);
  const head = opts.dataDir ? `no space left on the filesystem holding the data directory ${path}` : `no space left on device to write ${path}`;
  return new FlotillaError(
    'DISK_FULL',
    `${head}: free space on that filesystem (see \`df -h ${where}\`) or set FLOTILLA_HOME to a larger one, then try again`,
    { path },
  );
}

/** Runs fn; an ENOSPC/EDQUOT from it becomes DISK_FULL naming `path`. */
export async function namingFullDisk<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isNoSpace(err)) throw diskFullError(path);
    throw err;
  }
}
