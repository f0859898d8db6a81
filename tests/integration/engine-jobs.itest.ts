// The per-VM job queue with real QEMU and the real guest: a force stop that lands anywhere in a
// start ends it with one clear error (issue 11 defect 4); a graceful stop tells when it will be
// forced (issue 14 #8); and a new engine answers `list` with the agent state and IPs the last
// one saw, marked as last known, before it has pinged the agent itself (issue 14 #13).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, type TestClient } from './fixtures/engine-harness';

describe('VM jobs with real QEMU', () => {
  let home: string;
  let engine: Engine | null = null;
  let client: TestClient;

  beforeAll(async () => {
    home = await makeHome();
    ({ engine, client } = await openTestEngine(home));
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
  });

  it('a force stop at any moment of a start: the start says it was aborted, and no QEMU is left', async () => {
    const vm = await client.call('vm.create', { config: { name: 'race', source: { kind: 'default' }, memoryMiB: 128, forwards: [{ proto: 'tcp', guestPort: 22 }] } });
    const seen = new Set<string>();
    // where the stop lands: before the job runs, while preparing, once QEMU is spawned, once QMP is up
    const when: (() => Promise<void>)[] = [
      async () => undefined,
      () => new Promise((r) => setImmediate(r)),
      async () => void (await client.waitVm(vm.id, (v) => v.pid !== null, 'QEMU spawned', 60_000)),
      async () => void (await client.waitVm(vm.id, (v) => v.state === 'running', 'QMP up', 60_000)),
    ];
    for (const [i, wait] of when.entries()) {
      const start = client.call('vm.start', { id: vm.id });
      start.catch(() => undefined);
      await wait();
      const stop = client.call('vm.stop', { id: vm.id, force: true });
      const outcome = await start.then(
        () => 'started',
        (err: Error) => err.message,
      );
      await stop.catch((err: Error) => {
        // the start may have finished before the stop was asked: then the stop stops it
        throw new Error(`round ${i}: force stop failed: ${err.message}`);
      });
      seen.add(outcome);
      const after = await client.call('vm.get', { id: vm.id });
      expect(after.state, `round ${i}`).toBe('stopped');
      expect(after.pid, `round ${i}`).toBeNull();
      expect(await processesUsing(home), `round ${i}`).toEqual([]);
    }
    for (const outcome of seen) expect(['started', 'start of race was aborted: force-stopped by the user']).toContain(outcome);
    expect(seen).toContain('start of race was aborted: force-stopped by the user');
  });

  it('a graceful stop shows when it will be forced; the next engine knows the last agent state and IPs', async () => {
    const vm = await client.call('vm.create', { config: { name: 'known', source: { kind: 'default' }, memoryMiB: 256 } });
    const up = await client.call('vm.start', { id: vm.id, waitAgent: true });
    const ready = await client.waitVm(vm.id, (v) => v.agent === 'ready' && v.ips.length > 0, 'agent ready with IPs');
    expect(up.stopDeadline).toBeNull();
    expect(ready.agentLastSeen).toBeNull();

    // the record keeps what this engine saw
    await engine!.supervisor(vm.id).flush();
    const rec = JSON.parse(await readFile(join(home, 'vms', vm.id, 'runtime.json'), 'utf8')) as { agent: string; ips: string[] };
    expect(rec).toMatchObject({ agent: 'ready', ips: ready.ips });

    // a new engine (as a one-shot CLI engine) answers at once with the last known state. The
    // VM is paused meanwhile, so its agent cannot answer the new engine before `list` does:
    // a running guest's agent may answer within milliseconds of the adoption.
    await client.call('vm.pause', { id: vm.id });
    client.close();
    await engine!.close();
    ({ engine, client } = await openTestEngine(home));
    const listed = (await client.call('vm.list', {})).find((v) => v.id === vm.id)!;
    expect(listed).toMatchObject({ state: 'paused', adopted: true, agent: 'ready', ips: ready.ips });
    expect(listed.agentLastSeen).not.toBeNull();
    // ...until it hears the agent itself
    await client.call('vm.resume', { id: vm.id });
    await client.waitVm(vm.id, (v) => v.agent === 'ready' && v.agentLastSeen === null, 'agent confirmed by the new engine');

    const before = Date.now();
    const stopping = client.waitFor('vm.changed', (v) => v.id === vm.id && v.state === 'stopping', 'stopping');
    const stop = client.call('vm.stop', { id: vm.id });
    const during = await stopping;
    expect(during.stopDeadline).not.toBeNull();
    expect(Date.parse(during.stopDeadline!)).toBeGreaterThanOrEqual(before + 8000);
    const stopped = await stop;
    expect(stopped).toMatchObject({ state: 'stopped', stopDeadline: null, agent: 'unknown', ips: [] });
  });
});
