// Check 20 (issue 12): kill -9 the engine (a real engine process) during a snapshot of a running
// VM, a snapshot of a stopped one, and an offline disk resize. After the restart: the running VM
// is adopted (same QEMU), every snapshot listed is whole (it reverts), the disk size is the old
// or the new one and nothing in between, and `qemu-img check` is clean once the VM is stopped.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupHome, makeHome, run } from '../integration/fixtures/engine-harness';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(3, 10);
const GiB = 2 ** 30;

describe('check 20: kill -9 of the engine during snapshots and a disk resize', () => {
  let home: string;
  let engine: EngineChild | null = null;
  beforeAll(async () => {
    home = await makeHome();
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
  });

  it(`snapshots and disks stay whole over ${TRIALS} kills per job`, async () => {
    engine = await startEngineChild(home);
    let conn = await EngineConn.open(home);
    let vm = await conn.call('vm.create', { config: { name: 'snapper', source: { kind: 'default' }, memoryMiB: 256 } });
    vm = await conn.call('disk.add', { id: vm.id, sizeGiB: 1 });
    const disk = join(home, 'vms', vm.id, 'extra-1.qcow2');
    await conn.close();
    let faults = 0;
    let lost = 0;
    const outcomes = { runningSnapshotKept: 0, runningSnapshotGone: 0, stoppedSnapshotKept: 0, stoppedSnapshotGone: 0, resized: 0, notResized: 0 };
    const restart = async (): Promise<EngineConn> => {
      await killEngineChild(engine!);
      faults++;
      engine = await startEngineChild(home);
      return EngineConn.open(home);
    };
    const check = async (c: EngineConn, label: string): Promise<void> => {
      const r = await run('qemu-img', ['check', disk]);
      if (r.code !== 0) lost++;
      expect(r.code, `${label}: ${r.stdout}${r.stderr}`).toBe(0);
      for (const s of await c.call('snapshot.list', { id: vm.id })) {
        await c.call('snapshot.revert', { id: vm.id, name: s.name }); // a listed snapshot is whole
        await c.call('snapshot.delete', { id: vm.id, name: s.name });
      }
    };

    for (let t = 0; t < TRIALS; t++) {
      // running: snapshot-save runs inside QEMU, which outlives the engine
      conn = await EngineConn.open(home);
      const up = await conn.call('vm.start', { id: vm.id, waitAgent: true });
      const snap = conn.call('snapshot.create', { id: vm.id, name: `run${t}` }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.random() * 1500));
      conn = await restart();
      await snap;
      const seen = await conn.call('vm.get', { id: vm.id });
      expect(seen.pid, `trial ${t}: the running VM was adopted`).toBe(up.pid);
      // a save the engine did not see end may still run inside QEMU: give it a moment to finish
      // (the force stop below ends it either way; what is checked is that nothing is left half-made)
      for (let i = 0; i < 10 && !(await run('qemu-img', ['info', '-U', disk])).stdout.includes(`run${t}`); i++) {
        await new Promise((r) => setTimeout(r, 500));
      }
      await conn.call('vm.stop', { id: vm.id, force: true });
      const kept = (await conn.call('snapshot.list', { id: vm.id })).some((s) => s.name === `run${t}`);
      outcomes[kept ? 'runningSnapshotKept' : 'runningSnapshotGone']++;
      await check(conn, `running snapshot trial ${t}`);
      await conn.close();

      // stopped: qemu-img snapshot -c
      conn = await EngineConn.open(home);
      const cold = conn.call('snapshot.create', { id: vm.id, name: `cold${t}` }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      conn = await restart();
      await cold;
      const coldKept = (await conn.call('snapshot.list', { id: vm.id })).some((s) => s.name === `cold${t}`);
      outcomes[coldKept ? 'stoppedSnapshotKept' : 'stoppedSnapshotGone']++;
      await check(conn, `stopped snapshot trial ${t}`);

      // offline resize: the old size or the new one
      const before = (await conn.call('disk.list', { id: vm.id })).find((d) => d.name === 'extra-1.qcow2')!.virtualSize;
      const resize = conn.call('disk.resize', { id: vm.id, disk: 'extra-1.qcow2', sizeGiB: before / GiB + 1 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      conn = await restart();
      await resize;
      const now = (await conn.call('disk.list', { id: vm.id })).find((d) => d.name === 'extra-1.qcow2')!.virtualSize;
      expect([before, before + GiB], `resize trial ${t}`).toContain(now);
      outcomes[now === before ? 'notResized' : 'resized']++;
      await check(conn, `resize trial ${t}`);
      await conn.close();
    }
    console.log(`[reliability] check 20 outcomes: ${JSON.stringify(outcomes)}`);
    reportFigure({ check: 20, title: 'kill -9 engine during snapshots and a disk resize', load: `built-in Linux with a 1 GiB disk, ${TRIALS} rounds of 3 jobs`, faults, badInputs: 0, lost });
    expect(lost).toBe(0);
  });
});
