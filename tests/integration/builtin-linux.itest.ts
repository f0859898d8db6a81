// The built-in Linux as a machine that keeps its files, boots with UEFI, and takes SSH logins:
// real QEMU, the real default guest, the real ssh client with a key made for the test.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { sshArgs } from '../../electron/engine/builtin-vm';
import { qemuImgInfo } from '../../electron/engine/images';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, openTestEngine, run, type TestClient } from './fixtures/engine-harness';

function sh(client: TestClient, id: string, script: string) {
  return client.call('vm.exec', { id, command: ['/bin/sh', '-c', script], timeoutMs: 60_000 });
}

describe('the built-in Linux', () => {
  let home: string;
  let keys: string;
  let engine: Engine;
  let client: TestClient;

  beforeAll(async () => {
    [home, keys] = await Promise.all([makeHome(), mkdtemp(join(tmpdir(), 'flt-keys-'))]);
    for (const k of ['id_test', 'id_other']) {
      const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `flotilla-${k}`, '-f', join(keys, k)]);
      expect(r.code, r.stderr).toBe(0);
    }
    ({ engine, client } = await openTestEngine(home, { stopDeadlineMs: 60_000 }));
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
    await rm(keys, { recursive: true, force: true });
  });

  it('keeps what is written under /root across stop/start and a reboot, on its own sparse 8 GiB disk', async () => {
    let vm = await client.call('vm.create', { config: { name: 'keeper', source: { kind: 'default' } } });
    expect(vm.spec.disks).toEqual(['disk.qcow2']);
    const disk = join(home, 'vms', vm.id, 'disk.qcow2');
    const info = await qemuImgInfo(disk);
    expect(info).toMatchObject({ format: 'qcow2', virtualSize: 8 * 2 ** 30 });
    expect(info.actualSize).toBeLessThan(2 << 20);

    vm = await client.call('vm.start', { id: vm.id, waitAgent: true });
    // what the guest's agent says it runs: this kernel (the built-in Linux has no os-release)
    const kernel = (await sh(client, vm.id, 'uname -r')).stdout.trim();
    expect(kernel).toMatch(/^\d+\.\d+\./);
    expect((await client.waitVm(vm.id, (v) => v.guestOs !== null, 'guest OS', 30_000)).guestOs).toBe(`kernel ${kernel}`);
    const mounted = await sh(client, vm.id, 'grep " /root " /proc/mounts');
    expect(mounted.stdout).toMatch(/^\/dev\/vd[a-z] \/root ext4 /);
    expect((await sh(client, vm.id, 'echo kept-across-boots > /root/note.txt && sync')).exitCode).toBe(0);
    // a program that needs a while to finish when asked to end: a stop gives it the time (up to
    // 5 s; busybox init alone killed everything 1 s after asking), and what it writes without a
    // sync of its own is on the disk at the next boot
    const slow = `trap 'sleep 2; echo finished-at-stop > /root/at-stop.txt; exit 0' TERM; trap '' HUP; touch /tmp/slow-up; while :; do sleep 1; done`;
    expect((await sh(client, vm.id, `(sh -c "${slow}" </dev/null >/dev/null 2>&1 &); while [ ! -e /tmp/slow-up ]; do usleep 20000; done`)).exitCode).toBe(0);

    await client.call('vm.stop', { id: vm.id });
    vm = await client.call('vm.start', { id: vm.id, waitAgent: true });
    expect((await sh(client, vm.id, 'cat /root/note.txt')).stdout).toBe('kept-across-boots\n');
    expect((await sh(client, vm.id, 'cat /root/at-stop.txt')).stdout).toBe('finished-at-stop\n');
    expect((await sh(client, vm.id, 'echo after-reboot >> /root/note.txt && sync')).exitCode).toBe(0);

    // a guest reboot (QMP system_reset: same QEMU) mounts the same disk again
    await client.call('vm.restart', { id: vm.id });
    await client.waitVm(vm.id, (v) => v.agent === 'ready', 'agent after reboot', 120_000);
    expect((await sh(client, vm.id, 'cat /root/note.txt')).stdout).toBe('kept-across-boots\nafter-reboot\n');
    await client.call('vm.stop', { id: vm.id });
  });

  it('gives a built-in VM from before there were disks a disk on its next start', async () => {
    const vm = await client.call('vm.create', { config: { name: 'olden', source: { kind: 'default' } } });
    // make it look like a VM created by an older Flotilla: no disk in the spec or the directory
    client.close();
    await engine.close({ stopVms: true });
    const specFile = join(home, 'vms', vm.id, 'vm.json');
    const old = JSON.parse(await readFile(specFile, 'utf8')) as Record<string, unknown>;
    await writeFile(specFile, JSON.stringify({ ...old, source: { kind: 'default' }, disks: [] }));
    await rm(join(home, 'vms', vm.id, 'disk.qcow2'));
    ({ engine, client } = await openTestEngine(home, { stopDeadlineMs: 60_000 }));

    const up = await client.call('vm.start', { id: vm.id, waitAgent: true });
    expect(up.spec.disks).toEqual(['disk.qcow2']);
    expect((await qemuImgInfo(join(home, 'vms', vm.id, 'disk.qcow2'))).virtualSize).toBe(8 * 2 ** 30);
    expect((await sh(client, vm.id, 'grep " /root " /proc/mounts')).stdout).toContain(' ext4 ');
    await client.call('vm.stop', { id: vm.id });
  });

  it('boots with UEFI firmware to a ready agent, with qcow2 variables', async () => {
    const vm = await client.call('vm.create', { config: { name: 'efi', source: { kind: 'default', diskSizeGiB: 1 }, firmware: 'uefi' } });
    expect((await qemuImgInfo(join(home, 'vms', vm.id, 'ovmf-vars.qcow2'))).format).toBe('qcow2');
    const up = await client.call('vm.start', { id: vm.id, waitAgent: true });
    expect(up.agent).toBe('ready');
    // the kernel really came through OVMF: the EFI runtime is there
    expect((await sh(client, vm.id, 'ls /sys/firmware/efi')).exitCode).toBe(0);
    await client.call('vm.stop', { id: vm.id });
  });

  it('takes SSH logins with the given key, checks its per-VM host key, which survives a restart', async () => {
    const pub = (await readFile(join(keys, 'id_test.pub'), 'utf8')).trim();
    let vm = await client.call('vm.create', { config: { name: 'sshd', source: { kind: 'default', diskSizeGiB: 1 }, sshKeys: [pub], forwards: [{ guestPort: 22 }] } });
    vm = await client.call('vm.start', { id: vm.id, waitAgent: true });
    const ssh = async (identity: string, command: string[]) => {
      const info = await client.call('vm.sshInfo', { id: vm.id });
      const args = ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=60', ...sshArgs(info, { identity: join(keys, identity), command })];
      return { info, ...(await run('ssh', args, { timeoutMs: 120_000 })) };
    };
    const first = await ssh('id_test', ['echo', 'hello-from-$(hostname)']);
    expect(first.stderr).not.toMatch(/WARNING|Permanently added/);
    expect(first).toMatchObject({ code: 0, stdout: 'hello-from-sshd\n' });
    expect(first.info).toMatchObject({ host: '127.0.0.1', user: 'root', hostKeyAlias: `flotilla-${vm.id}` });
    expect(first.info.hostKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+=*$/);
    const knownHosts = await readFile(first.info.knownHostsFile, 'utf8');
    expect(knownHosts).toBe(`flotilla-${vm.id} ${first.info.hostKey}\n`);
    expect((await stat(first.info.knownHostsFile)).mode & 0o777).toBe(0o600);

    // a key that was not given is refused
    const other = await ssh('id_other', ['true']);
    expect(other.code).toBe(255);
    expect(other.stderr).toMatch(/Permission denied/);

    // the host key is on the VM's disk: the same after a stop and start
    await client.call('vm.stop', { id: vm.id });
    vm = await client.call('vm.start', { id: vm.id, waitAgent: true });
    const again = await ssh('id_test', ['cat', '/root/.ssh/authorized_keys']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.info.hostKey).toBe(first.info.hostKey);
    expect(again.stdout).toContain(pub);

    // a host key that does not match is refused, not trusted
    await writeFile(first.info.knownHostsFile, `flotilla-${vm.id} ${(await readFile(join(keys, 'id_other.pub'), 'utf8')).split(' ').slice(0, 2).join(' ')}\n`);
    const forged = await run('ssh', ['-o', 'BatchMode=yes', ...sshArgs(again.info, { identity: join(keys, 'id_test'), command: ['true'] })], { timeoutMs: 120_000 });
    expect(forged.code).toBe(255);
    expect(forged.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    await client.call('vm.stop', { id: vm.id });
  });

  it('flotilla create --ssh-key and flotilla ssh -- CMD, as a user runs them', async () => {
    const [cliHome, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
    const flotilla = (...args: string[]) => run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: cliHome, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 240_000 });
    try {
      const created = await flotilla('create', 'shell', '--disk-size', '1', '--ssh-key', join(keys, 'id_test.pub'));
      expect(created.code, created.stderr).toBe(0);
      const bad = await flotilla('create', 'nokey', '--ssh-key', join(keys, 'id_test'));
      expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/--ssh-key .*id_test is not a public key file/) });
      expect((await flotilla('start', 'shell', '--wait-agent')).code).toBe(0);
      const r = await flotilla('ssh', 'shell', '--identity', join(keys, 'id_test'), '--', 'cat', '/proc/sys/kernel/hostname');
      expect(r.stdout, r.stderr).toBe('shell\n');
      expect(r.code, r.stderr).toBe(0);
      // the remote command's exit code is flotilla's
      expect((await flotilla('ssh', 'shell', '--identity', join(keys, 'id_test'), '--', 'exit', '7')).code).toBe(7);
      // no key of one's own: Flotilla's (made at the first start, in the data directory) gets in
      const own = await run(process.execPath, [cli, 'ssh', 'shell', '--', 'grep', '-c', ' flotilla$', '/root/.ssh/authorized_keys'], {
        env: { ...process.env, FLOTILLA_HOME: cliHome, FLOTILLA_ACCEL: 'tcg', HOME: cliHome },
        timeoutMs: 240_000,
      });
      expect(own, own.stderr).toMatchObject({ code: 0, stdout: '1\n' });
      expect((await stat(join(cliHome, 'ssh', 'id_ed25519'))).mode & 0o777).toBe(0o600);
      expect((await flotilla('stop', 'shell')).code).toBe(0);
    } finally {
      await cleanupHome(cliHome);
    }
  });
});
