// Check 16: soak. VMs take random start, stop, pause, resume and restart operations from 3
// clients at once for a bounded time. At every sample (operations quiesced) the engine's
// state equals what QEMU says (QMP query-status, or no process at all), and the engine's fd
// count stays flat.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import type { QmpClient } from '../../electron/engine/qmp-client';
import { cleanupHome, makeHome, openTestEngine, processesUsing, TestClient } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig, heldSpawn } from './fixtures/cheap-vm';
import { reportFigure, scale } from './fixtures/figures';

const VMS = scale(4, 8);
const SECONDS = scale(15, 120);
const OK_REFUSALS = new Set(['INVALID_STATE', 'ALREADY_RUNNING']);
// a start that another client's force stop cut short: the designed outcome of that race
const ABORTED_START = /^start of held-soak-\d+ was aborted: force-stopped by the user$/;
const fdCount = async (): Promise<number> => (await readdir('/proc/self/fd')).length;

describe('check 16: soak with 3 clients', () => {
  let home: string;
  let engine: Engine;
  let clients: TestClient[];
  beforeAll(async () => {
    home = await makeHome(false);
    const opened = await openTestEngine(home, { spawn: heldSpawn(spawn), stopDeadlineMs: 800 });
    engine = opened.engine;
    clients = [opened.client, new TestClient(engine, 'soak-b'), new TestClient(engine, 'soak-c')];
  });
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await engine?.close({ stopVms: true });
    await cleanupHome(home);
  });

  it(`${VMS} VMs, random operations for ${SECONDS} s: state equals QEMU at every sample, fds flat`, async () => {
    const disk = blankDisk(home);
    const ids: string[] = [];
    for (let i = 0; i < VMS; i++) ids.push((await clients[0]!.call('vm.create', { config: heldConfig(`soak-${i}`, disk, { forwards: [{ proto: 'tcp', guestPort: 22 }] }) })).id);
    // warm-up: one start/stop each, so per-VM logs are open before the baseline
    for (const id of ids) {
      await clients[0]!.call('vm.start', { id });
      await clients[0]!.call('vm.stop', { id, force: true });
    }
    await new Promise((r) => setTimeout(r, 500));
    const fdsBefore = await fdCount();
    let quiesce: Promise<void> | null = null;
    let inFlight = 0;
    let ops = 0;
    let refused = 0;
    let aborted = 0;
    const unexpected: string[] = [];
    const end = Date.now() + SECONDS * 1000;
    const worker = async (c: TestClient): Promise<void> => {
      while (Date.now() < end) {
        if (quiesce) await quiesce;
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const op = Math.floor(Math.random() * 6);
        inFlight++;
        try {
          if (op === 0) await c.call('vm.start', { id });
          else if (op === 1) await c.call('vm.stop', { id, force: Math.random() < 0.5 });
          else if (op === 2) await c.call('vm.pause', { id });
          else if (op === 3) await c.call('vm.resume', { id });
          else if (op === 4) await c.call('vm.restart', { id });
          else await c.call('vm.get', { id });
          ops++;
        } catch (err) {
          const code = (err as { code?: string }).code ?? 'none';
          if (OK_REFUSALS.has(code)) refused++;
          else if (code === 'ABORTED' && ABORTED_START.test((err as Error).message)) aborted++;
          else unexpected.push(`${code}: ${(err as Error).message}`);
        } finally {
          inFlight--;
        }
      }
    };
    let samples = 0;
    let mismatches = 0;
    const fds: number[] = [];
    const sampler = async (): Promise<void> => {
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 1000));
        let release!: () => void;
        quiesce = new Promise((r) => (release = r));
        while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
        try {
          const pids = new Set(await processesUsing(home));
          for (const id of ids) {
            const vm = await clients[0]!.call('vm.get', { id });
            let truth: string;
            if (vm.pid === null || !pids.has(vm.pid)) truth = 'no QEMU';
            else {
              const qmp = (engine.supervisor(id) as unknown as { qmp: QmpClient | null }).qmp;
              let status: string;
              try {
                status = qmp ? (await qmp.execute<{ status: string }>('query-status')).status : 'no QMP';
              } catch (err) {
                // QEMU went away while nothing was asked of the engine: say what the engine saw
                await new Promise((r) => setTimeout(r, 300));
                const later = await clients[0]!.call('vm.get', { id });
                const log = (await clients[0]!.call('vm.logs', { id, tail: 8 })).entries.map((e) => e.text).join(' | ');
                status = `query failed (${(err as Error).message}); 300 ms later the engine says ${later.state} (${later.reason}); log: ${log}`;
              }
              truth = status === 'running' ? 'running' : `paused (${status})`;
            }
            const want = vm.state === 'running' ? 'running' : vm.state === 'paused' ? 'paused' : 'no QEMU';
            if (!truth.startsWith(want)) {
              mismatches++;
              unexpected.push(`sample ${samples}: ${vm.name} engine says ${vm.state}, QEMU says ${truth}`);
            }
          }
          // no QEMU the engine does not know about
          const known = new Set((await clients[0]!.call('vm.list', {})).map((v) => v.pid));
          for (const p of pids) if (!known.has(p)) unexpected.push(`sample ${samples}: unknown QEMU ${p}`);
          fds.push(await fdCount());
          samples++;
        } finally {
          quiesce = null;
          release();
        }
      }
    };
    await Promise.all([...clients.map(worker), sampler()]);
    // with every VM stopped again the engine holds what it held before the soak
    for (const id of ids) await clients[0]!.call('vm.stop', { id, force: true }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const fdsAfter = await fdCount();
    console.log(`[reliability] check 16: ${ops} operations, ${refused} refused as invalid for the state, ${aborted} starts aborted by a force stop, ${samples} samples, fds while running ${fds.join(' ')}; all stopped: before ${fdsBefore}, after ${fdsAfter}`);
    for (const u of unexpected.slice(0, 10)) console.log(`[reliability] check 16 unexpected: ${u}`);
    expect(unexpected).toEqual([]);
    expect(fdsAfter - fdsBefore).toBeLessThanOrEqual(3);
    reportFigure({ check: 16, title: 'soak: 3 clients, random operations', load: `${VMS} VMs × ${SECONDS} s, ${ops + refused + aborted} operations`, faults: 0, badInputs: refused, lost: mismatches });
  });
});
