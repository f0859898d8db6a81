// Check 1: kill -9 the engine while 5 VMs run (some booted, some held paused), then start a
// new engine. Over several rounds every VM is adopted with the same PID, none is restarted,
// and no port changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { cleanupHome, makeHome, processesUsing } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';

const ROUNDS = scale(3, 20);

describe('check 1: kill -9 of the engine while 5 VMs run', () => {
  let home: string;
  let engine: EngineChild | null = null;

  beforeAll(async () => {
    home = await makeHome();
  });

  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
  });

  it(`adopts every VM with the same pid and ports over ${ROUNDS} rounds`, async () => {
    engine = await startEngineChild(home);
    let conn = await EngineConn.open(home);
    const disk = blankDisk(home);
    const configs = [
      { name: 'boot-a', source: { kind: 'default' as const }, memoryMiB: 128, forwards: [{ proto: 'tcp' as const, guestPort: 22 }] },
      { name: 'boot-b', source: { kind: 'default' as const }, memoryMiB: 128, forwards: [{ proto: 'udp' as const, guestPort: 53 }] },
      heldConfig('c', disk, { forwards: [{ proto: 'tcp', guestPort: 80 }, { proto: 'tcp', guestPort: 443 }] }),
      heldConfig('d', disk),
      heldConfig('e', disk, { forwards: [{ proto: 'udp', guestPort: 5000 }] }),
    ];
    const made: VmInfo[] = [];
    for (const config of configs) made.push(await conn.call('vm.create', { config }));
    await Promise.all(made.map((vm) => conn.call('vm.start', { id: vm.id, waitAgent: vm.spec.source.kind === 'default' })));
    // one booted VM paused by the user: its paused state must survive adoption too
    await conn.call('vm.pause', { id: made[1]!.id });
    const before = new Map((await conn.call('vm.list', {})).map((v) => [v.id, v]));
    await conn.close();

    let faults = 0;
    let lost = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await killEngineChild(engine);
      faults++;
      engine = await startEngineChild(home);
      conn = await EngineConn.open(home);
      const after = await conn.call('vm.list', {});
      for (const b of before.values()) {
        const a = after.find((v) => v.id === b.id);
        const same = a && a.pid === b.pid && a.adopted && JSON.stringify(a.ports) === JSON.stringify(b.ports) && a.state === b.state;
        if (!same) lost++;
        expect(a, `round ${round}: ${b.name}`).toMatchObject({ pid: b.pid, adopted: true, state: b.state, ports: b.ports, qmpHealthy: true });
      }
      await conn.close();
    }
    // the booted VMs still work after all those engines: the agent answers
    conn = await EngineConn.open(home);
    const a = made[0]!;
    expect((await conn.call('vm.exec', { id: a.id, command: ['/bin/echo', 'still-here'] })).stdout).toBe('still-here\n');
    expect((await processesUsing(home)).sort()).toEqual([...before.values()].map((v) => v.pid).sort());
    await conn.call('engine.stopAll', { deadlineMs: 4000, includeKeepRunning: true });
    await conn.close();
    expect(await processesUsing(home)).toEqual([]);

    reportFigure({ check: 1, title: 'kill -9 engine, adopt 5 VMs', load: `5 VMs (2 booted, 3 held) × ${ROUNDS} engine kills`, faults, badInputs: 0, lost });
    expect(lost).toBe(0);
  });
});
