// Issue 12, media: insert and eject the CD of a running VM (QMP, checked with QEMU's own
// query-block) and of a stopped one (the spec, checked on QEMU's command line at the next boot).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, type TestClient } from './fixtures/engine-harness';
import { haveIsoTools, ISO_MARKER, makeGrubImages } from './fixtures/third-party-images';

interface BlockInfo {
  qdev?: string;
  tray_open?: boolean;
  inserted?: { file: string };
}

describe.skipIf(!haveIsoTools())('CD media', () => {
  let home: string;
  let work: string;
  let engine: Engine;
  let client: TestClient;
  let images: { iso: string; qcow2: string };

  beforeAll(async () => {
    home = await makeHome(false);
    work = await mkdtemp(join(tmpdir(), 'flt-media-'));
    images = await makeGrubImages(work);
    ({ engine, client } = await openTestEngine(home));
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  const cd = async (id: string): Promise<BlockInfo | undefined> =>
    (await engine.supervisor(id).requireQmp().execute<BlockInfo[]>('query-block')).find((b) => b.qdev === 'cd0' || b.qdev?.endsWith('/cd0') === true);
  const cmdline = async (pid: number): Promise<string[]> => (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');

  it('ejects and re-inserts the CD of a running VM, and a stopped VM keeps what it was given', async () => {
    const vm = await client.call('vm.create', { config: { name: 'inst', source: { kind: 'iso', path: images.iso, diskSizeGiB: 1 }, memoryMiB: 128 } });
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 120_000);
    expect((await cd(vm.id))?.inserted?.file).toBe(images.iso);

    const ejected = await client.call('media.eject', { id: vm.id });
    expect(ejected.spec.cdrom).toBeNull();
    expect((await cd(vm.id))?.inserted).toBeUndefined();
    await expect(client.call('media.eject', { id: vm.id })).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'inst has no disc to eject' });

    const inserted = await client.call('media.insert', { id: vm.id, path: images.iso });
    expect(inserted.spec.cdrom).toBe(images.iso);
    expect((await cd(vm.id))?.inserted?.file).toBe(images.iso);

    // bad input changes nothing
    await expect(client.call('media.insert', { id: vm.id, path: join(work, 'missing.iso') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: `ISO not found: ${join(work, 'missing.iso')}` });
    await expect(client.call('media.insert', { id: vm.id, path: images.qcow2 })).rejects.toMatchObject({ code: 'WRONG_FILE_TYPE', message: expect.stringMatching(/is not an ISO image \(it looks like qcow2\)/) });
    await expect(client.call('media.insert', { id: vm.id, path: work })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringMatching(/is a directory/) });
    expect((await cd(vm.id))?.inserted?.file).toBe(images.iso);

    // stopped: eject is a spec change; the next boot has an empty drive
    await client.call('vm.stop', { id: vm.id, force: true });
    await client.call('media.eject', { id: vm.id });
    const up = await client.call('vm.start', { id: vm.id });
    const args = await cmdline(up.pid!);
    expect(args).toContain('ide-cd,id=cd0,bus=ide.0,bootindex=1');
    expect(args.some((a) => a.includes(images.iso))).toBe(false);
    expect((await cd(vm.id))?.inserted).toBeUndefined();
    await client.call('vm.stop', { id: vm.id, force: true });
    await client.call('vm.delete', { id: vm.id });
  }, 300_000);

  it('a disk VM gets a CD drive only while stopped', async () => {
    const vm = await client.call('vm.create', { config: { name: 'plain', source: { kind: 'disk', path: images.qcow2, mode: 'copy' }, memoryMiB: 128 } });
    await client.call('vm.start', { id: vm.id });
    await expect(client.call('media.insert', { id: vm.id, path: images.iso })).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: 'plain has no CD drive while it runs; stop it, insert the ISO, and start it again',
    });
    await client.call('vm.stop', { id: vm.id, force: true });
    expect((await client.call('vm.get', { id: vm.id })).spec.cdrom).toBeUndefined();
    await client.call('media.insert', { id: vm.id, path: images.iso });
    const up = await client.call('vm.start', { id: vm.id });
    expect((await cmdline(up.pid!)).some((a) => a.startsWith(`driver=file,filename=${images.iso},node-name=cd0-file`))).toBe(true);
    expect((await cd(vm.id))?.inserted?.file).toBe(images.iso);
    await client.call('vm.stop', { id: vm.id, force: true });
    expect(await processesUsing(home)).toEqual([]);
  }, 300_000);
});
