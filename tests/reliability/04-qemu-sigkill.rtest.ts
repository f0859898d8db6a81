// Check 4: SIGKILL a QEMU, over many trials. The VM is `crashed` within 2 s with the reason
// and the last log lines; its ports can be bound again at once; with `on-failure` it comes
// back after the backoff delay, and the delays grow as the policy says.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortEntry, VmInfo } from '../../shared/contract';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, type TestClient } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig, heldSpawn } from './fixtures/cheap-vm';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(4, 20);
const RESTARTS = scale(3, 6);
const BACKOFF = { baseMs: 400, maxMs: 1600, stableMs: 600_000 };

function canBind(p: PortEntry): Promise<boolean> {
  return new Promise((resolve) => {
    if (p.proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(p.hostPort, '127.0.0.1', () => s.close(() => resolve(true)));
    } else {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(p.hostPort, '127.0.0.1', () => s.close(() => resolve(true)));
    }
  });
}

describe('check 4: SIGKILL of a QEMU', () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;
  beforeAll(async () => {
    home = await makeHome(false);
    ({ engine, client } = await openTestEngine(home, { spawn: heldSpawn(spawn), backoff: BACKOFF, stopDeadlineMs: 1000 }));
  });
  afterAll(async () => {
    client?.close();
    await engine?.close();
    await cleanupHome(home);
  });

  it(`crashed within 2 s with reason and log lines, ports free, ${TRIALS} trials`, async () => {
    const vm = await client.call('vm.create', { config: heldConfig('victim', blankDisk(home), { forwards: [{ proto: 'tcp', guestPort: 22 }, { proto: 'udp', guestPort: 53 }] }) });
    let lost = 0;
    let slowest = 0;
    for (let t = 0; t < TRIALS; t++) {
      const up = await client.call('vm.start', { id: vm.id });
      const crashed = client.waitVm(vm.id, (v) => v.state === 'crashed', 'crashed', 10_000);
      const t0 = Date.now();
      process.kill(up.pid!, 'SIGKILL');
      const v = await crashed;
      slowest = Math.max(slowest, Date.now() - t0);
      expect(v.lastExit).toMatchObject({ signal: 'SIGKILL', reason: expect.stringMatching(/SIGKILL/) });
      expect(Array.isArray(v.lastExit!.logTail)).toBe(true);
      const logs = await client.call('vm.logs', { id: vm.id, tail: 50 });
      expect(logs.entries.some((e) => /crashed: QEMU was killed by SIGKILL/.test(e.text))).toBe(true);
      // ports come free (released by the engine, unbound by the kernel)
      const free = await client.waitVm(vm.id, (x) => x.ports.length === 0, 'ports released', 5000).then(() => Promise.all(up.ports.map(canBind)));
      if (!free.every(Boolean)) lost++;
      expect(free.every(Boolean)).toBe(true);
      expect(await processesUsing(home)).toEqual([]);
    }
    console.log(`[reliability] check 4: slowest kill → crashed: ${slowest} ms`);
    expect(slowest).toBeLessThan(2000);
    reportFigure({ check: 4, title: 'SIGKILL a QEMU (never restart)', load: `${TRIALS} kills`, faults: TRIALS, badInputs: 0, lost });
  });

  it(`on-failure restarts after a growing backoff, ${RESTARTS} crashes in a row`, async () => {
    const vm = await client.call('vm.create', { config: heldConfig('phoenix', blankDisk(home), { restartPolicy: 'on-failure', forwards: [{ proto: 'tcp', guestPort: 80 }] }) });
    let up: VmInfo = await client.call('vm.start', { id: vm.id });
    const delays: number[] = [];
    for (let n = 0; n < RESTARTS; n++) {
      const crashed = client.waitVm(vm.id, (v) => v.state === 'crashed', 'crashed', 10_000);
      process.kill(up.pid!, 'SIGKILL');
      await crashed;
      const t0 = Date.now();
      up = await client.waitVm(vm.id, (v) => (v.state === 'running' || v.state === 'paused') && v.pid !== null, 'restarted', 30_000);
      delays.push(Date.now() - t0);
    }
    const expected = delays.map((_, n) => Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** n));
    console.log(`[reliability] check 4: restart delays ${delays.join(', ')} ms (policy: at least ${expected.join(', ')})`);
    delays.forEach((d, n) => expect(d).toBeGreaterThanOrEqual(expected[n]! - 50));
    await client.call('vm.stop', { id: vm.id, force: true });
    // the policy never restarts a VM the user stopped
    await new Promise((r) => setTimeout(r, BACKOFF.maxMs + 500));
    expect((await client.call('vm.get', { id: vm.id })).state).toBe('stopped');
    expect(await processesUsing(home)).toEqual([]);
    reportFigure({ check: 4, title: 'SIGKILL a QEMU (on-failure backoff)', load: `${RESTARTS} crashes in a row`, faults: RESTARTS, badInputs: 0, lost: 0 });
  });
});
