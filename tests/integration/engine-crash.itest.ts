// Issue 3: kill -9 of a QEMU makes its VM `crashed` with a reason and the last log lines;
// with restartPolicy on-failure it comes back up (a new QEMU), and its ports are freed.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, runLeftovers, type TestClient } from './fixtures/engine-harness';

describe('kill -9 of a QEMU', () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;

  beforeAll(async () => {
    home = await makeHome();
    ({ engine, client } = await openTestEngine(home));
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: false });
    await cleanupHome(home);
  });

  it('marks the VM crashed with the reason, frees its ports, and on-failure brings it back', async () => {
    const vm = await client.call('vm.create', {
      config: { name: 'crashy', source: { kind: 'default' }, memoryMiB: 192, restartPolicy: 'on-failure', forwards: [{ guestPort: 22 }] },
      start: true,
    });
    expect(vm.state).toBe('running');
    const firstPid = vm.pid!;
    const firstPort = vm.ports[0]!.hostPort;

    const crashed = client.waitFor('vm.changed', (v) => v.id === vm.id && v.state === 'crashed', 'crashed state', 10_000);
    process.kill(firstPid, 'SIGKILL');
    const c = await crashed;
    expect(c.reason).toBe('QEMU was killed by SIGKILL');
    expect(c.lastExit).toMatchObject({ signal: 'SIGKILL', reason: 'QEMU was killed by SIGKILL' });
    expect(Array.isArray(c.lastExit!.logTail)).toBe(true);
    expect(c.ports).toEqual([]);
    expect(c.pid).toBeNull();
    expect(engine.ports.entries().some((p) => p.hostPort === firstPort)).toBe(false);

    const back = await client.waitVm(vm.id, (v) => v.state === 'running' && v.pid !== null, 'restart after crash', 60_000);
    expect(back.pid).not.toBe(firstPid);
    // the forward the user left automatic comes back on the same host port
    expect(back.ports.map((p) => p.hostPort)).toEqual([firstPort]);
    expect(back.reason).toMatch(/QEMU is running/);
    const logs = await client.call('vm.logs', { id: vm.id, tail: 200 });
    expect(logs.entries.some((e) => /restart policy on-failure: restarting in/.test(e.text))).toBe(true);

    await client.call('vm.stop', { id: vm.id, force: true });
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  });

  it('without a restart policy the VM stays crashed, and can be started again', async () => {
    const vm = await client.call('vm.create', { config: { name: 'once', source: { kind: 'default' }, memoryMiB: 192 }, start: true });
    const crashed = client.waitFor('vm.changed', (v) => v.id === vm.id && v.state === 'crashed', 'crashed state', 10_000);
    process.kill(vm.pid!, 'SIGKILL');
    await crashed;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await client.call('vm.get', { id: vm.id })).state).toBe('crashed');
    // the next engine still sees the crash as it was (not "gone while no engine watched")
    await engine.supervisor(vm.id).flush();
    const later = await openTestEngine(home);
    expect(await later.client.call('vm.get', { id: vm.id })).toMatchObject({ state: 'crashed', reason: 'QEMU was killed by SIGKILL' });
    later.client.close();
    await later.engine.close();
    const again = await client.call('vm.start', { id: vm.id, waitAgent: false });
    expect(again.state).toBe('running');
    await client.call('vm.stop', { id: vm.id, force: true });
    expect(await processesUsing(home)).toEqual([]);
  });
});

describe('an engine that died while stopping a VM', () => {
  it('is succeeded by one that adopts the QEMU and finishes the stop', async () => {
    const home = await makeHome();
    try {
      const first = await openTestEngine(home);
      const vm = await first.client.call('vm.create', { config: { name: 'halfstopped', source: { kind: 'default' }, memoryMiB: 192 }, start: true });
      await first.client.waitVm(vm.id, (v) => v.agent === 'ready', 'agent', 60_000);
      first.client.close();
      await first.engine.close({ stopVms: false });
      // what a stop that was cut short leaves behind: the user no longer wants it running
      await writeFile(join(home, 'vms', vm.id, 'runtime.json'), JSON.stringify({ wantRunning: false, stopPending: true, lastExit: null, lastDiskCheck: null }));
      expect(await processesUsing(home)).toEqual([vm.pid]);

      const second = await openTestEngine(home);
      const done = await second.client.waitVm(vm.id, (v) => v.state === 'stopped', 'the stop to finish', 60_000);
      expect(done.reason).toBe('stopped (requested before the engine restarted)');
      expect(await processesUsing(home)).toEqual([]);
      expect(await runLeftovers(home)).toEqual([]);
      second.client.close();
      await second.engine.close();
    } finally {
      await cleanupHome(home);
    }
  });
});

describe('an on-failure VM found dead when the engine starts', () => {
  it('is reported crashed, then restarted by the policy', async () => {
    const home = await makeHome();
    try {
      const first = await openTestEngine(home);
      const vm = await first.client.call('vm.create', { config: { name: 'phoenix', source: { kind: 'default' }, memoryMiB: 192, restartPolicy: 'on-failure' }, start: true });
      first.client.close();
      await first.engine.close({ stopVms: false });
      // QEMU dies while no engine runs
      process.kill(vm.pid!, 'SIGKILL');
      for (let i = 0; i < 100 && (await processesUsing(home)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));

      const second = await openTestEngine(home);
      const now = await second.client.call('vm.get', { id: vm.id });
      expect(['crashed', 'starting', 'running']).toContain(now.state);
      expect(now.lastExit?.reason).toBe('QEMU was not running when the engine started');
      const back = await second.client.waitVm(vm.id, (v) => v.state === 'running', 'restart by policy', 60_000);
      expect(back.pid).not.toBe(vm.pid);
      await second.client.call('vm.stop', { id: vm.id, force: true });
      second.client.close();
      await second.engine.close();
    } finally {
      await cleanupHome(home);
    }
  });
});
