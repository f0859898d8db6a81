import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settleDiskIntents } from './disk-intents';

describe('settleDiskIntents (what a killed disk add or remove left)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flo-intents-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const files = async (): Promise<string[]> => (await readdir(dir)).sort();

  it('finishes an add the spec already names and rolls back one it does not', async () => {
    await writeFile(join(dir, 'extra-1.qcow2.adding'), 'named');
    await writeFile(join(dir, 'extra-2.qcow2.adding'), 'not named');
    const r = await settleDiskIntents(dir, ['disk.qcow2', 'extra-1.qcow2']);
    expect(r).toEqual({ disks: ['disk.qcow2', 'extra-1.qcow2'], changed: false });
    expect(await files()).toEqual(['extra-1.qcow2']);
    expect(await readFile(join(dir, 'extra-1.qcow2'), 'utf8')).toBe('named');
  });

  it('finishes a remove whose file was renamed, whether or not the spec had forgotten it yet', async () => {
    await writeFile(join(dir, 'extra-1.qcow2.removing'), 'x');
    await writeFile(join(dir, 'extra-3.qcow2.removing'), 'x');
    await writeFile(join(dir, 'extra-2.qcow2'), 'kept');
    const r = await settleDiskIntents(dir, ['disk.qcow2', 'extra-1.qcow2', 'extra-2.qcow2']);
    expect(r).toEqual({ disks: ['disk.qcow2', 'extra-2.qcow2'], changed: true });
    expect(await files()).toEqual(['extra-2.qcow2']);
  });

  it('never deletes an added-disk file no spec names, nor files that only look like intents', async () => {
    for (const n of ['extra-7.qcow2', 'disk.qcow2.removing', 'notes.adding', 'extra-x.qcow2.removing']) await writeFile(join(dir, n), 'data');
    // and an .adding beside a finished file of its name keeps the finished one
    await writeFile(join(dir, 'extra-4.qcow2'), 'finished');
    await writeFile(join(dir, 'extra-4.qcow2.adding'), 'stale');
    const r = await settleDiskIntents(dir, ['disk.qcow2', 'extra-4.qcow2']);
    expect(r.changed).toBe(false);
    expect(await files()).toEqual(['disk.qcow2.removing', 'extra-4.qcow2', 'extra-7.qcow2', 'extra-x.qcow2.removing', 'notes.adding']);
    expect(await readFile(join(dir, 'extra-4.qcow2'), 'utf8')).toBe('finished');
  });
});
