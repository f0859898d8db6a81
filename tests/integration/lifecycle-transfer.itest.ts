// Issue 12: export, import and clone against a real engine, real qemu-img and real QEMU. The VM is
// made from a real bootable disk (GRUB, printing a marker on the serial port), so "the copy boots"
// is checked by booting it; "the same data" is checked with `qemu-img compare`.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import type { Engine } from '../../electron/engine/engine';
import { writeArchive } from '../../electron/engine/lifecycle/archive';
import { OVMF_VARS_FILE } from '../../electron/engine/qemu-args';
import { cleanupHome, makeHome, openTestEngine, processesUsing, run, runLeftovers, type TestClient } from './fixtures/engine-harness';
import { haveIsoTools, ISO_MARKER, makeGrubImages } from './fixtures/third-party-images';

const isoTools = haveIsoTools();

/** Stops the first child of this process (the engine runs in it) whose arguments pass `which`, as soon as it is seen. */
async function holdChild(which: (args: string[]) => boolean, ms = 60_000): Promise<number> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setImmediate(r))) {
    for (const tid of readdirSync('/proc/self/task')) {
      const kids = readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const pid of kids.map(Number)) {
        let args: string[];
        try {
          args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        } catch {
          continue; // gone
        }
        if (!which(args)) continue;
        process.kill(pid, 'SIGSTOP');
        return pid;
      }
    }
  }
  throw new Error('no such child process was seen');
}

