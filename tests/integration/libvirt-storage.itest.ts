// A libvirt domain's CD, disks and clones against the real libvirtd, through the loopback ssh host
// (qemu+ssh://root@127.0.0.1:2222/system) of scripts/libvirt-test-setup.sh, in process (the CLI's
// words for the same operations are libvirt-cli.itest's). A domain made from an ISO changes its CD
// shut off and running; gains, grows and loses disks (a volume Flotilla made is deleted, an image
// of the user's only detached); deleting it with its storage keeps the ISO. A built-in domain with
// an added disk is cloned: the copy boots from its own volumes, with its own hostname, and its
// guest mounts the added disk. A boot file's upload cut short (what a killed engine leaves) is
// found by its end and uploaded again, where it used to be reused and boot a truncated initrd. A
// built-in domain gets a shared folder (virtiofs) and its guest reads and writes it. A domain
// boots UEFI with a variable store of its own.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmConfigSchema } from '../../shared/spec';
import { LibvirtHost } from '../../electron/engine/hosts/libvirt/libvirt-host';
import { ensurePool, ensureUploaded } from '../../electron/engine/hosts/libvirt/storage';
import { libvirtTestEnv } from './fixtures/libvirt-env';
import { ensureTestGuest } from './fixtures/test-guest';

const env = libvirtTestEnv();
const virsh = (...a: string[]): string => execFileSync('virsh', ['--connect', 'qemu:///system', ...a], { encoding: 'utf8' });
const tag = randomBytes(3).toString('hex');
let home = '';
let host: LibvirtHost;
let dir = '';
const pool = `lvt-st-${tag}`;
const made: string[] = [];

/** The image in the domain's CD drive as libvirt has it, running or in its definition; null when empty. */
function inDrive(name: string, which: 'live' | 'config'): string | null {
  const line = virsh('domblklist', '--domain', name, '--details', ...(which === 'config' ? ['--inactive'] : []))
    .split('\n')
    .find((l) => /^\s*\S+\s+cdrom\s/.test(l));
  const source = line?.trim().split(/\s+/).slice(3).join(' ');
  return source === undefined || source === '-' ? null : source;
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 30_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const v = fn();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  home = await ensureTestGuest();
  dir = mkdtempSync(join(tmpdir(), 'lvt-st-pool-'));
  writeFileSync(join(dir, 'one.iso'), Buffer.alloc(1024 * 1024));
  writeFileSync(join(dir, 'two.iso'), Buffer.alloc(1024 * 1024));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'mine.qcow2'), '1G']);
  virsh('pool-create-as', '--name', pool, '--type', 'dir', '--target', dir);
  host = new LibvirtHost({ name: `st-${tag}`, uri: `${env.sshUri}?known_hosts=${env.knownHosts}`, identity: env.key, addedAt: '' }, { home, backoff: { baseMs: 200, maxMs: 1000 } });
  await host.connectNow();
  await until('the host to load its domains', () => host.info().state === 'connected');
}, 120_000);

afterAll(async () => {
  for (const name of made) {
    const v = host.find(name);
    if (!v) continue;
    await host.vm(v.id).stop({ force: true }).catch(() => undefined);
    await host.delete(v.id, { storage: true }).catch(() => undefined);
  }
  await host.close();
  rmSync(join(home, 'libvirt', host.id), { recursive: true, force: true });
  virsh('pool-destroy', pool);
  rmSync(dir, { recursive: true, force: true });
});

