// Check 24: kill -9 of the engine while a running VM's port forwards change (vm.update on a
// running VM: vm.json first, then the port table, then QEMU's hostfwd_add/remove). Each trial
// asks for a new random forward list and kills the engine 0-11 ms later (the change takes a few
// ms); a new engine adopts the VMs. Then, for every VM:
// - what its QEMU really listens on (/proc) is what the port table says, and what vm.json says
//   (the adopting engine finished a change the killed one had written but not given to QEMU);
// - the list is the old one or the asked one, never a mix, and the asked one when the call had
//   answered before the kill;
// - no host port is held by two VMs, and the other VM's forwards never moved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortEntry } from '../../shared/contract';
import type { Forward } from '../../shared/spec';
import { cleanupHome, makeHome } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';
import { inetSockets, socketInodes } from './fixtures/proc-net';

const TRIALS = scale(8, 60);
const GUEST_PORTS: Forward[] = [
  { proto: 'tcp', guestPort: 22 },
  { proto: 'tcp', guestPort: 80 },
  { proto: 'tcp', guestPort: 443 },
  { proto: 'tcp', guestPort: 8080 },
  { proto: 'udp', guestPort: 53 },
];

/** The 127.0.0.1 ports a process listens on (TCP) or has bound (UDP), as "tcp:PORT". */
async function listening(pid: number): Promise<string[]> {
  const mine = await socketInodes(pid);
  return (await inetSockets())
    .filter((s) => mine.has(s.inode) && s.address === '127.0.0.1')
    .map((s) => `${s.proto.replace('6', '')}:${s.port}`)
    .sort();
}

const keys = (l: readonly { proto: string; guestPort?: number }[]): string => l.map((f) => `${f.proto}/${f.guestPort}`).sort().join(' ');
const hostKeys = (l: readonly PortEntry[]): string[] => l.filter((p) => p.purpose === 'forward').map((p) => `${p.proto}:${p.hostPort}`).sort();

describe('check 24: kill -9 of the engine while a running VM\'s forwards change', () => {
  let home: string;
  let engine: EngineChild | null = null;

  beforeAll(async () => {
    home = await makeHome(false);
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
  });

  it(`QEMU, the port table and vm.json agree after ${TRIALS} kills in the middle of a change`, async () => {
    const disk = blankDisk(home);
    engine = await startEngineChild(home);
    let conn = await EngineConn.open(home);
    const a = await conn.call('vm.create', { config: heldConfig('fwd-a', disk, { forwards: [{ guestPort: 22 }] }), start: true });
    const b = await conn.call('vm.create', { config: heldConfig('fwd-b', disk, { forwards: [{ guestPort: 22 }, { proto: 'udp', guestPort: 53 }] }), start: true });
    const bPorts = hostKeys(b.ports);
    await conn.close();

    let rand = 0x24_2024;
    const next = (n: number): number => ((rand = (rand * 1103515245 + 12345) & 0x7fffffff) % n);
    let answered = 0;
    let finishedByNext = 0;
    let before = a.spec.forwards;
    for (let t = 0; t < TRIALS; t++) {
      const wanted = GUEST_PORTS.filter(() => next(2) === 1);
      conn = await EngineConn.open(home);
      let done = false;
      const call = conn.call('vm.update', { id: a.id, patch: { forwards: wanted } }).then(
        () => (done = true),
        () => undefined, // the engine died under it
      );
      await new Promise((r) => setTimeout(r, next(12)));
      await killEngineChild(engine);
      await call;
      await conn.close().catch(() => undefined);
      if (done) answered++;

      engine = await startEngineChild(home);
      conn = await EngineConn.open(home);
      const [va, vb] = [await conn.call('vm.get', { id: a.id }), await conn.call('vm.get', { id: b.id })];
      await conn.close();
      const label = `trial ${t + 1} (asked for ${keys(wanted) || 'none'}${done ? ', answered' : ''})`;
      // held VMs (QEMU's -S) stay paused, which takes forwards as running does
      expect(va.state, label).toBe(a.state);
      expect(va.pid, `${label}: the same QEMU`).toBe(a.pid);
      // the old list or the asked one; the asked one once the call had answered
      const got = keys(va.spec.forwards);
      expect([keys(before), keys(wanted)], label).toContain(got);
      if (done) expect(got, label).toBe(keys(wanted));
      // vm.json, the table and QEMU say the same
      expect(keys(va.ports.filter((p) => p.purpose === 'forward')), `${label}: table vs vm.json`).toBe(got);
      expect(await listening(va.pid!), `${label}: what QEMU listens on vs the table`).toEqual(hostKeys(va.ports));
      // the other VM never moved, and no port is shared
      expect(hostKeys(vb.ports), label).toEqual(bPorts);
      expect(await listening(vb.pid!), label).toEqual(bPorts);
      expect(hostKeys(va.ports).filter((p) => bPorts.includes(p)), label).toEqual([]);
      if (!done && got === keys(wanted) && got !== keys(before)) finishedByNext++;
      before = va.spec.forwards;
    }
    reportFigure({
      check: 24,
      title: 'kill -9 engine while a running VM\'s forwards change',
      load: `2 VMs, ${TRIALS} changes (${answered} answered before the kill; ${finishedByNext} more took effect with the kill before the answer)`,
      faults: TRIALS,
      badInputs: 0,
      lost: 0,
    });
  }, 600_000);
});