describe.skipIf(!isoTools)('export, import and clone', () => {
  let home: string;
  let work: string;
  let engine: Engine;
  let client: TestClient;
  let src: VmInfo;

  beforeAll(async () => {
    home = await makeHome(false);
    work = await mkdtemp(join(tmpdir(), 'flt-xfer-'));
    const images = await makeGrubImages(work);
    ({ engine, client } = await openTestEngine(home));
    src = await client.call('vm.create', { config: { name: 'src', source: { kind: 'disk', path: images.qcow2, mode: 'copy' }, memoryMiB: 128, firmware: 'uefi' } });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const vm of await client.call('vm.list', {})) {
      if (vm.pid !== null) await client.call('vm.stop', { id: vm.id, force: true }).catch(() => undefined);
    }
  });

  const diskOf = (vm: VmInfo, d = 'disk.qcow2'): string => join(home, 'vms', vm.id, d);
  const sha = async (f: string): Promise<string> => createHash('sha256').update(await readFile(f)).digest('hex');
  /** the VM directories and anything else in vms/ (staging or trash dirs would show here) */
  const vmsDir = async (): Promise<string[]> => (await readdir(join(home, 'vms'))).sort();

  async function bootsToMarker(vm: VmInfo): Promise<void> {
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 120_000);
    await client.call('vm.stop', { id: vm.id, force: true });
  }

  it('exports to one file, never overwriting without force, and imports it as a new VM that boots', async () => {
    const file = join(work, 'src.flotilla');
    const r = await client.call('vm.export', { id: src.id, path: file });
    expect(r).toMatchObject({ path: file, formatVersion: 1 });
    expect((await stat(file)).size).toBe(r.bytes);
    expect((await readdir(work)).filter((n) => n.includes('flotilla-partial'))).toEqual([]);
    expect(await readdir(join(home, 'partials'))).toEqual([]);
    const listing = await run('tar', ['-tf', file]);
    expect(listing.stdout.trim().split('\n')).toEqual(['manifest.json', 'vm.json', 'disks/disk.qcow2', `nvram/${OVMF_VARS_FILE}`, 'checksums.json']);

    const before = await sha(file);
    await expect(client.call('vm.export', { id: src.id, path: file })).rejects.toMatchObject({ code: 'FILE_EXISTS', message: `${file} already exists; pass --force to overwrite it` });
    expect(await sha(file)).toBe(before);
    await expect(client.call('vm.export', { id: src.id, path: join(work, 'no', 'such', 'dir', 'x.flotilla') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(client.call('vm.export', { id: src.id, path: work })).rejects.toMatchObject({ code: 'FILE_EXISTS', message: expect.stringMatching(/is a directory/) });
    await client.call('vm.export', { id: src.id, path: file, force: true });

    // a running VM is not exported (its disk is changing)
    await client.call('vm.start', { id: src.id });
    await expect(client.call('vm.export', { id: src.id, path: join(work, 'running.flotilla') })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/^stop src before exporting it/) });
    await client.call('vm.stop', { id: src.id, force: true });
    await expect(stat(join(work, 'running.flotilla'))).rejects.toThrow(/ENOENT/);

    // same name as an existing VM: refused, nothing created
    const vmsBefore = await vmsDir();
    await expect(client.call('vm.import', { path: file })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect(await vmsDir()).toEqual(vmsBefore);

    const copy = await client.call('vm.import', { path: file, name: 'copy' });
    expect(copy).toMatchObject({ name: 'copy', state: 'stopped', spec: { firmware: 'uefi', memoryMiB: 128, disks: ['disk.qcow2'] } });
    expect(copy.id).not.toBe(src.id);
    expect(copy.spec.mac).toMatch(/^52:54:00:/);
    expect(copy.spec.mac).not.toBe(src.spec.mac);
    expect(copy.spec.uuid).not.toBe(src.spec.uuid);
    expect((await run('qemu-img', ['compare', diskOf(src), diskOf(copy)])).code).toBe(0);
    expect(await sha(join(home, 'vms', copy.id, OVMF_VARS_FILE))).toBe(await sha(join(home, 'vms', src.id, OVMF_VARS_FILE)));
    await bootsToMarker(copy);
    await client.call('vm.delete', { id: copy.id });
  }, 400_000);

  it('a cancelled export or full clone leaves nothing behind and the VM as it was', async () => {
    // a disk with 96 MiB of random data, so the jobs last long enough to be cancelled midway
    const raw = join(work, 'big.raw');
    await run('dd', ['if=/dev/urandom', `of=${raw}`, 'bs=1M', 'count=96', 'status=none']);
    // a boot-sector signature, so the engine takes it as the raw disk it stands for (random bytes alone are refused)
    const fh = await open(raw, 'r+');
    await fh.write(Buffer.from([0x55, 0xaa]), 0, 2, 510);
    await fh.close();
    const big = await client.call('vm.create', { config: { name: 'big', source: { kind: 'disk', path: raw, mode: 'copy' }, memoryMiB: 64 } });
    await rm(raw);
    const sum = await sha(diskOf(big));
    const cancelOnFirstProgress = (op: string): (() => void) =>
      client.on('vm.progress', (p) => {
        if (p.id === big.id && p.progress?.op === op) void client.call('vm.cancelJob', { id: big.id });
      });
    let off = cancelOnFirstProgress('export');
    const file = join(work, 'big.flotilla');
    await expect(client.call('vm.export', { id: big.id, path: file })).rejects.toMatchObject({ code: 'CANCELLED' });
    off();
    await expect(stat(file)).rejects.toThrow(/ENOENT/);
    expect((await readdir(work)).filter((n) => n.includes('flotilla-partial'))).toEqual([]);
    expect(await readdir(join(home, 'partials'))).toEqual([]);

    off = cancelOnFirstProgress('clone');
    const vmsBefore = await vmsDir();
    await expect(client.call('vm.clone', { id: big.id, name: 'big2' })).rejects.toMatchObject({ code: 'CANCELLED' });
    off();
    expect(await vmsDir()).toEqual(vmsBefore);
    expect((await client.call('vm.get', { id: big.id })).progress).toBeNull();
    expect(await sha(diskOf(big))).toBe(sum);
    expect(await client.call('vm.cancelJob', { id: big.id })).toEqual({ cancelled: false });

    // an import has no VM yet: Cancel names the id its progress events carry
    await client.call('vm.export', { id: big.id, path: file });
    const seen: (boolean | undefined)[] = [];
    off = client.on('vm.progress', (p) => {
      if (p.progress?.op !== 'import') return;
      seen.push(p.progress.cancellable);
      void client.call('vm.cancelJob', { id: p.id });
    });
    const listed = (await client.call('vm.list', {})).length;
    await expect(client.call('vm.import', { path: file, name: 'big3' })).rejects.toMatchObject({ code: 'CANCELLED' });
    off();
    expect(seen[0]).toBe(true);
    expect(await vmsDir()).toEqual(vmsBefore);
    expect((await client.call('vm.list', {})).length).toBe(listed);
    await rm(file);
    await client.call('vm.delete', { id: big.id });
  }, 300_000);

  it('a Cancel while an import checks its disk ends it there: no VM is made and nothing is left', async () => {
    const before = await vmsDir();
    const named = client.waitFor('vm.progress', (p) => p.progress?.newVm === 'checked', 'the import to report', 60_000);
    const done = client.call('vm.import', { path: join(work, 'src.flotilla'), name: 'checked' }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    const { id } = await named;
    // the disk's qemu-img check, held while the Cancel goes in (it used to run to its end and the VM was made anyway)
    const check = await holdChild((args) => args[0]!.endsWith('qemu-img') && args[1] === 'check' && !!args[2]?.startsWith(join(home, 'vms')));
    try {
      // a window that connects now is told of it (vm.making), though no list holds the VM yet
      expect(await client.call('vm.making', {})).toEqual([{ host: 'local', id, progress: expect.objectContaining({ op: 'import', newVm: 'checked', cancellable: true, message: 'checking disk.qcow2' }) }]);
      expect(await client.call('vm.cancelJob', { id })).toEqual({ cancelled: true });
    } finally {
      process.kill(check, 'SIGCONT');
    }
    expect(await done).toMatchObject({ code: 'CANCELLED', message: 'import cancelled by the user' });
    expect(await client.call('vm.making', {})).toEqual([]);
    expect((await client.call('vm.list', {})).some((v) => v.name === 'checked')).toBe(false);
    expect(await vmsDir()).toEqual(before);
  });

  it('refuses broken and hostile archives with a clear error and creates nothing', async () => {
    const good = join(work, 'good.flotilla');
    await client.call('vm.export', { id: src.id, path: good, force: true });
    const cases: [string, () => Promise<string>, RegExp][] = [
      ['not an archive', async () => {
        const f = join(work, 'notes.txt');
        await writeFile(f, 'just some text\n'.repeat(100));
        return f;
      }, /is not a Flotilla export \(not a tar archive\)/],
      ['truncated', async () => {
        const f = join(work, 'cut.flotilla');
        await copyFile(good, f);
        await truncate(f, Math.floor((await stat(good)).size / 2));
        return f;
      }, /truncated/],
      ['tampered', async () => {
        const f = join(work, 'tampered.flotilla');
        const buf = await readFile(good);
        buf[buf.length - 20_000] = buf[buf.length - 20_000]! ^ 0x55;
        await writeFile(f, buf);
        return f;
      }, /does not match its checksum|truncated|corrupt/],
      ['a qcow2 backed by a host file', async () => {
        // checksums are right: only the disk check can catch that QEMU would open /etc/hostname for the guest
        const evil = join(work, 'evil.qcow2');
        await rm(evil, { force: true });
        expect((await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', evil])).code).toBe(0);
        const f = join(work, 'evil.flotilla');
        await rm(f, { force: true });
        await writeArchive(f, { spec: { ...src.spec, name: 'evil', firmware: 'bios' }, engineVersion: 'x', files: [{ entry: 'disks/disk.qcow2', role: 'disk', path: evil }] });
        return f;
      }, /names a backing file \(\/etc\/hostname\)/],
      ['a VM attaching a host disk by reference', async () => {
        const f = join(work, 'ref.flotilla');
        await rm(f, { force: true });
        await writeArchive(f, { spec: { ...src.spec, name: 'ref', disks: [], firmware: 'bios', source: { kind: 'disk', mode: 'reference', path: '/dev/sda' } }, engineVersion: 'x', files: [] });
        return f;
      }, /an import cannot attach host disks/],
      ['a VM booting a host file as its kernel', async () => {
        const f = join(work, 'kernel.flotilla');
        await rm(f, { force: true });
        await writeArchive(f, { spec: { ...src.spec, name: 'kernel', firmware: 'bios', disks: [], source: { kind: 'kernel', kernel: '/etc/hostname' } }, engineVersion: 'x', files: [] });
        return f;
      }, /boots from the kernel \/etc\/hostname, which is not a kernel on this host/],
    ];
    const vmsBefore = await vmsDir();
    const listBefore = (await client.call('vm.list', {})).length;
    for (const [label, make, re] of cases) {
      const f = await make();
      const err = await client.call('vm.import', { path: f, name: 'bad' }).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err, label).not.toBeNull();
      expect(err!.code, label).toBe('BAD_ARCHIVE');
      expect(err!.message, label).toMatch(re);
      expect(await vmsDir(), label).toEqual(vmsBefore);
      expect((await client.call('vm.list', {})).length, label).toBe(listBefore);
    }
    await expect(client.call('vm.import', { path: join(work, 'missing.flotilla') })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringMatching(/not found/) });
  }, 300_000);

  it('an ISO VM whose ISO is not one on this computer (a host file named as it) imports with its CD drive empty, saying so', async () => {
    const f = join(work, 'iso.flotilla');
    await rm(f, { force: true });
    await writeArchive(f, { spec: { ...src.spec, name: 'iso', firmware: 'bios', source: { kind: 'iso', path: '/etc/hostname', diskSizeGiB: 1 } }, engineVersion: 'x', files: [{ entry: 'disks/disk.qcow2', role: 'disk', path: diskOf(src) }] });
    const vm = await client.call('vm.import', { path: f });
    expect(vm.spec.cdrom).toBeNull();
    expect(vm.warnings).toEqual(['its CD drive is empty: /etc/hostname is not an ISO image on this computer; insert one with Insert CD']);
    // it boots from its disk, and nothing of /etc/hostname reaches QEMU
    await client.call('vm.start', { id: vm.id });
    await client.waitConsole(vm.id, ISO_MARKER, 120_000);
    const pid = (await client.call('vm.get', { id: vm.id })).pid!;
    expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes('/etc/hostname')).toBe(false);
    await client.call('vm.stop', { id: vm.id, force: true });
    await client.call('vm.delete', { id: vm.id });
  }, 180_000);

  it('an archive that names folders of this computer as shared folders imports without them, saying so', async () => {
    // an export of a VM with a share names the exporting computer's folder; one from anyone could name /usr
    const f = join(work, 'shares.flotilla');
    await rm(f, { force: true });
    const shares = [{ tag: 'usr', hostPath: '/usr', readOnly: false }, { tag: 'etc', hostPath: '/etc', readOnly: true }];
    await writeArchive(f, { spec: { ...src.spec, name: 'shr', firmware: 'bios', shares }, engineVersion: 'x', files: [{ entry: 'disks/disk.qcow2', role: 'disk', path: diskOf(src) }] });
    const vm = await client.call('vm.import', { path: f });
    expect(vm.name).toBe('shr');
    expect(vm.spec.shares ?? []).toEqual([]);
    expect(await client.call('share.list', { id: vm.id })).toEqual([]);
    expect(vm.warnings).toEqual([expect.stringMatching(/^the shared folders of the exported VM were not imported: \/usr \(usr\), \/etc \(etc, read-only\)\. .*share them again in Settings → Shared folders/)]);
    expect((await client.call('vm.get', { id: vm.id })).spec.shares ?? []).toEqual([]);
    await client.call('vm.delete', { id: vm.id });
  }, 120_000);

  it('clones fully (same data, new identity) and linked (overlay; the source is then protected)', async () => {
    const progress: number[] = [];
    const off = client.on('vm.progress', (p) => p.progress?.op === 'clone' && p.progress.percent !== null && progress.push(p.progress.percent));
    const full = await client.call('vm.clone', { id: src.id, name: 'full' });
    off();
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(100);
    expect(full).toMatchObject({ name: 'full', state: 'stopped', spec: { disks: ['disk.qcow2'] } });
    expect(full.spec.linkedFrom).toBeUndefined();
    expect([full.spec.mac, full.spec.uuid]).not.toEqual([src.spec.mac, src.spec.uuid]);
    expect((await run('qemu-img', ['compare', diskOf(src), diskOf(full)])).code).toBe(0);
    const fullInfo = JSON.parse((await run('qemu-img', ['info', '--output=json', diskOf(full)])).stdout) as Record<string, unknown>;
    expect(fullInfo['backing-filename']).toBeUndefined();

    const linked = await client.call('vm.clone', { id: src.id, name: 'linked', linked: true });
    expect(linked.spec.linkedFrom).toBe(src.id);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', diskOf(linked)])).stdout) as Record<string, unknown>;
    expect(info['backing-filename']).toBe(diskOf(src));
    expect(info['backing-filename-format']).toBe('qcow2');
    await expect(client.call('vm.delete', { id: src.id })).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'cannot delete src: its disk is the base of the linked clone linked; delete it first' });
    await expect(client.call('vm.start', { id: src.id })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/^cannot start src: its disk is the base/) });
    const baseSum = await sha(diskOf(src));
    await bootsToMarker(linked);
    expect(await sha(diskOf(src))).toBe(baseSum);

    // a linked clone exports standalone: its archive's disk has no backing file
    const lf = join(work, 'linked.flotilla');
    await client.call('vm.export', { id: linked.id, path: lf });
    await client.call('vm.delete', { id: linked.id });
    const again = await client.call('vm.import', { path: lf, name: 'relinked' });
    expect(again.spec.linkedFrom).toBeUndefined();
    expect((await run('qemu-img', ['compare', diskOf(src), diskOf(again)])).code).toBe(0);

    // with the linked clone gone, the source starts again
    await bootsToMarker(src);
    for (const vm of [full, again]) await client.call('vm.delete', { id: vm.id });
    // bad input: a running source, a taken name, an unknown VM
    await client.call('vm.start', { id: src.id });
    await expect(client.call('vm.clone', { id: src.id, name: 'x' })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/^stop src before cloning it/) });
    await client.call('vm.stop', { id: src.id, force: true });
    await expect(client.call('vm.clone', { id: src.id, name: 'src' })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    await expect(client.call('vm.clone', { id: src.id, name: 'Bad Name' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await vmsDir()).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  }, 600_000);
});