describe('a libvirt domain made from an ISO', () => {
  it('changes its CD shut off and running, and gains, grows and loses disks; deleting it with its storage keeps the ISO', async () => {
    const one = join(dir, 'one.iso');
    const two = join(dir, 'two.iso');
    const name = `st-iso-${tag}`;
    made.push(name);
    const info = await host.create(vmConfigSchema.parse({ name, source: { kind: 'iso', path: one, diskSizeGiB: 1 }, memoryMiB: 128 }), { start: false });
    expect(info).toMatchObject({ caps: { media: true, disks: true, clone: true }, spec: { cdrom: one, disks: ['vda'] } });
    const vm = host.vm(info.id);

    // shut off: the definition changes; a path in the pool's directory that is not there is refused now
    await vm.changeMedia(null);
    expect([inDrive(name, 'config'), host.get(info.id).spec.cdrom]).toEqual([null, null]);
    await vm.changeMedia(two);
    expect([inDrive(name, 'config'), host.get(info.id).spec.cdrom]).toEqual([two, two]);
    await expect(vm.changeMedia(join(dir, 'nope.iso'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `${join(dir, 'nope.iso')} is not on ${host.id}; pick an ISO image from its storage pools (flotilla host volumes ${host.id} --kind iso)` });
    expect(inDrive(name, 'config')).toBe(two);

    // disks: the one it was made with stays; an added one is a volume in the flotilla pool
    const [vda] = await vm.disks();
    expect(vda).toMatchObject({ name: 'vda', added: false, keptBecause: `it is the disk ${name} was made with; only a disk added later can be removed` });
    await vm.addDisk(1);
    expect(host.get(info.id).spec.disks).toEqual(['vda', 'vdb']);
    const vdb = (await vm.disks()).find((d) => d.name === 'vdb')!;
    expect(vdb).toMatchObject({ added: true, virtualSize: 2 ** 30 });
    expect(vdb.removeKeepsFile).toBeUndefined();
    // not the built-in Linux: no mount point to show
    expect(vdb.guestMount).toBeUndefined();
    expect(virsh('vol-pool', '--vol', vdb.path!).trim()).toBe('flotilla');
    expect(await vm.resizeDisk('vdb', 2)).toMatchObject({ name: 'vdb', virtualSize: 2 * 2 ** 30, online: false });
    await expect(vm.resizeDisk('vdb', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `vdb of ${name} is 2 GiB; a resize must make it larger (shrinking would destroy data and is refused)` });
    // a snapshot holds every disk: vdb stays until it goes
    await vm.snapshotCreate('s1', { diskOnly: false });
    await expect(vm.removeDisk('vdb')).rejects.toMatchObject({ message: `cannot remove vdb from ${name}: the snapshot s1 needs it to go back; delete that snapshot first` });
    await vm.snapshotDelete('s1');

    // running (its BIOS finds nothing to boot, which is all this needs): the live drive and the
    // definition both; disks grow online, and are added and removed only shut off
    await vm.start({ waitAgent: false });
    await vm.changeMedia(null);
    expect([inDrive(name, 'live'), inDrive(name, 'config')]).toEqual([null, null]);
    await vm.changeMedia(one);
    expect([inDrive(name, 'live'), inDrive(name, 'config'), host.get(info.id).spec.cdrom]).toEqual([one, one, one]);
    expect(await vm.resizeDisk('vdb', 3)).toMatchObject({ virtualSize: 3 * 2 ** 30, online: true });
    await expect(vm.removeDisk('vdb')).rejects.toMatchObject({ code: 'INVALID_STATE', message: `stop ${name} before removing a disk (it is running)` });
    await expect(vm.addDisk(1)).rejects.toMatchObject({ code: 'INVALID_STATE', message: `stop ${name} before adding a disk (it is running)` });
    await vm.stop({ force: true });

    // an image of the user's is detached, never deleted; the volume Flotilla made is deleted
    const mine = join(dir, 'mine.qcow2');
    virsh('attach-disk', '--domain', name, '--source', mine, '--target', 'vdc', '--driver', 'qemu', '--subdriver', 'qcow2', '--targetbus', 'virtio', '--config');
    expect((await vm.disks()).find((d) => d.name === 'vdc')).toMatchObject({ added: true, removeKeepsFile: true, path: mine });
    await vm.removeDisk('vdc');
    await vm.removeDisk('vdb');
    expect([existsSync(mine), existsSync(vdb.path!)]).toEqual([true, false]);
    expect((await vm.disks()).map((d) => d.name)).toEqual(['vda']);
    expect(host.get(info.id).spec.disks).toEqual(['vda']);

    // with its storage: its own disk goes, the ISO in its drive (a pool volume too) stays
    await host.delete(info.id, { storage: true });
    expect(existsSync(vda!.path!)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['mine.qcow2', 'one.iso', 'two.iso']);
  }, 240_000);

  it('a domain without a CD drive says so, and what to do', async () => {
    const name = `st-plain-${tag}`;
    made.push(name);
    const info = await host.create(vmConfigSchema.parse({ name, source: { kind: 'default' }, memoryMiB: 128 }), { start: false });
    expect(info.caps.media).toBe(false);
    await expect(host.vm(info.id).changeMedia(join(dir, 'one.iso'))).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: `${name} has no CD drive; add one to its definition (virt-manager, or virsh edit on ${host.id}) to change CDs`,
    });
  });
});

