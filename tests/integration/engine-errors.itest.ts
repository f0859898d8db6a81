// Issue 3: a taken requested port, a bad spec and a missing ISO path each give one clear
// error, and nothing is left on disk. Plus: the same VM started twice at once gives one
// QEMU and one ALREADY_RUNNING.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { FlotillaError } from '../../shared/errors';
import { HomeLayout } from '../../electron/engine/paths';
import { cleanupHome, makeHome, openTestEngine, processesUsing, runLeftovers, type TestClient } from './fixtures/engine-harness';

async function errorOf(p: Promise<unknown>): Promise<FlotillaError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FlotillaError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('bad input', () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;
  let holder: Server;
  let heldPort: number;

  beforeAll(async () => {
    home = await makeHome();
    ({ engine, client } = await openTestEngine(home));
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    heldPort = (holder.address() as { port: number }).port;
  });

  afterAll(async () => {
    holder?.close();
    client?.close();
    await engine?.close({ stopVms: false });
    await cleanupHome(home);
  });

  const vmDirs = async (): Promise<string[]> => readdir(join(home, 'vms')).catch(() => []);

  it('a taken requested host port is PORT_TAKEN naming the port', async () => {
    const e = await errorOf(client.call('vm.create', { config: { name: 'p1', source: { kind: 'default' }, forwards: [{ guestPort: 80, hostPort: heldPort }] } }));
    expect(e).toMatchObject({ code: 'PORT_TAKEN', details: { hostPort: heldPort, proto: 'tcp' } });
    expect(e.details).not.toHaveProperty('usedBy');
    expect(e.message).toContain(String(heldPort));
    expect(await vmDirs()).toEqual([]);
  });

  it('a bad spec is INVALID_ARGUMENT naming the field in its details, and the rule in plain words', async () => {
    const e = await errorOf(client.call('vm.create', { config: { name: 'Not Valid!', source: { kind: 'default' } } }));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', details: { fields: [{ path: 'config.name', message: e.message }] } });
    expect(e.message).toMatch(/^name must be 1–63 characters/);
    const e2 = await errorOf(client.call('vm.create', { config: { name: 'ok', source: { kind: 'default' }, memoryMiB: 1 } }));
    expect(e2).toMatchObject({ message: 'memory must be a whole number of MiB from 64 to 262144', details: { fields: [{ path: 'config.memoryMiB' }] } });
    expect(await vmDirs()).toEqual([]);
  });

  it('a missing ISO is FILE_NOT_FOUND naming the path', async () => {
    const e = await errorOf(client.call('vm.create', { config: { name: 'i1', source: { kind: 'iso', path: '/nonexistent/install.iso', diskSizeGiB: 2 } } }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.message).toBe('ISO not found: /nonexistent/install.iso');
    expect(await vmDirs()).toEqual([]);
    expect(await client.call('vm.list', {})).toEqual([]);
  });

  it('a port taken between create and start is PORT_TAKEN at start, and the VM stays stopped', async () => {
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    const vm = await client.call('vm.create', { config: { name: 'late', source: { kind: 'default' }, forwards: [{ guestPort: 22, hostPort: port }] } });
    const thief = createServer();
    await new Promise<void>((r) => thief.listen(port, '127.0.0.1', () => r()));
    const e = await errorOf(client.call('vm.start', { id: vm.id }));
    thief.close();
    expect(e).toMatchObject({ code: 'PORT_TAKEN', details: { hostPort: port, proto: 'tcp' } });
    expect(e.message).toContain(String(port));
    const after = await client.call('vm.get', { id: vm.id });
    expect(after.state).toBe('stopped');
    expect(after.ports).toEqual([]);
    expect(await processesUsing(home)).toEqual([]);
    await client.call('vm.delete', { id: vm.id });
    expect(await vmDirs()).toEqual([]);
  });

  it('the same VM started twice at once: one QEMU, the other call gets ALREADY_RUNNING', async () => {
    const vm = await client.call('vm.create', { config: { name: 'twice', source: { kind: 'default' }, memoryMiB: 128 } });
    const results = await Promise.allSettled([client.call('vm.start', { id: vm.id }), client.call('vm.start', { id: vm.id })]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(failed).toHaveLength(1);
    expect((failed[0]!.reason as FlotillaError).code).toBe('ALREADY_RUNNING');
    expect(await processesUsing(home)).toHaveLength(1);
    await client.call('vm.stop', { id: vm.id, force: true });
    expect(await processesUsing(home)).toEqual([]);
  });

  it('QEMU refusing to start is QEMU_FAILED with its own words, and nothing keeps running', async () => {
    const notAKernel = join(home, 'not-a-kernel');
    // create refuses a file that is not a kernel (WRONG_FILE_TYPE); one that turns into garbage
    // after create reaches QEMU, which refuses it in its own words
    const header = Buffer.alloc(0x400);
    header.write('HdrS', 0x202, 'latin1');
    await writeFile(notAKernel, header);
    const vm = await client.call('vm.create', { config: { name: 'badkernel', source: { kind: 'kernel', kernel: notAKernel }, memoryMiB: 64 } });
    await writeFile(notAKernel, 'this is not a Linux kernel\n');
    const e = await errorOf(client.call('vm.start', { id: vm.id }));
    expect(e.code).toBe('QEMU_FAILED');
    expect(e.message).toMatch(/^QEMU failed to start badkernel: .*kernel/i);
    const after = await client.call('vm.get', { id: vm.id });
    expect(after.state).toBe('stopped');
    expect(after.lastExit?.logTail.join('\n')).toMatch(/kernel/i);
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
    await client.call('vm.delete', { id: vm.id });
  });

  it('a stale pidfile naming an unrelated live process is neither adopted nor killed', async () => {
    const vm = await client.call('vm.create', { config: { name: 'stale', source: { kind: 'default' } } });
    const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const layout = new HomeLayout(home);
      await mkdir(layout.runDir(vm.id), { recursive: true, mode: 0o700 });
      await writeFile(layout.pidFile(vm.id), `${sleeper.pid}\n`);
      await writeFile(join(layout.vmDir(vm.id), 'runtime.json'), JSON.stringify({ wantRunning: true, lastExit: null, lastDiskCheck: null }));
      const second = await openTestEngine(home);
      const seen = await second.client.call('vm.get', { id: vm.id });
      expect(seen).toMatchObject({ state: 'crashed', pid: null, adopted: false });
      expect(sleeper.exitCode).toBeNull();
      expect(sleeper.signalCode).toBeNull();
      process.kill(sleeper.pid!, 0);
      expect(await runLeftovers(home)).toEqual([]);
      const logs = await second.client.call('vm.logs', { id: vm.id, tail: 20 });
      expect(logs.entries.some((l) => l.text.includes(`process ${sleeper.pid} is sleep, not QEMU`))).toBe(true);
      second.client.close();
      await second.engine.close();
    } finally {
      sleeper.kill('SIGKILL');
    }
    await client.call('vm.delete', { id: vm.id }).catch(() => undefined);
  });

  it('engine.info describes this engine', async () => {
    expect(await client.call('engine.info', {})).toMatchObject({
      home,
      pid: process.pid,
      qemuVersion: expect.stringMatching(/^\d+\.\d+/),
      kvm: false,
      // the tests' guest is built from these sources: not stale
      defaultImage: { ready: true, stale: false, kernelVersion: expect.stringMatching(/cloud-amd64$/), path: join(home, 'images', 'default') },
      shell: 'test',
    });
  });

  it('host.pickFile is UNSUPPORTED outside the desktop app', async () => {
    const e = await errorOf(client.call('host.pickFile', { kind: 'iso' }));
    expect(e.code).toBe('UNSUPPORTED');
  });

  it('vm.exec with its input given both as text and as bytes is BAD_REQUEST naming stdinBase64', async () => {
    const e = await errorOf(client.call('vm.exec', { id: 'abcdef123456', command: ['cat'], stdin: 'a', stdinBase64: 'YQ==' }));
    expect(e).toMatchObject({ code: 'BAD_REQUEST', message: 'give the command input as stdin or as stdinBase64, not both' });
  });
});
