// The "flotilla" pool on a real libvirtd (qemu:///system, scripts/libvirt-test-setup.sh): the
// boot volumes of earlier built-in guest builds go after a create, unless a domain still names
// them or they were written within the hour; a built-in domain on an earlier build boots the
// current one at its next start, and the old files go then. A host's ISO and disk images are
// listed from its other storage pools, as virt-manager's volume browser shows them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmConfigSchema } from '../../shared/spec';
import { LibvirtHost } from '../../electron/engine/hosts/libvirt/libvirt-host';
import { POOL, POOL_TARGET } from '../../electron/engine/hosts/libvirt/storage';
import { mkdirSync } from 'node:fs';
import { libvirtTestEnv } from './fixtures/libvirt-env';
import { ensureTestGuest } from './fixtures/test-guest';

libvirtTestEnv(); // fails, naming the set-up script, when libvirtd is not set up
const virsh = (...a: string[]) => execFileSync('virsh', ['--connect', 'qemu:///system', ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
const vols = () => virsh('vol-list', '--pool', POOL);
let home = '';
let host: LibvirtHost | null = null;
const made: string[] = [];
const domains: string[] = [];

/** A boot-volume-named volume, its mtime set hoursAgo back (what an earlier build left). */
function staleVolume(kind: 'vmlinuz' | 'initrd', hoursAgo: number): { name: string; path: string } {
  const name = `default-${kind}-${randomBytes(8).toString('hex')}`;
  virsh('vol-create-as', '--pool', POOL, '--name', name, '--capacity', '4096b', '--format', 'raw');
  made.push(name);
  const path = join(POOL_TARGET, name);
  age(path, hoursAgo);
  return { name, path };
}

function age(path: string, hoursAgo: number): void {
  const t = new Date(Date.now() - hoursAgo * 3600_000);
  utimesSync(path, t, t);
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  home = await ensureTestGuest();
});

afterAll(async () => {
  for (const d of domains) {
    try {
      virsh('undefine', '--domain', d, '--remove-all-storage');
    } catch {
      /* gone already */
    }
  }
  for (const v of made) {
    try {
      virsh('vol-delete', '--pool', POOL, '--vol', v);
    } catch {
      /* deleted by the prune */
    }
  }
  await host?.close();
  if (host) rmSync(join(home, 'libvirt', host.id), { recursive: true, force: true });
});

describe('boot volumes of earlier built-in guests', () => {
  it('go after a create, unless a domain names them or they are under an hour old', async () => {
    const unused = staleVolume('initrd', 2);
    const young = staleVolume('initrd', 0.5);
    // a domain made outside Flotilla that boots an old kernel keeps it (the volume is aged only once
    // the domain names it: a create in a test file running alongside prunes too)
    const named = staleVolume('vmlinuz', 0);
    const plain = `lvt-pool-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'lvt-'));
    try {
      writeFileSync(join(dir, 'd.xml'), `<domain type='qemu'><name>${plain}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type><kernel>${named.path}</kernel></os></domain>`);
      virsh('define', join(dir, 'd.xml'));
      domains.push(plain);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    age(named.path, 2);

    host = new LibvirtHost({ name: `t-pool-${randomBytes(2).toString('hex')}`, uri: 'qemu:///system', addedAt: '' }, { home, backoff: { baseMs: 200, maxMs: 1000 } });
    await host.connectNow();
    await until('the host to load its domains', () => host!.info().state === 'connected');
    const vm = await host.create(vmConfigSchema.parse({ name: `lvt-pool-${randomBytes(3).toString('hex')}`, source: { kind: 'default' }, memoryMiB: 128, cpus: 1 }), { start: false });
    domains.push(vm.name);

    await until('the unused old initrd to be deleted', () => !vols().includes(unused.name));
    const left = vols();
    expect(left).toContain(young.name);
    expect(left).toContain(named.name);
    // the ones the new domain boots stay
    const xml = virsh('dumpxml', '--domain', host.vm(vm.id).uuid);
    for (const m of xml.matchAll(/<(?:kernel|initrd)>([^<]+)<\//g)) expect(left).toContain(m[1]!.split('/').pop());
  });

  it('a built-in domain on an earlier build boots the current one at its next start', async () => {
    const h = host!;
    const name = `lvt-upg-${randomBytes(3).toString('hex')}`;
    const vm = await h.create(vmConfigSchema.parse({ name, source: { kind: 'default' }, memoryMiB: 256, cpus: 1 }), { start: false });
    domains.push(name);
    const uuid = h.vm(vm.id).uuid;
    // a shared folder: its flag on the command line must outlive the move to the current build
    const shared = mkdtempSync(join(tmpdir(), 'lvt-upg-share-'));
    await h.vm(vm.id).shareAdd({ hostPath: shared, tag: 'up', readOnly: false });
    const current = virsh('dumpxml', '--inactive', '--domain', uuid);
    expect(current).toContain(' flotilla.shares=1</cmdline>');
    // what an earlier build left: its own kernel and initrd volumes (these cannot boot) and its
    // command line, with a parameter the current build does not have
    const oldK = staleVolume('vmlinuz', 0);
    const oldI = staleVolume('initrd', 0);
    const dir = mkdtempSync(join(tmpdir(), 'lvt-'));
    try {
      // and its devices from before the console port and the default network: hvc0, user networking
      const older = current
        .replace(/<kernel>[^<]*<\/kernel>/, `<kernel>${oldK.path}</kernel>`)
        .replace(/<initrd>[^<]*<\/initrd>/, `<initrd>${oldI.path}</initrd>`)
        .replace(/<cmdline>([^<]*)<\/cmdline>/, (_, line: string) => `<cmdline>${line.replace(' flotilla.net=dhcp', '')} flotilla.old=1</cmdline>`)
        .replace(/<channel type='unix'>\s*(<source[^>]*\/>\s*)?<target type='virtio' name='org\.flotilla\.console\.0'\/>\s*(<address[^>]*\/>\s*)?<\/channel>/, "<console type='pty'>\n      <target type='virtio' port='0'/>\n    </console>")
        .replace(/<interface type='network'>(\s*<mac[^>]*\/>)?\s*<source network='default'\/>/, "<interface type='user'>$1");
      expect(older).toContain("<console type='pty'>");
      expect(older).toContain("<interface type='user'>");
      writeFileSync(join(dir, 'd.xml'), older);
      virsh('define', join(dir, 'd.xml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // old enough to go once nothing names them
    age(oldK.path, 2);
    age(oldI.path, 2);

    try {
      await h.vm(vm.id).start({ waitAgent: true });
      expect(h.get(vm.id).agent).toBe('ready');
      const now = virsh('dumpxml', '--inactive', '--domain', uuid);
      for (const tag of ['kernel', 'initrd']) expect(new RegExp(`<${tag}>([^<]*)<`).exec(now)?.[1]).toBe(new RegExp(`<${tag}>([^<]*)<`).exec(current)?.[1]);
      expect(/<cmdline>([^<]*)</.exec(now)?.[1]).toBe(/<cmdline>([^<]*)</.exec(current)?.[1]);
      expect((await h.vm(vm.id).exec(['/bin/sh', '-c', "grep -c ' /mnt/up virtiofs ' /proc/mounts"], { timeoutMs: 30_000 })).stdout).toBe('1\n');
      // the console port and the default network in place of hvc0 and user networking
      expect(now).toMatch(/name='org\.flotilla\.console\.0'/);
      expect(now).not.toContain("<console type='pty'>\n      <target type='virtio'");
      expect(now).toMatch(/<interface type='network'>\s*<mac address='([0-9a-f:]+)'\/>\s*<source network='default'/);
      expect(/<mac address='([0-9a-f:]+)'/.exec(now)?.[1]).toBe(/<mac address='([0-9a-f:]+)'/.exec(current)?.[1]);
      await until('a DHCP address on the default network', () => h.get(vm.id).ips.some((a) => a.startsWith('192.168.122.')), 60_000);
      let seen = '';
      h.vm(vm.id).consoleSubscribe('t', (d) => (seen += d));
      let polls = 0;
      // typed again about once a second until the shell answers (its relay may still be starting)
      await until('the console port to run a typed command', () => {
        if (polls++ % 5 === 0) h.vm(vm.id).consoleInput('echo up-$((40+2))\r');
        return seen.includes('up-42');
      }, 60_000);
      expect(h.vm(vm.id).consoleKind).toBe('port');
      h.vm(vm.id).consoleUnsubscribe('t');
      expect(h.logLines(name, 20).map((l) => l.text)).toContainEqual(expect.stringMatching(/now boots the built-in Linux of this computer/));
      await until('the earlier build\'s files to be deleted', () => !vols().includes(oldK.name) && !vols().includes(oldI.name));
    } finally {
      await h.vm(vm.id).stop({ force: true }).catch(() => undefined);
      rmSync(shared, { recursive: true, force: true });
    }
  });
});

describe("a host's storage pools", () => {
  it('lists ISO and disk images from its other pools, refreshed, never Flotilla\'s own', async () => {
    const pool = `lvt-isos-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'lvt-pool-'));
    try {
      virsh('pool-create-as', '--name', pool, '--type', 'dir', '--target', dir);
      const h = new LibvirtHost({ name: `t-vols-${randomBytes(2).toString('hex')}`, uri: 'qemu:///system', addedAt: '' }, { home, backoff: { baseMs: 200, maxMs: 1000 } });
      try {
        await h.connectNow();
        // copied into the pool's directory after the pool started: the list refreshes it first
        writeFileSync(join(dir, 'installer one.iso'), Buffer.alloc(64 * 1024));
        writeFileSync(join(dir, 'base.qcow2'), Buffer.alloc(4096));
        writeFileSync(join(dir, 'notes.txt'), 'x');
        mkdirSync(join(dir, 'sub'));
        const isos = (await h.volumes('iso')).filter((v) => v.pool === pool);
        expect(isos).toEqual([{ pool, name: 'installer one.iso', path: join(dir, 'installer one.iso'), bytes: 64 * 1024 }]);
        const disks = await h.volumes('disk');
        expect(disks.filter((v) => v.pool === pool).map((v) => v.name)).toEqual(['base.qcow2']);
        expect(disks.some((v) => v.pool === POOL)).toBe(false);
      } finally {
        await h.close();
        rmSync(join(home, 'libvirt', h.id), { recursive: true, force: true });
      }
    } finally {
      try {
        virsh('pool-destroy', pool);
      } catch {
        /* not started */
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
