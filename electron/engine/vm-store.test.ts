import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TMP_SUFFIX } from './atomic-file';
import { HomeLayout } from './paths';
import { VmStore, type SkippedSpec } from './vm-store';

let home: string;
let layout: HomeLayout;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'flo-store-'));
  layout = new HomeLayout(home);
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function fresh(): Promise<VmStore> {
  const s = new VmStore(layout);
  await s.load();
  return s;
}

const vmDirs = async () => (await readdir(layout.vmsDir)).sort();

describe('VmStore', () => {
  it('creates a VM with defaults, a 12-char id, and vm.json on disk', async () => {
    const s = await fresh();
    const spec = await s.create({ name: 'web', source: { kind: 'default' } });
    expect(spec.id).toMatch(/^[a-z0-9]{12}$/);
    expect(spec).toMatchObject({ name: 'web', cpus: 1, memoryMiB: 256, firmware: 'bios', display: 'none', forwards: [], disks: [] });
    expect(JSON.parse(await readFile(layout.vmSpecFile(spec.id), 'utf8'))).toEqual(spec);
    expect(s.get(spec.id)).toEqual(spec);
    expect(s.findByName('web')).toEqual(spec);
    const reloaded = await fresh();
    expect(reloaded.list()).toEqual([spec]);
  });

  it('rejects a malformed spec with field details and writes nothing', async () => {
    const s = await fresh();
    const err = await s.create({ name: 'Bad Name!', source: { kind: 'iso', path: 'relative.iso' }, cpus: 0 } as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const fields = (err as { details: { fields: { path: string; message: string }[] } }).details.fields;
    expect(fields.map((f) => f.path).sort()).toEqual(['cpus', 'name', 'source.path']);
    // the message is the plain-words field messages, with no schema path
    expect((err as Error).message).toMatch(/^name must be 1–63 characters.*; path must be absolute.*; CPUs must be a whole number from 1 to 64$/);
    expect(await vmDirs()).toEqual([]);
  });

  it('rejects a name clash, including two concurrent creates of one name', async () => {
    const s = await fresh();
    await s.create({ name: 'db', source: { kind: 'default' } });
    await expect(s.create({ name: 'db', source: { kind: 'default' } })).rejects.toMatchObject({ code: 'NAME_TAKEN', message: /"db" already exists/ });
    const race = await Promise.allSettled([s.create({ name: 'x', source: { kind: 'default' } }), s.create({ name: 'x', source: { kind: 'default' } })]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await vmDirs()).toHaveLength(2);
  });

  it('beforeCommit builds in staging and can add disks; a failing beforeCommit leaves nothing', async () => {
    const s = await fresh();
    const spec = await s.create(
      { name: 'iso', source: { kind: 'iso', path: '/x.iso', diskSizeGiB: 1 } },
      {
        beforeCommit: async (sp, dir) => {
          expect(existsSync(layout.vmDir(sp.id))).toBe(false);
          await writeFile(join(dir, 'disk.qcow2'), 'disk');
          sp.disks.push('disk.qcow2');
        },
      },
    );
    expect(spec.disks).toEqual(['disk.qcow2']);
    expect(await readFile(join(layout.vmDir(spec.id), 'disk.qcow2'), 'utf8')).toBe('disk');
    await expect(
      s.create(
        { name: 'broken', source: { kind: 'default' } },
        {
          beforeCommit: async (_sp, dir) => {
            await writeFile(join(dir, 'disk.qcow2'), 'half');
            throw new Error('qemu-img failed');
          },
        },
      ),
    ).rejects.toThrow('qemu-img failed');
    expect(await vmDirs()).toEqual([spec.id]);
    expect(s.findByName('broken')).toBeUndefined();
    // the name is free again after the failure
    await expect(s.create({ name: 'broken', source: { kind: 'default' } })).resolves.toMatchObject({ name: 'broken' });
  });

  it('update validates, renames with clash check, and serializes concurrent writes to one VM', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'a', source: { kind: 'default' } });
    await s.create({ name: 'b', source: { kind: 'default' } });
    await expect(s.update(a.id, { name: 'b' })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    await expect(s.update(a.id, { cpus: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { fields: [{ path: 'cpus', message: 'CPUs must be a whole number from 1 to 64' }] } });
    await expect(s.update(a.id, { source: { kind: 'default' } } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'unknown setting "source"' });
    const writes = Array.from({ length: 40 }, (_, i) => s.update(a.id, { memoryMiB: 128 + i }));
    const results = await Promise.all(writes);
    expect(results.at(-1)!.memoryMiB).toBe(167);
    const onDisk = JSON.parse(await readFile(layout.vmSpecFile(a.id), 'utf8'));
    expect(onDisk.memoryMiB).toBe(167);
    expect(await readdir(layout.vmDir(a.id))).toEqual(['vm.json']);
    const renamed = await s.update(a.id, { name: 'c' });
    expect(s.findByName('c')).toEqual(renamed);
    expect(s.findByName('a')).toBeUndefined();
  });

  it('setDisks validates file names', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'a', source: { kind: 'default' } });
    expect((await s.setDisks(a.id, ['disk.qcow2'])).disks).toEqual(['disk.qcow2']);
    await expect(s.setDisks(a.id, ['../../etc/passwd'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('delete removes the VM directory with its disks, and its run directory', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'a', source: { kind: 'default' } });
    await writeFile(join(layout.vmDir(a.id), 'disk.qcow2'), 'x');
    await layout.ensureRunDir(a.id);
    await s.delete(a.id);
    expect(await vmDirs()).toEqual([]);
    expect(existsSync(layout.runDir(a.id))).toBe(false);
    expect(() => s.get(a.id)).toThrow(/no VM with id/);
    await expect(s.delete(a.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('load skips and reports a corrupt vm.json, removes temp files and half-made dirs', async () => {
    const s = await fresh();
    const good = await s.create({ name: 'good', source: { kind: 'default' } });
    const bad = await s.create({ name: 'bad', source: { kind: 'default' } });
    await writeFile(layout.vmSpecFile(bad.id), '{"id": "trunc');
    await writeFile(join(layout.vmDir(good.id), `.vm.json.99.ab${TMP_SUFFIX}`), '{half');
    await mkdir(join(layout.vmsDir, '.creating-zzzzzzzzzzzz'));
    await mkdir(join(layout.vmsDir, '.deleting-yyyyyyyyyyyy'));
    const reported: SkippedSpec[] = [];
    const s2 = new VmStore(layout, { onSkip: (x) => reported.push(x) });
    expect((await s2.load()).map((v) => v.name)).toEqual(['good']);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.file).toBe(layout.vmSpecFile(bad.id));
    expect(s2.skipped).toEqual(reported);
    expect(await readdir(layout.vmDir(good.id))).toEqual(['vm.json']);
    expect(await vmDirs()).toEqual([bad.id, good.id].sort());
    // the corrupt VM's directory (and any disk in it) is kept for the user, not deleted
    expect(existsSync(layout.vmDir(bad.id))).toBe(true);
  });
});
