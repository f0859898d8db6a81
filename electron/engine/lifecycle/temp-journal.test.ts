// The temp-file journal: what a killed export left next to its destination is removed by the next
// engine, and a record can never make it remove a file that is not one of its partials.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partialNameFor, TempJournal } from './temp-journal';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-journal-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('TempJournal', () => {
  it('sweeps journaled partials and forgets what was untracked', async () => {
    // a folder of its own: it lists everything in it
    const own = await mkdtemp(join(tmpdir(), 'flotilla-journal-'));
    const j = new TempJournal(join(own, 'partials'));
    const left = join(own, partialNameFor(join(own, 'a.flotilla')));
    const done = join(own, partialNameFor(join(own, 'b.flotilla')));
    await writeFile(left, 'half');
    await writeFile(done, 'whole');
    await j.track(left);
    const untrack = await j.track(done);
    await untrack();
    expect(await new TempJournal(join(own, 'partials')).sweep()).toEqual([left]);
    expect((await readdir(own)).sort()).toEqual([done.slice(own.length + 1), 'partials'].sort());
    expect(await readdir(join(own, 'partials'))).toEqual([]);
    await rm(own, { recursive: true, force: true });
  });

  it('refuses to track, and never removes, a path without the partial mark', async () => {
    const j = new TempJournal(join(dir, 'p2'));
    await expect(j.track(join(dir, 'precious.txt'))).rejects.toThrow(/must carry/);
    const precious = join(dir, 'precious.txt');
    await writeFile(precious, 'keep');
    // a record naming a user's file (hand-edited, or damaged): ignored, and the file stays
    await mkdir(join(dir, 'p2'), { recursive: true });
    await writeFile(join(dir, 'p2', 'x.json'), JSON.stringify({ path: precious }));
    expect(await j.sweep()).toEqual([]);
    expect(await readdir(dir)).toContain('precious.txt');
  });
});
