// A VM moves between this computer and a libvirt host with export and import, against a real
// engine, the real libvirtd and the loopback ssh host of scripts/libvirt-test-setup.sh: a built-in
// VM with an added disk goes to the ssh host and comes back, and what its guest wrote in /root and
// on the added disk goes with it each way. An archive the host cannot take is refused with the
// reason and leaves no volume in the host's pool and nothing in the data directory, as does one
// cancelled while it uploads; what the archive names of the computer it came from is left out,
// saying so. The progress bar moves with the bytes of a disk's upload and download.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import type { Engine } from '../../electron/engine/engine';
import { writeArchive } from '../../electron/engine/lifecycle/archive';
import { cleanupHome, makeHome, openTestEngine, type TestClient } from './fixtures/engine-harness';
import { libvirtTestEnv } from './fixtures/libvirt-env';

const env = libvirtTestEnv();
const tag = randomBytes(3).toString('hex');
const virsh = (...a: string[]): string => execFileSync('virsh', ['--connect', 'qemu:///system', ...a], { encoding: 'utf8' });
/** this file's volumes in Flotilla's pool (other files running beside it have theirs) */
const poolVolumes = (): string[] =>
  virsh('vol-list', '--pool', 'flotilla')
    .split('\n')
    .slice(2)
    .map((l) => l.trim().split(/\s+/)[0]!)
    .filter((v) => v.includes(`-${tag}-`))
    .sort();

/** Running virsh processes whose arguments hold `command` and a word starting with `prefix`. */
function virshesWith(command: string, prefix: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('virsh') && args.includes(command) && args.some((a) => a.startsWith(prefix))) found.push(Number(e));
    } catch {
      // gone
    }
  }
  return found;
}

/** Where `pid` is in the file it has open whose path passes `which` (its descriptor's offset), or null. */
function filePos(pid: number, which: (path: string) => boolean): number | null {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      if (!which(readlinkSync(`/proc/${pid}/fd/${fd}`))) continue;
      return Number(/^pos:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? NaN);
    }
  } catch {
    // gone, or a descriptor closed meanwhile
  }
  return null;
}

