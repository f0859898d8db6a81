// Issue 3: custom sources boot real third-party images, not only our own guest:
// a bootable ISO that draws on VGA (checked through a thumbnail and the VNC proxy), an
// installer kernel + initrd that talks on the serial console, a qcow2 disk, and a UEFI boot.
// Each VM boots to a recognizable marker, then is force-stopped.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, runLeftovers, type TestClient } from './fixtures/engine-harness';
import { decodePng, distinctColours } from './fixtures/png';
import { DI_DIR, haveEfiGrub, haveInstaller, haveIsoTools, ISO_MARKER, makeGrubImages } from './fixtures/third-party-images';

const isoTools = haveIsoTools();

describe('custom sources with third-party images', () => {
  let home: string;
  let work: string;
  let engine: Engine;
  let client: TestClient;
  let images: { iso: string; qcow2: string } | null = null;

  beforeAll(async () => {
    home = await makeHome(false);
    work = await mkdtemp(join(tmpdir(), 'flt-img-'));
    if (isoTools) images = await makeGrubImages(work);
    ({ engine, client } = await openTestEngine(home));
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: false });
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  // a failed test must not leave its VM running into the next one
  afterEach(async () => {
    for (const vm of await client.call('vm.list', {})) {
      if (vm.pid !== null) await client.call('vm.stop', { id: vm.id, force: true }).catch(() => undefined);
    }
  });

  async function forceStopAndCheck(id: string): Promise<void> {
    await client.call('vm.stop', { id, force: true });
    expect((await client.call('vm.get', { id })).state).toBe('stopped');
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  }

  it.skipIf(!isoTools)('an ISO boots from CD onto a blank disk, draws on VGA and is reachable through the VNC proxy', async () => {
    const vm = await client.call('vm.create', {
      config: { name: 'iso', source: { kind: 'iso', path: images!.iso, diskSizeGiB: 1 }, memoryMiB: 128, display: 'vnc' },
    });
    expect(vm.spec.disks).toEqual(['disk.qcow2']);
    expect(await readdir(join(home, 'vms', vm.id))).toContain('disk.qcow2');
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 90_000);
    expect((await client.call('vm.get', { id: vm.id })).agent).not.toBe('ready');

    // a thumbnail: QMP screendump as PNG, with more than one colour on it (GRUB's menu)
    const first = await client.call('thumbnail.subscribe', { id: vm.id });
    const png = first.pngBase64 ?? (await client.waitFor('vm.thumbnail', (p) => p.id === vm.id, 'a thumbnail', 20_000)).pngBase64;
    const img = decodePng(Buffer.from(png, 'base64'));
    expect(img.width).toBeGreaterThanOrEqual(640);
    expect(distinctColours(img)).toBeGreaterThan(1);
    await client.call('thumbnail.unsubscribe', { id: vm.id });

    // the display proxy: a single-use ticket URL that speaks RFB; the ticket cannot be reused
    const { url } = await client.call('display.open', { id: vm.id });
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/vnc\/[a-z0-9]+\?ticket=[0-9a-f]+$/);
    const greeting = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('message', (d: Buffer) => {
        resolve(d.toString('latin1'));
        ws.close();
      });
      ws.on('error', reject);
    });
    expect(greeting).toMatch(/^RFB 003\.00\d\n/);
    const reused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    expect(reused).toBe(403);

    // an unclean death: the engine checks the VM's own qcow2 and says what it found
    const pid = (await client.call('vm.get', { id: vm.id })).pid!;
    const checked = client.waitFor('vm.changed', (v) => v.id === vm.id && v.state === 'crashed' && v.lastDiskCheck !== null, 'disk check after a crash', 30_000);
    process.kill(pid, 'SIGKILL');
    const crashed = await checked;
    expect(crashed.lastDiskCheck).toMatchObject({ disk: join(home, 'vms', vm.id, 'disk.qcow2'), exitCode: 0 });
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  });

  it.skipIf(!haveInstaller())('the Debian installer kernel + initrd talks on the serial console', async () => {
    const vm = await client.call('vm.create', {
      config: {
        name: 'installer',
        source: { kind: 'kernel', kernel: join(DI_DIR, 'linux'), initrd: join(DI_DIR, 'initrd.gz'), append: 'console=ttyS0 priority=critical' },
        memoryMiB: 256,
      },
      start: true,
    });
    const text = await client.waitConsole(vm.id, /Command line: console=ttyS0 priority=critical/, 90_000);
    expect(text).toMatch(/Linux version \d+\.\d+\S* \(debian-kernel@lists\.debian\.org\)/);
    await forceStopAndCheck(vm.id);
  });

  it.skipIf(!isoTools)('a qcow2 disk is copied into the VM (with progress) and boots', async () => {
    const progress: (number | null)[] = [];
    const off = client.on('vm.progress', (p) => void (p.progress && progress.push(p.progress.percent)));
    const vm = await client.call('vm.create', { config: { name: 'disk', source: { kind: 'disk', path: images!.qcow2, mode: 'copy' }, memoryMiB: 128 } });
    off();
    expect(progress.length).toBeGreaterThan(0);
    expect(vm.spec.disks).toEqual(['disk.qcow2']);
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 90_000);
    await forceStopAndCheck(vm.id);
    // used in place: a reference VM boots the user's own file
    const ref = await client.call('vm.create', { config: { name: 'diskref', source: { kind: 'disk', path: images!.qcow2, mode: 'reference' }, memoryMiB: 128 } });
    expect(ref.spec.disks).toEqual([]);
    await client.call('vm.start', { id: ref.id });
    await client.waitConsole(ref.id, ISO_MARKER, 90_000);
    await forceStopAndCheck(ref.id);
  });

  it.skipIf(!isoTools || !haveEfiGrub())('UEFI firmware (OVMF) boots the ISO', async () => {
    const vm = await client.call('vm.create', {
      config: { name: 'uefi', source: { kind: 'iso', path: images!.iso, diskSizeGiB: 1 }, firmware: 'uefi', memoryMiB: 256 },
    });
    expect(await readdir(join(home, 'vms', vm.id))).toContain('ovmf-vars.qcow2');
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 120_000);
    await forceStopAndCheck(vm.id);
  });
});