describe('a full clone on a libvirt host', () => {
  it('boots from its own copies of the disks, with its own name, and its guest mounts the added disk', async () => {
    const name = `st-src-${tag}`;
    const copyName = `${name}-copy`;
    made.push(name, copyName);
    const src = await host.create(vmConfigSchema.parse({ name, source: { kind: 'default' }, memoryMiB: 192 }), { start: false });
    await host.vm(src.id).addDisk(1);
    const srcDisks = await host.vm(src.id).disks();
    expect(srcDisks.find((d) => d.name === 'vdb')).toMatchObject({ guestMount: '/mnt/extra-1' });
    await expect(host.vm(src.id).clone(copyName, { linked: true, start: false })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/^linked clones are made on the local host only/) });
    await expect(host.vm(src.id).clone(name, { linked: false, start: false })).rejects.toMatchObject({ code: 'NAME_TAKEN' });

    const copy = await host.vm(src.id).clone(copyName, { linked: false, start: false });
    expect(copy).toMatchObject({ name: copyName, state: 'stopped', spec: { disks: ['vda', 'vdb'], source: { kind: 'default' } } });
    const copyDisks = await host.vm(copy.id).disks();
    expect(copyDisks.map((d) => [d.name, d.virtualSize])).toEqual(srcDisks.map((d) => [d.name, d.virtualSize]));
    for (const d of copyDisks) expect([srcDisks.some((s) => s.path === d.path), virsh('vol-pool', '--vol', d.path!).trim()]).toEqual([false, 'flotilla']);
    expect(virsh('domiflist', copyName)).not.toContain(virsh('domiflist', name).match(/52:54:00(:[0-9a-f]{2}){3}/)![0]);

    await host.vm(copy.id).start({ waitAgent: true });
    const r = await host.vm(copy.id).exec(['/bin/sh', '-c', "cat /proc/sys/kernel/hostname; grep ' /mnt/extra-1 ' /proc/mounts"], { timeoutMs: 30_000 });
    expect(r.stdout).toMatch(new RegExp(`^${copyName}\\n/dev/vdb /mnt/extra-1 ext4 `));
    await host.vm(copy.id).stop({ force: true });
    await host.delete(copy.id, { storage: true });
    expect(copyDisks.map((d) => existsSync(d.path!))).toEqual([false, false]);
    expect(srcDisks.map((d) => existsSync(d.path!))).toEqual([true, true]);
  }, 240_000);
});

describe('UEFI on a libvirt host', () => {
  it('a domain made from an ISO boots OVMF with a variable store of its own, which its clone copies and which goes with it; a running one is refused a snapshot in words', async () => {
    const name = `st-efi-${tag}`;
    made.push(name);
    await expect(host.create(vmConfigSchema.parse({ name, source: { kind: 'default' }, firmware: 'uefi', memoryMiB: 128 }), { start: false })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: 'the built-in Linux boots with BIOS on libvirt hosts (qboot); choose BIOS' });
    const info = await host.create(vmConfigSchema.parse({ name, source: { kind: 'iso', path: join(dir, 'one.iso'), diskSizeGiB: 1 }, firmware: 'uefi', memoryMiB: 128 }), { start: false });
    expect(info.spec.firmware).toBe('uefi');
    const os = virsh('dumpxml', '--inactive', name);
    expect(os).toMatch(/<os firmware='efi'>[\s\S]*<feature enabled='no' name='secure-boot'\/>/);
    const vm = host.vm(info.id);
    await vm.start({ waitAgent: false });
    await until('the domain to run', () => host.get(info.id).state === 'running');
    const nvram = /<nvram[^>]*>([^<]+)<\/nvram>/.exec(virsh('dumpxml', name))![1]!;
    expect(existsSync(nvram)).toBe(true);
    await expect(vm.snapshotCreate('live', { diskOnly: false })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: `${name} boots UEFI, and libvirt does not snapshot a running VM's firmware variables; stop it to take a snapshot of its disks` });
    await vm.stop({ force: true });
    expect(await vm.snapshotCreate('off', { diskOnly: false })).toMatchObject({ name: 'off' });
    await vm.snapshotDelete('off');

    // a clone gets a copy of the variable store (its boot entries), which its libvirt then uses, and which goes with it
    const copyName = `${name}-copy`;
    made.push(copyName);
    writeFileSync(nvram, Buffer.concat([readFileSync(nvram).subarray(0, 4096), Buffer.from('boot entries'), readFileSync(nvram).subarray(4096 + 12)]));
    const copy = await vm.clone(copyName, { linked: false, start: false });
    const copyVars = join(dirname(nvram), `${copyName}_VARS.fd`);
    expect(readFileSync(copyVars).equals(readFileSync(nvram))).toBe(true);
    expect(virsh('pool-list', '--all', '--name')).not.toMatch(/flotilla-dir-/);
    await host.vm(copy.id).start({ waitAgent: false });
    await until('the copy to run', () => host.get(copy.id).state === 'running');
    expect(/<nvram[^>]*>([^<]+)<\/nvram>/.exec(virsh('dumpxml', copyName))![1]).toBe(copyVars);
    await host.vm(copy.id).stop({ force: true });
    await host.delete(copy.id, { storage: true });
    expect([existsSync(copyVars), existsSync(nvram)]).toEqual([false, true]);

    await host.delete(info.id, { storage: true });
    expect(existsSync(nvram)).toBe(false);
  }, 120_000);
});

