// Check 8: the same VM started twice at the same moment from two clients (two connections
// to the engine socket). Exactly one QEMU runs; the other request gets a clean
// ALREADY_RUNNING error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupHome, makeHome, processesUsing } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';

const ROUNDS = scale(6, 40);

describe('check 8: one VM started from two clients at once', () => {
  let home: string;
  let engine: EngineChild;
  beforeAll(async () => {
    home = await makeHome(false);
    engine = await startEngineChild(home);
  });
  afterAll(async () => {
    await killEngineChild(engine);
    await cleanupHome(home);
  });

  it(`exactly one QEMU and one clean ALREADY_RUNNING, ${ROUNDS} rounds`, async () => {
    const a = await EngineConn.open(home, 'client-a');
    const b = await EngineConn.open(home, 'client-b');
    const vm = await a.call('vm.create', { config: heldConfig('twice', blankDisk(home), { forwards: [{ proto: 'tcp', guestPort: 22 }] }) });
    let lost = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const results = await Promise.allSettled([a.call('vm.start', { id: vm.id }), b.call('vm.start', { id: vm.id })]);
      const ok = results.filter((x) => x.status === 'fulfilled');
      const errs = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected').map((x) => x.reason as { code: string; message: string });
      expect(ok).toHaveLength(1);
      expect(errs).toHaveLength(1);
      expect(errs[0]).toMatchObject({ code: 'ALREADY_RUNNING', message: expect.stringMatching(/already/) });
      const pids = await processesUsing(home);
      if (pids.length !== 1) lost++;
      expect(pids).toHaveLength(1);
      expect((await a.call('vm.get', { id: vm.id })).pid).toBe(pids[0]);
      await b.call('vm.stop', { id: vm.id, force: true });
      expect(await processesUsing(home)).toEqual([]);
    }
    await a.close();
    await b.close();
    reportFigure({ check: 8, title: 'double start from two clients', load: `${ROUNDS} simultaneous start pairs`, faults: 0, badInputs: ROUNDS, lost });
  });
});