describe('export and import between this computer and a libvirt host', () => {
  let home: string;
  let work: string;
  let engine: Engine;
  let client: TestClient;
  const lab = `lab-${tag}`;

  beforeAll(async () => {
    home = await makeHome();
    work = await mkdtemp(join(tmpdir(), 'flt-lvx-'));
    ({ engine, client } = await openTestEngine(home));
    await client.call('host.add', { name: lab, uri: `${env.sshUri}?known_hosts=${env.knownHosts}`, identity: env.key });
  }, 120_000);

  afterAll(async () => {
    // only this file's: the host is the libvirtd other files (and the developer) use too
    for (const vm of await client.call('vm.list', {})) {
      if (vm.host !== lab || !vm.name.includes(tag)) continue;
      await client.call('vm.stop', { host: lab, id: vm.id, force: true }).catch(() => undefined);
      await client.call('vm.delete', { host: lab, id: vm.id, storage: true }).catch(() => undefined);
    }
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  const sh = async (host: string, id: string, script: string): Promise<string> => {
    const r = await client.call('vm.exec', { host, id, command: ['/bin/sh', '-c', script], timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout;
  };

  it('a built-in VM goes to the ssh host and comes back with its /root and its added disk', async () => {
    const name = `mover-${tag}`;
    let vm = await client.call('vm.create', { config: { name, source: { kind: 'default', diskSizeGiB: 1 } } });
    await client.call('disk.add', { id: vm.id, sizeGiB: 1 });
    await client.call('vm.start', { id: vm.id, waitAgent: true });
    await sh('local', vm.id, 'echo made-here > /root/note && echo on-extra > /mnt/extra-1/file && sync');
    await client.call('vm.stop', { id: vm.id });
    const here = join(work, 'here.flotilla');
    await client.call('vm.export', { id: vm.id, path: here });

    const before = poolVolumes();
    const there = await client.call('vm.import', { host: lab, path: here });
    expect(there).toMatchObject({ host: lab, name, state: 'stopped', warnings: [] });
    // two new volumes in the pool: the root disk and the added one
    expect(poolVolumes().filter((v) => !before.includes(v))).toEqual([`${name}-${there.id.slice(0, 8)}-disk.qcow2`, `${name}-${there.id.slice(0, 8)}-extra-1.qcow2`].sort());
    await client.call('vm.start', { host: lab, id: there.id, waitAgent: true });
    expect(await sh(lab, there.id, 'cat /root/note /mnt/extra-1/file')).toBe('made-here\non-extra\n');
    // started again: said as for a local VM (not virsh's "Domain is already active")
    await expect(client.call('vm.start', { host: lab, id: there.id })).rejects.toMatchObject({ code: 'ALREADY_RUNNING', message: `${name} is already running` });
    // a running domain is not exported (its disks are changing)
    await expect(client.call('vm.export', { host: lab, id: there.id, path: join(work, 'running.flotilla') })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/^stop mover-\w+ before exporting it/) });
    await sh(lab, there.id, 'echo changed-there >> /root/note && sync');
    await client.call('vm.stop', { host: lab, id: there.id });

    const back = join(work, 'back.flotilla');
    await client.call('vm.export', { host: lab, id: there.id, path: back });
    expect(execFileSync('tar', ['-tf', back], { encoding: 'utf8' }).trim().split('\n')).toEqual(['manifest.json', 'vm.json', 'disks/disk.qcow2', 'disks/extra-1.qcow2', 'checksums.json']);
    vm = await client.call('vm.import', { path: back, name: `${name}-back` });
    expect(vm.spec.disks).toEqual(['disk.qcow2', 'extra-1.qcow2']);
    await client.call('vm.start', { id: vm.id, waitAgent: true });
    expect(await sh('local', vm.id, 'cat /root/note /mnt/extra-1/file')).toBe('made-here\nchanged-there\non-extra\n');
    await client.call('vm.stop', { id: vm.id, force: true });
    // nothing left on the way: no partial archive, no scratch directory
    expect((await readdir(work)).sort()).toEqual(['back.flotilla', 'here.flotilla']);
    expect((await readdir(join(home, 'vms'))).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 400_000);

  it("a UEFI domain's variable store (its boot entries) goes into the archive and into the imported domain's", async () => {
    const iso = join(work, 'blank.iso');
    await writeFile(iso, Buffer.alloc(1 << 20));
    const name = `efi-${tag}`;
    const vm = await client.call('vm.create', { host: lab, config: { name, source: { kind: 'iso', path: iso, diskSizeGiB: 1 }, firmware: 'uefi', memoryMiB: 128 } });
    // libvirt makes the store when the domain first starts; it stands for boot entries an installer wrote
    await client.call('vm.start', { host: lab, id: vm.id });
    await client.call('vm.stop', { host: lab, id: vm.id, force: true });
    const nvram = '/var/lib/libvirt/qemu/nvram';
    const vars = join(nvram, `${name}_VARS.fd`);
    const store = Buffer.concat([readFileSync(vars).subarray(0, 4096), Buffer.from(`entries of ${tag}`), readFileSync(vars).subarray(4096 + 7 + tag.length + 4)]);
    await writeFile(vars, store);
    const file = join(work, 'efi.flotilla');
    await client.call('vm.export', { host: lab, id: vm.id, path: file });
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n')).toEqual(['manifest.json', 'vm.json', 'disks/disk.qcow2', 'nvram/ovmf-vars.qcow2', 'checksums.json']);
    const again = await client.call('vm.import', { host: lab, path: file, name: `${name}-again` });
    // the ISO is a plain file there, in no pool: the copy's drive is empty
    expect(again.warnings).toEqual([expect.stringMatching(/^its CD drive is empty: \S+blank\.iso is not an image in a storage pool/)]);
    expect(readFileSync(join(nvram, `${name}-again_VARS.fd`)).equals(store)).toBe(true);
    // and on this computer, the local VM's store (a qcow2 of the same bytes)
    const here = await client.call('vm.import', { path: file, name: `${name}-here` });
    const local = join(work, 'local-vars.fd');
    execFileSync('qemu-img', ['convert', '-O', 'raw', join(home, 'vms', here.id, 'ovmf-vars.qcow2'), local]);
    expect(readFileSync(local).equals(store)).toBe(true);
  }, 120_000);

  it('a domain made outside Flotilla exports as a VM made from a copy of its disk (a raw one becomes a qcow2), and imports here', async () => {
    const name = `plain-${tag}`;
    const vol = `${name}-disk.img`;
    virsh('vol-create-as', '--pool', 'flotilla', '--name', vol, '--capacity', '16M', '--format', 'raw');
    const path = virsh('vol-path', '--pool', 'flotilla', '--vol', vol).trim();
    // data the copy must hold: a marker at 5 MiB of the raw disk
    const marker = Buffer.from(`plain-data-${tag}`);
    await writeFile(join(work, 'marker'), marker);
    virsh('vol-upload', '--pool', 'flotilla', '--vol', vol, '--file', join(work, 'marker'), '--offset', String(5 << 20));
    const xml = join(work, 'plain.xml');
    await writeFile(xml, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>96</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${path}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`);
    virsh('define', xml);
    let vm: VmInfo | null = null;
    for (const end = Date.now() + 30_000; !vm && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) vm = await client.call('vm.find', { host: lab, nameOrId: name }).catch(() => null);
    if (!vm) throw new Error(`${name} never showed on ${lab}`);
    const file = join(work, 'plain.flotilla');
    await client.call('vm.export', { host: lab, id: vm.id, path: file });
    const spec = JSON.parse(execFileSync('tar', ['-xOf', file, 'vm.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    expect(spec).toMatchObject({ name, cpus: 2, memoryMiB: 96, disks: ['disk.qcow2'], source: { kind: 'disk', mode: 'copy', path } });
    const here = await client.call('vm.import', { path: file });
    const disk = join(home, 'vms', here.id, 'disk.qcow2');
    expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', disk], { encoding: 'utf8' }))).toMatchObject({ format: 'qcow2', 'virtual-size': 16 << 20 });
    const raw = join(work, 'plain.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
    expect((await readFile(raw)).subarray(5 << 20, (5 << 20) + marker.length).equals(marker)).toBe(true);
    await client.call('vm.delete', { host: lab, id: vm.id, storage: true });
    expect(poolVolumes().filter((v) => v.startsWith(name))).toEqual([]);
  }, 120_000);

  it("the bar follows the bytes of a disk's upload to the host and its download back (virsh says nothing of them)", async () => {
    const name = `big-${tag}`;
    // 48 MiB that do not compress or hold holes, in a VM made from a copy of them
    const raw = join(work, 'big.raw');
    await writeFile(raw, randomBytes(48 << 20));
    const qcow = join(work, 'big.qcow2');
    execFileSync('qemu-img', ['convert', '-O', 'qcow2', raw, qcow]);
    await rm(raw);
    const here = await client.call('vm.create', { config: { name, source: { kind: 'disk', mode: 'copy', path: qcow } } });
    const file = join(work, 'big.flotilla');
    await client.call('vm.export', { id: here.id, path: file });
    await client.call('vm.delete', { id: here.id });
    await rm(qcow);

    /** Holds a virsh of this VM's `command` once it is part-way through its local file (found by its name in /proc). */
    const holdMidway = async (command: string, local: (path: string) => boolean): Promise<number> => {
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setImmediate(r))) {
        for (const pid of virshesWith(command, name)) {
          const pos = filePos(pid, local);
          if (pos !== null && pos > 8 << 20 && pos < 40 << 20) {
            process.kill(pid, 'SIGSTOP');
            return pid;
          }
        }
      }
      throw new Error(`no virsh ${command} of ${name} was seen part-way`);
    };
    const midway = (re: RegExp, lo: number, hi: number) => client.waitFor('vm.progress', (p) => p.host === lab && re.test(p.progress?.message ?? '') && (p.progress?.percent ?? 0) > lo && (p.progress?.percent ?? 100) < hi, `${re.source} part-way`, 60_000);

    // up: the second half of the bar is the upload
    const up = midway(/^uploading disk\.qcow2 to /, 50, 100);
    const imported = client.call('vm.import', { host: lab, path: file });
    imported.catch(() => undefined); // awaited below; a failure above is the one to report
    const upload = await holdMidway('vol-upload', (p) => p.endsWith('/disk.qcow2'));
    try {
      expect((await up).progress).toMatchObject({ op: 'import' });
    } finally {
      process.kill(upload, 'SIGCONT');
    }
    const there = await imported;

    // down: the first half is the download (a qcow2, kept as it is)
    const down = midway(/^downloading vda from /, 0, 50);
    const exported = client.call('vm.export', { host: lab, id: there.id, path: join(work, 'big-back.flotilla') });
    exported.catch(() => undefined);
    const download = await holdMidway('vol-download', (p) => p.endsWith('/disk.qcow2.download'));
    try {
      expect((await down).progress).toMatchObject({ op: 'export' });
    } finally {
      process.kill(download, 'SIGCONT');
    }
    await exported;
    await client.call('vm.delete', { host: lab, id: there.id, storage: true });
  }, 180_000);

  it('Cancel stops an import onto the host while it uploads a disk, and nothing of it is left', async () => {
    const good = join(work, 'here.flotilla');
    const name = `cancelled-${tag}`;
    const uploading = client.waitFor('vm.progress', (p) => p.host === lab && /^uploading disk\.qcow2/.test(p.progress?.message ?? ''), 'the upload to begin', 60_000);
    const done = client.call('vm.import', { host: lab, path: good, name }).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    const { id } = await uploading;
    // the upload is held (a slow link) until the Cancel is in: its virsh is stopped, then let go
    let upload: number[] = [];
    for (const until = Date.now() + 30_000; upload.length === 0 && Date.now() < until; await new Promise((r) => setTimeout(r, 2))) {
      upload = virshesWith('vol-upload', name);
      for (const pid of upload) process.kill(pid, 'SIGSTOP');
    }
    expect(upload, 'the virsh vol-upload of the import').not.toEqual([]);
    expect(await client.call('vm.cancelJob', { host: lab, id })).toEqual({ cancelled: true });
    for (const pid of upload) process.kill(pid, 'SIGCONT');
    expect(await done).toMatchObject({ code: 'CANCELLED', message: 'import cancelled by the user' });
    expect(poolVolumes().filter((v) => v.startsWith(name))).toEqual([]);
    expect((await client.call('vm.list', {})).some((v) => v.name === name)).toBe(false);
    expect((await readdir(join(home, 'vms'))).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 120_000);

  it('an archive the host cannot take is refused with the reason, leaving no volume; what names this computer is left out, saying so', async () => {
    const good = join(work, 'here.flotilla');
    const spec = JSON.parse(execFileSync('tar', ['-xOf', good, 'vm.json'], { encoding: 'utf8' })) as Record<string, unknown>;
    const disk = join(work, 'disk.qcow2');
    await writeFile(disk, execFileSync('tar', ['-xOf', good, 'disks/disk.qcow2'], { maxBuffer: 1 << 30 }));
    const make = async (file: string, s: Record<string, unknown>): Promise<string> => {
      const f = join(work, file);
      await rm(f, { force: true });
      await writeArchive(f, { spec: s, engineVersion: 'x', files: [{ entry: 'disks/disk.qcow2', role: 'disk', path: disk }] });
      return f;
    };
    const tampered = join(work, 'tampered.flotilla');
    const buf = await readFile(good);
    buf[buf.length - 20_000] = buf[buf.length - 20_000]! ^ 0x55;
    await writeFile(tampered, buf);
    const before = poolVolumes();
    const cases: [string, string, RegExp][] = [
      ['tampered', tampered, /does not match its checksum|truncated|corrupt/],
      ['a kernel of the computer it came from', await make('kernel.flotilla', { ...spec, name: 'k', disks: ['disk.qcow2'], source: { kind: 'kernel', kernel: '/boot/vmlinuz' } }), /boots the kernel \/boot\/vmlinuz of the computer it came from/],
    ];
    for (const [label, file, re] of cases) {
      const err = await client.call('vm.import', { host: lab, path: file, name: `bad-${tag}` }).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err, label).toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringMatching(re) });
      expect(poolVolumes(), label).toEqual(before);
      expect((await client.call('vm.list', {})).some((v) => v.name === `bad-${tag}`), label).toBe(false);
    }
    await expect(client.call('vm.import', { host: lab, path: good })).rejects.toMatchObject({ code: 'NAME_TAKEN', message: expect.stringMatching(/import it under another name \(--name\)/) });

    // shares and forwards name this computer; an ISO not in the host's pools leaves the drive empty
    const odd = await make('odd.flotilla', {
      ...spec,
      name: `odd-${tag}`,
      disks: ['disk.qcow2'],
      source: { kind: 'iso', path: '/srv/nowhere/install.iso', diskSizeGiB: 1 },
      forwards: [{ proto: 'tcp', guestPort: 22 }],
      shares: [{ tag: 'src', hostPath: '/srv/src', readOnly: false }],
    });
    const vm = await client.call('vm.import', { host: lab, path: odd });
    expect(vm.warnings).toEqual([
      expect.stringMatching(/^the shared folders of the exported VM were not imported: \/srv\/src \(src\)/),
      expect.stringMatching(/^its port forwards were not imported \(tcp\/22\): libvirt hosts have none/),
      expect.stringMatching(new RegExp(`^its CD drive is empty: /srv/nowhere/install.iso is not an image in a storage pool of ${lab}; insert one with Insert CD`)),
    ]);
    expect(vm.spec).toMatchObject({ shares: [], forwards: [], cdrom: null });
    await client.call('vm.delete', { host: lab, id: vm.id, storage: true });
    expect(poolVolumes()).toEqual(before);
    expect((await readdir(join(home, 'vms'))).filter((n) => n.startsWith('.'))).toEqual([]);
  }, 200_000);
});