describe('shared folders on a libvirt host', () => {
  it('a built-in domain mounts a virtiofs share read-write at /mnt/<tag>; read-only is refused saying what to do; changes wait for a stop', async () => {
    const name = `st-share-${tag}`;
    made.push(name);
    const folder = mkdtempSync(join(tmpdir(), 'lvt-st-share-'));
    writeFileSync(join(folder, 'greeting'), 'hello from the host\n');
    try {
      const info = await host.create(vmConfigSchema.parse({ name, source: { kind: 'default' }, memoryMiB: 192 }), { start: false });
      expect(info.caps.shares).toBe(true);
      const vm = host.vm(info.id);
      await expect(vm.shareAdd({ hostPath: folder, tag: 'data', readOnly: true })).rejects.toMatchObject({
        code: 'UNSUPPORTED',
        message: `libvirt on ${host.id} cannot share a folder read-only (virtiofs there does not support it yet); share it read-write, or from a VM on this computer`,
      });
      expect(await vm.shareAdd({ hostPath: folder, tag: 'data', readOnly: false })).toMatchObject({ tag: 'data', hostPath: folder, state: 'inactive', guestPath: '/mnt/data' });
      await expect(vm.shareAdd({ hostPath: folder, readOnly: false })).rejects.toMatchObject({ code: 'NAME_TAKEN', message: `${name} already shares ${folder} (tag data)` });
      expect(host.get(info.id).spec.shares).toEqual([{ tag: 'data', hostPath: folder, readOnly: false }]);

      await vm.start({ waitAgent: true });
      const r = await vm.exec(['/bin/sh', '-c', "cat /mnt/data/greeting; grep -c ' /mnt/data virtiofs ' /proc/mounts; echo from the guest > /mnt/data/back"], { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 0, stdout: 'hello from the host\n1\n' });
      expect(readFileSync(join(folder, 'back'), 'utf8')).toBe('from the guest\n');
      expect(await vm.shares()).toMatchObject([{ tag: 'data', state: 'running', mountCommand: 'mkdir -p /mnt/data && mount -t virtiofs data /mnt/data' }]);
      // QEMU cannot save a virtiofs device's state: said before libvirt is asked
      await expect(vm.snapshotCreate('s1', { diskOnly: false })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: `${name} has shared folders, whose state cannot be saved with its RAM; stop it to take a snapshot of its disks` });
      await expect(vm.shareRemove('nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: `${name} has no shared folder tagged nope (it has data)` });
      await expect(vm.shareRemove('data')).rejects.toMatchObject({ code: 'INVALID_STATE', message: `stop ${name} before removing a shared folder (it is running)` });

      await vm.stop({ force: true });
      await vm.shareRemove('data');
      expect(host.get(info.id).spec.shares).toEqual([]);
      const xml = virsh('dumpxml', '--inactive', name);
      expect([xml.includes('<filesystem'), xml.includes('flotilla.shares=1'), xml.includes('opt/org.flotilla/shares')]).toEqual([false, false, false]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 240_000);
});

describe("the built-in guest's boot files in Flotilla's pool", () => {
  it('an upload cut short (right size, zero tail) is found and uploaded again; a whole one is reused', async () => {
    const v = host.conn.virsh;
    await ensurePool(v);
    const file = join(dir, 'boot-file');
    // random bytes, then zeros at the end as an initrd's padding has: the check reads the last non-zero 4 KiB
    writeFileSync(file, Buffer.concat([randomBytes(300 * 1024 + 123), Buffer.alloc(70 * 1024)]));
    const vol = `lvt-upload-${tag}`;
    const whole = async (): Promise<boolean> => {
      const back = join(dir, 'back');
      virsh('vol-download', '--pool', 'flotilla', '--vol', vol, '--file', back);
      return readFileSync(back).equals(readFileSync(file));
    };
    try {
      const path = await ensureUploaded(v, vol, file);
      expect(await whole()).toBe(true);
      // a whole one is reused as it is: its mtime does not move
      const mtime = statSync(path).mtimeMs;
      expect(await ensureUploaded(v, vol, file)).toBe(path);
      expect(statSync(path).mtimeMs).toBe(mtime);
      // what an engine killed mid-upload leaves: the full size, the first part written
      virsh('vol-delete', '--pool', 'flotilla', '--vol', vol);
      virsh('vol-create-as', '--pool', 'flotilla', '--name', vol, '--capacity', `${statSync(file).size}b`, '--format', 'raw');
      const part = join(dir, 'first-part');
      writeFileSync(part, readFileSync(file).subarray(0, 200 * 1024));
      virsh('vol-upload', '--pool', 'flotilla', '--vol', vol, '--file', part);
      expect(statSync(path).size).toBe(statSync(file).size);
      expect(await whole()).toBe(false);
      expect(await ensureUploaded(v, vol, file)).toBe(path);
      expect(await whole()).toBe(true);
    } finally {
      virsh('vol-delete', '--pool', 'flotilla', '--vol', vol);
    }
  });
});
