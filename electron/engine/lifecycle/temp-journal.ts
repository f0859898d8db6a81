// A journal of temp files the engine makes *outside* its data directory (an export's partial
// archive next to the user's destination). A killed engine cannot clean those up itself, and the
// next engine has no directory of its own to sweep for them, so each one is recorded here before
// it is created and forgotten once it is renamed into place or removed. sweep() at engine start
// removes what a killed engine left behind.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../atomic-file';

/** Every journaled temp file's name contains this, so a damaged record can never name a user's file. */
export const PARTIAL_MARK = '.flotilla-partial-';

export function partialNameFor(dest: string): string {
  return `.${basename(dest)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`;
}

export class TempJournal {
  constructor(private readonly dir: string) {}

  /** Records `path` (which must carry PARTIAL_MARK); the returned function forgets it again. */
  async track(path: string): Promise<() => Promise<void>> {
    if (!basename(path).includes(PARTIAL_MARK)) throw new Error(`journaled temp files must carry ${PARTIAL_MARK}: ${path}`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const record = join(this.dir, `${randomBytes(8).toString('hex')}.json`);
    await writeFileAtomic(record, JSON.stringify({ path }) + '\n');
    return () => rm(record, { force: true });
  }

  /** Removes every journaled temp file and its record. Only the engine owning the data directory calls it. */
  async sweep(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const removed: string[] = [];
    for (const n of names) {
      const record = join(this.dir, n);
      try {
        const { path } = JSON.parse(await readFile(record, 'utf8')) as { path?: unknown };
        if (typeof path === 'string' && path.startsWith('/') && basename(path).includes(PARTIAL_MARK)) {
          await rm(path, { force: true });
          removed.push(path);
        }
      } catch {
        // a torn record (killed mid-write is impossible with writeFileAtomic, but a hand edit is not): drop it
      }
      await rm(record, { force: true });
    }
    return removed;
  }
}
