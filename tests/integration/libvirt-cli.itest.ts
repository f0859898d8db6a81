// The CLI on libvirt hosts, as a user runs it (real `flotilla` processes, each a short-lived
// engine that loads hosts.json): host add (refusals first, then the loopback ssh host), host
// list, and create/start/exec/set/list/stop/rm of a built-in VM with --host; host rm. media, disk
// and clone with --host (what they do is libvirt-storage.itest's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { HostInfo, VmInfo } from '../../shared/contract';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, run } from './fixtures/engine-harness';
import { libvirtTestEnv } from './fixtures/libvirt-env';
import { installTestGuest } from './fixtures/test-guest';

const env = libvirtTestEnv();
const uri = `${env.sshUri}?known_hosts=${env.knownHosts}`;

describe('flotilla host and --host', () => {
  let home: string;
  let cli: string;
  const flotilla = (...args: string[]) => run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 170_000 });

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
    await installTestGuest(home);
  });

  afterAll(async () => {
    await cleanupHome(home);
  });

  it('host add refuses a bad URI, and asks about an unknown host key with the command that trusts it', async () => {
    let r = await flotilla('host', 'add', 'lab', 'qemu+ssh://root@127.0.0.1:2222/system?command=/bin/sh');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flotilla: libvirt URI .*"command" is refused/);
    const empty = join(mkdtempSync(join(home, 'kh-')), 'known_hosts');
    writeFileSync(empty, '');
    r = await flotilla('host', 'add', 'lab', `${env.sshUri}?known_hosts=${empty}`, '--identity', env.key);
    expect(r.code).toBe(1);
    const own = execFileSync('ssh-keygen', ['-lf', join(env.dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    expect(r.stderr).toContain(`It offers the ED25519 key ${own}.`);
    // the line to paste: this same command, with the fingerprint the user checked
    const again = `flotilla host add lab '${env.sshUri}?known_hosts=${empty}' --identity ${env.key} --trust-host-key ${own}`;
    expect(r.stderr.split('\n').map((l) => l.trim())).toContain(again);
    expect(JSON.parse((await flotilla('host', 'list', '--json')).stdout)).toEqual([expect.objectContaining({ id: 'local' })]);
    expect((await flotilla('host', 'add', 'lab', 'qemu:///system', '--trust-host-key', 'yes')).stderr).toMatch(/^flotilla: --trust-host-key takes a fingerprint as ssh-keygen -l prints it/);

    r = await flotilla('host', 'add', 'lab', `${env.sshUri}?known_hosts=${empty}`, '--identity', env.key, '--trust-host-key', own, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'lab', state: 'connected' });
    expect(readFileSync(empty, 'utf8')).toMatch(/^\S+ ssh-ed25519 AAAA\S+\n$/);

    // its key removed since (as after ssh-keygen -R for a reinstalled host): the stored host says
    // how to check and trust the key again, and host trust does
    writeFileSync(empty, '');
    expect((await flotilla('host', 'list')).stdout).toMatch(/^lab\s+libvirt\s+\S+\s+failed: the ssh host key of \[127\.0\.0\.1\]:2222 is not in .*`flotilla host trust lab`/m);
    r = await flotilla('host', 'trust', 'lab');
    expect(r).toMatchObject({ code: 0, stdout: `lab offers the ED25519 key ${own}\ncheck it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then trust it:\n  flotilla host trust lab ${own}\n` });
    expect((await flotilla('host', 'trust', 'lab', 'SHA256:nope')).stderr).toMatch(/^flotilla: host trust takes the fingerprint/);
    r = await flotilla('host', 'trust', 'lab', own);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/^trusted the key of lab: connected, \d+ VMs?\n$/) });
    expect((await flotilla('host', 'list')).stdout).toMatch(/^lab\s+libvirt\s+\S+\s+connected/m);
    expect((await flotilla('host', 'rm', 'lab')).code).toBe(0);
  });

  it('adds the ssh host and runs a built-in VM there with --host', async () => {
    const added = await flotilla('host', 'add', 'lab', uri, '--identity', env.key, '--json');
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ id: 'lab', kind: 'libvirt', state: 'connected', uri });

    const hosts = JSON.parse((await flotilla('host', 'list', '--json')).stdout) as HostInfo[];
    expect(hosts.map((h) => [h.id, h.state])).toEqual([['local', 'connected'], ['lab', 'connected']]);
    expect((await flotilla('host', 'list')).stdout).toMatch(/^lab\s+libvirt\s+qemu\+ssh:\/\/root@127\.0\.0\.1:2222\/system\S*\s+connected\s+\d+$/m);

    const name = `cli-${randomBytes(3).toString('hex')}`;
    const created = await flotilla('create', name, '--host', 'lab', '--memory', '256', '--json');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name, host: 'lab', state: 'stopped', caps: { forwards: false, console: true } });
    try {
      const started = await flotilla('start', name, '--host', 'lab', '--wait-agent', '--json');
      expect(started.code, started.stderr).toBe(0);
      expect(JSON.parse(started.stdout)).toMatchObject({ host: 'lab', state: 'running', agent: 'ready' });
      // flotilla ssh to the remote host's guest, through that host (ssh -W there), right after the
      // start: it waits for the guest's DHCP address (it failed with "has no address" until the
      // guest had one, and this test asked again every second)
      const ssh = await flotilla('ssh', name, '--host', 'lab', '--', 'cat', '/proc/sys/kernel/hostname');
      expect(ssh, ssh.stderr).toMatchObject({ code: 0, stdout: `${name}\n` });
      // each command here is an engine of its own that connects afresh: it answers once the running
      // domains' agents were asked, as a long-running engine would show them (it said "connecting")
      const again = JSON.parse((await flotilla('list', '--host', 'lab', '--json')).stdout) as VmInfo[];
      expect(again.find((v) => v.name === name)).toMatchObject({ state: 'running', agent: 'ready' });

      const ex = await flotilla('exec', name, '--host', 'lab', '--', '/bin/sh', '-c', 'echo hi-$((40+2)); exit 5');
      expect(ex).toMatchObject({ code: 5, stdout: 'hi-42\n' });

      // a file in and out through the domain's agent over ssh: 200 KiB is four agent writes through
      // virsh's command line (64 KiB each) into a part file renamed at the end, and four ranged reads back
      const blob = randomBytes(200 * 1024 + 5);
      const here = await mkdtemp(join(tmpdir(), 'flotilla-lab-cp-'));
      try {
        await writeFile(join(here, 'blob.bin'), blob);
        expect(await flotilla('cp', join(here, 'blob.bin'), `${name}:/root/blob.bin`, '--host', 'lab')).toMatchObject({ code: 0, stderr: `copied ${blob.length} bytes to ${name}:/root/blob.bin\n` });
        const sum = await flotilla('exec', name, '--host', 'lab', '--', 'sha256sum', '/root/blob.bin');
        expect(sum.stdout).toBe(`${createHash('sha256').update(blob).digest('hex')}  /root/blob.bin\n`);
        expect(await flotilla('cp', `${name}:/root/blob.bin`, join(here, 'back.bin'), '--host', 'lab')).toMatchObject({ code: 0 });
        expect((await readFile(join(here, 'back.bin'))).equals(blob)).toBe(true);
      } finally {
        await rm(here, { recursive: true, force: true });
      }

      const listed = JSON.parse((await flotilla('list', '--host', 'lab', '--json')).stdout) as VmInfo[];
      expect(listed.find((v) => v.name === name)).toMatchObject({ host: 'lab', state: 'running' });
      expect(listed.every((v) => v.host === 'lab')).toBe(true);
      expect((await flotilla('list')).stdout).toMatch(new RegExp(`^HOST\\s+NAME[^\\n]*\\n(?:.*\\n)*lab\\s+${name}\\s+running`, 'm'));

      // a snapshot with RAM through the remote host (libvirt does not say its RAM state's size: "yes",
      // not "0 MiB")
      expect(await flotilla('snapshot', 'create', name, 's1', '--host', 'lab')).toMatchObject({ code: 0, stdout: `${name}: snapshot s1 taken (with RAM)\n` });
      expect((await flotilla('snapshot', 'list', name, '--host', 'lab')).stdout).toMatch(/^s1\t\S+\tyes$/m);
      expect(await flotilla('snapshot', 'rm', name, 's1', '--host', 'lab')).toMatchObject({ code: 0 });

      // set through the remote host: a note while it runs, vCPUs only once it is stopped
      expect(await flotilla('set', name, '--host', 'lab', '--note', 'remote box')).toMatchObject({ code: 0, stdout: `updated ${name}\n` });
      expect(await flotilla('set', name, '--host', 'lab', '--cpus', '2')).toMatchObject({ code: 1, stderr: expect.stringMatching(new RegExp(`^flotilla: stop ${name} before changing its CPUs \\(it is running\\)`)) });
      const stopped = await flotilla('stop', name, '--host', 'lab', '--json');
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(JSON.parse(stopped.stdout)).toMatchObject({ state: 'stopped' });
      const set = await flotilla('set', name, '--host', 'lab', '--cpus', '2', '--json');
      expect(set.code, set.stderr).toBe(0);
      expect(JSON.parse(set.stdout)).toMatchObject({ host: 'lab', spec: { cpus: 2, note: 'remote box' } });
    } finally {
      await flotilla('stop', name, '--host', 'lab', '--force');
      const rm = await flotilla('rm', name, '--host', 'lab', '--storage');
      expect(rm.code, rm.stderr).toBe(0);
    }
    expect(JSON.parse((await flotilla('list', '--host', 'lab', '--json')).stdout).some((v: VmInfo) => v.name === name)).toBe(false);

    const removed = await flotilla('host', 'rm', 'lab');
    expect(removed).toMatchObject({ code: 0, stdout: 'removed host lab (its VMs keep running there)\n' });
    expect((await flotilla('list', '--host', 'lab')).stderr).toMatch(/no host named lab/);
  });

  it("host volumes lists the ISO and disk images of a remote host's storage pools, with the path create takes", async () => {
    expect((await flotilla('host', 'add', 'lab', uri, '--identity', env.key)).code).toBe(0);
    const pool = `lvt-cli-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'lvt-cli-pool-'));
    writeFileSync(join(dir, 'debian 12.iso'), Buffer.alloc(3 * 1024 * 1024));
    writeFileSync(join(dir, 'base.qcow2'), Buffer.alloc(64 * 1024));
    execFileSync('virsh', ['--connect', 'qemu:///system', 'pool-create-as', '--name', pool, '--type', 'dir', '--target', dir]);
    try {
      const all = await flotilla('host', 'volumes', 'lab');
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toMatch(/^POOL\s+NAME\s+KIND\s+SIZE\s+PATH$/m);
      expect(all.stdout).toMatch(new RegExp(`^${pool}\\s+debian 12\\.iso\\s+iso\\s+3\\.0 MiB\\s+${dir}/debian 12\\.iso$`, 'm'));
      expect(all.stdout).toMatch(new RegExp(`^${pool}\\s+base\\.qcow2\\s+disk\\s+64 KiB\\s+${dir}/base\\.qcow2$`, 'm'));
      const isos = JSON.parse((await flotilla('host', 'volumes', 'lab', '--kind', 'iso', '--json')).stdout) as { pool: string; kind: string }[];
      expect(isos.filter((v) => v.pool === pool)).toEqual([{ pool, name: 'debian 12.iso', path: join(dir, 'debian 12.iso'), bytes: 3 * 1024 * 1024, kind: 'iso' }]);
      expect(isos.every((v) => v.kind === 'iso')).toBe(true);
      expect((await flotilla('host', 'volumes', 'lab', '--kind', 'floppy')).stderr).toBe('flotilla: --kind is iso or disk, not "floppy"\n');
      expect((await flotilla('host', 'volumes', 'nowhere')).stderr).toMatch(/nowhere/);
    } finally {
      execFileSync('virsh', ['--connect', 'qemu:///system', 'pool-destroy', pool]);
      rmSync(dir, { recursive: true, force: true });
      await flotilla('host', 'rm', 'lab');
    }
  });

  it('media, disk, share and clone take --host: a remote domain made from an ISO', async () => {
    expect((await flotilla('host', 'add', 'lab', uri, '--identity', env.key)).code).toBe(0);
    const tag = randomBytes(3).toString('hex');
    const pool = `lvt-cli-cd-${tag}`;
    const dir = mkdtempSync(join(tmpdir(), 'lvt-cli-cd-'));
    const iso = join(dir, 'one.iso');
    writeFileSync(iso, Buffer.alloc(1024 * 1024));
    const virsh = (...a: string[]) => execFileSync('virsh', ['--connect', 'qemu:///system', ...a], { encoding: 'utf8' });
    virsh('pool-create-as', '--name', pool, '--type', 'dir', '--target', dir);
    const name = `cd-${tag}`;
    const lab = async (...a: string[]) => flotilla(...a, '--host', 'lab');
    try {
      // a folder of that host shared from the start; the guest is no built-in Linux, so list gives the mount command
      expect((await lab('create', name, '--from', `iso:${iso}`, '--disk-size', '1', '--memory', '128', '--share', `${dir}:isos`)).code).toBe(0);
      const listed = await lab('share', 'list', name);
      expect(listed.stdout, listed.stderr).toBe(`TAG\tHOST PATH\tMODE\tHELPER\tIN THE GUEST\nisos\t${dir}\trw\tinactive\tmount: mkdir -p /mnt/isos && mount -t virtiofs isos /mnt/isos\n`);
      expect(await lab('share', 'rm', name, 'isos')).toMatchObject({ code: 0 });
      expect(await lab('media', 'eject', name)).toMatchObject({ code: 0, stdout: `${name}: ejected the CD\n` });
      expect(await lab('media', 'insert', name, iso)).toMatchObject({ code: 0, stdout: `${name}: inserted ${iso}\n` });
      expect(await lab('disk', 'add', name, '1')).toMatchObject({ code: 0, stdout: `${name}: added vdb (1 GiB)\n` });
      expect((await lab('disk', 'list', name)).stdout).toMatch(/^vda\t1 GiB\t\/\S+\.qcow2\nvdb\t1 GiB\t\/var\/lib\/libvirt\/flotilla\/\S+\.qcow2\n$/);
      expect(await lab('disk', 'rm', name, 'vdb')).toMatchObject({ code: 0, stdout: `${name}: removed vdb and deleted its file\n` });
      expect((await lab('clone', name, `${name}-copy`)).stdout).toMatch(new RegExp(`^cloned ${name}-copy \\([0-9a-f]{32}\\)\\n$`));
      for (const n of [`${name}-copy`, name]) expect((await lab('rm', n, '--storage')).code).toBe(0);
      expect(readdirSync(dir)).toEqual(['one.iso']);
    } finally {
      for (const n of [`${name}-copy`, name]) await lab('rm', n, '--storage');
      virsh('pool-destroy', pool);
      rmSync(dir, { recursive: true, force: true });
      await flotilla('host', 'rm', 'lab');
    }
  });
});
