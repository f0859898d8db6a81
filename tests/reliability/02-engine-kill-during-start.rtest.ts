// Check 2: kill -9 the engine at random points during a VM start, over many trials. The
// next engine finds the VM either adopted (running, or paused for a held VM) or stopped;
// after a stop there is no orphan QEMU, no stale socket or pidfile, and the disk lock is free.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../electron/engine/paths';
import { cleanupHome, makeHome, processesUsing, run, runLeftovers } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(8, 40);

async function diskLockFree(disk: string): Promise<boolean> {
  // without -U, qemu-img needs the image lock: it fails while any QEMU holds the disk
  return (await run('qemu-img', ['check', '-q', disk])).code === 0;
}

describe('check 2: kill -9 of the engine during a VM start', () => {
  let home: string;
  let engine: EngineChild | null = null;
  beforeAll(async () => {
    home = await makeHome(false);
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
  });

  it(`every VM ends adopted or stopped, with nothing left behind, over ${TRIALS} trials`, async () => {
    engine = await startEngineChild(home);
    let conn = await EngineConn.open(home);
    const vm = await conn.call('vm.create', { config: heldConfig('racer', blankDisk(home), { forwards: [{ proto: 'tcp', guestPort: 22 }] }) });
    const disk = join(new HomeLayout(home).vmDir(vm.id), vm.spec.disks[0]!);
    await conn.close();
    const outcomes = { adopted: 0, stopped: 0 };
    let lost = 0;
    for (let t = 0; t < TRIALS; t++) {
      conn = await EngineConn.open(home);
      const starting = conn.call('vm.start', { id: vm.id }).catch(() => undefined);
      // spread the kill over the start: before spawn, before the pidfile, before QMP, after
      await new Promise((r) => setTimeout(r, Math.random() * 120));
      await killEngineChild(engine);
      await starting;
      await conn.close();
      engine = await startEngineChild(home);
      conn = await EngineConn.open(home);
      const seen = await conn.call('vm.get', { id: vm.id });
      const pids = await processesUsing(home);
      if (seen.adopted) {
        outcomes.adopted++;
        expect(['running', 'paused']).toContain(seen.state);
        expect(pids).toEqual([seen.pid]);
        await conn.call('vm.stop', { id: vm.id, force: true });
      } else {
        outcomes.stopped++;
        expect(seen.state, `trial ${t}: ${seen.reason}`).toBe('stopped');
        if (pids.length) lost++;
        expect(pids, `trial ${t}: orphan QEMU`).toEqual([]);
      }
      expect(await processesUsing(home)).toEqual([]);
      expect(await runLeftovers(home)).toEqual([]);
      expect(await conn.call('vm.ports', {})).toEqual([]);
      const free = await diskLockFree(disk);
      if (!free) lost++;
      expect(free, `trial ${t}: disk still locked`).toBe(true);
      await conn.close();
    }
    console.log(`[reliability] check 2 outcomes: ${JSON.stringify(outcomes)}`);
    reportFigure({ check: 2, title: 'kill -9 engine during a VM start', load: `${TRIALS} starts`, faults: TRIALS, badInputs: 0, lost });
    expect(lost).toBe(0);
  });
});
