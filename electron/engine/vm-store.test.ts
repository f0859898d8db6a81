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

describe('VmStore: identity', () => {
  it('gives each new VM a unique locally administered MAC and a UUID, kept in vm.json', async () => {
    const s = await fresh();
    const specs = [];
    for (let i = 0; i < 20; i++) specs.push(await s.create({ name: `m${i}`, source: { kind: 'default' } }));
    for (const spec of specs) {
      expect(spec.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
      expect(spec.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(JSON.parse(await readFile(layout.vmSpecFile(spec.id), 'utf8'))).toMatchObject({ mac: spec.mac, uuid: spec.uuid });
    }
    expect(new Set(specs.map((x) => x.mac)).size).toBe(20);
    expect(new Set(specs.map((x) => x.uuid)).size).toBe(20);
  });

  it('gives an old spec without identity a MAC and a UUID on load and writes them back; a copied MAC is replaced', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'a', source: { kind: 'default' } });
    const b = await s.create({ name: 'b', source: { kind: 'default' } });
    const { mac: _mac, uuid: _uuid, ...old } = a;
    await writeFile(layout.vmSpecFile(a.id), JSON.stringify(old));
    // b's directory copied by hand keeps b's MAC: the younger of the two gets a new one
    await writeFile(layout.vmSpecFile(b.id), JSON.stringify({ ...b, mac: '52:54:00:aa:bb:cc' }));
    const c = await s.create({ name: 'c', source: { kind: 'default' } });
    await writeFile(layout.vmSpecFile(c.id), JSON.stringify({ ...c, mac: '52:54:00:aa:bb:cc' }));
    const r = await fresh();
    const [ra, rb, rc] = [r.get(a.id), r.get(b.id), r.get(c.id)];
    expect(ra.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(ra.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(rb.mac).toBe('52:54:00:aa:bb:cc');
    expect(rc.mac).not.toBe('52:54:00:aa:bb:cc');
    expect(rc.uuid).toBe(c.uuid);
    expect(JSON.parse(await readFile(layout.vmSpecFile(a.id), 'utf8'))).toMatchObject({ mac: ra.mac, uuid: ra.uuid });
    expect(JSON.parse(await readFile(layout.vmSpecFile(c.id), 'utf8'))).toMatchObject({ mac: rc.mac });
    expect((await readdir(layout.vmDir(a.id))).filter((f) => f.includes(TMP_SUFFIX))).toEqual([]);
    // and the next load leaves them as they are
    expect((await fresh()).list()).toEqual(r.list());
  });
});

describe('VmStore: a broken vm.json', () => {
  it('lists the VM as broken by id with the reason, keeps its name reserved, and can delete it', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'alpha', source: { kind: 'default' } });
    await writeFile(layout.vmSpecFile(a.id), JSON.stringify({ ...a, memoryMiB: 'lots' }));
    const r = await fresh();
    expect(r.list()).toEqual([]);
    const broken = r.broken.get(a.id);
    expect(broken).toMatchObject({ id: a.id, file: layout.vmSpecFile(a.id), name: 'alpha' });
    expect(broken!.reason).toMatch(/memoryMiB/);
    expect(broken!.reason).toMatch(/Repair the file, or delete the VM$/);
    await expect(r.create({ name: 'alpha', source: { kind: 'default' } })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    await r.delete(a.id);
    expect(r.broken.size).toBe(0);
    expect(existsSync(layout.vmDir(a.id))).toBe(false);
    expect((await r.create({ name: 'alpha', source: { kind: 'default' } })).name).toBe('alpha');
  });

  it('refuses disk names that leave the VM directory (the file is then broken), and takes a repaired file back', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'beta', source: { kind: 'default' } });
    await writeFile(layout.vmSpecFile(a.id), JSON.stringify({ ...a, disks: ['../../etc/passwd'] }));
    const r = await fresh();
    expect(r.broken.get(a.id)?.reason).toMatch(/disks/);
    expect(await r.retryBroken(a.id)).toBeUndefined();
    await writeFile(layout.vmSpecFile(a.id), JSON.stringify(a));
    expect(await r.retryBroken(a.id)).toEqual(a);
    expect(r.broken.size).toBe(0);
    expect(r.get(a.id)).toEqual(a);
  });

  it('a truncated file is broken too', async () => {
    const s = await fresh();
    const a = await s.create({ name: 'gamma', source: { kind: 'default' } });
    await writeFile(layout.vmSpecFile(a.id), '{"id": "');
    const r = await fresh();
    expect(r.broken.get(a.id)).toMatchObject({ name: null });
    expect(r.broken.get(a.id)!.reason).toMatch(/JSON/);
  });
});
