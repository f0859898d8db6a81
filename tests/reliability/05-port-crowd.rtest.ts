// Check 5: 20 VMs start at once, each with 2 forwards, while an outside process holds 10
// ports inside the allocator's range. All 20 start, no port goes to two VMs, no held port is
// handed out, and each QEMU really binds the ports the engine reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, type TestClient } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig, heldSpawn } from './fixtures/cheap-vm';
import { reportFigure, scale } from './fixtures/figures';
import { inetSockets, socketInodes } from './fixtures/proc-net';

const VMS = 20;
const ROUNDS = scale(2, 20);
const RANGE: [number, number] = [46100, 46199];
// the first ports the allocator would try, held by someone else: 5 TCP and 5 UDP
const HELD_TCP = [46100, 46101, 46103, 46106, 46110];
const HELD_UDP = [46100, 46102, 46104, 46107, 46111];

const HOLDER = `
const net = require('node:net'), dgram = require('node:dgram');
const [tcp, udp] = JSON.parse(process.argv[1]);
let n = 0;
const ready = () => { if (++n === tcp.length + udp.length) process.stdout.write('held\\n'); };
for (const p of tcp) net.createServer().listen(p, '127.0.0.1', ready);
for (const p of udp) dgram.createSocket('udp4').bind(p, '127.0.0.1', ready);
setInterval(() => {}, 1 << 30);
`;

describe('check 5: 20 VMs start at once next to an outside port holder', () => {
  let home: string;
  let holder: ChildProcess;
  let engine: Engine;
  let client: TestClient;

  beforeAll(async () => {
    home = await makeHome(false);
    holder = spawn(process.execPath, ['-e', HOLDER, JSON.stringify([HELD_TCP, HELD_UDP])], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
    ({ engine, client } = await openTestEngine(home, { spawn: heldSpawn(spawn), portRange: RANGE, stopDeadlineMs: 1000 }));
  });
  afterAll(async () => {
    client?.close();
    await engine?.close();
    holder?.kill('SIGKILL');
    await cleanupHome(home);
  });

  it(`all ${VMS} start with distinct ports, ${ROUNDS} round(s)`, async () => {
    const disk = blankDisk(home);
    const vms = await Promise.all(
      Array.from({ length: VMS }, (_, i) =>
        client.call('vm.create', { config: heldConfig(`crowd-${i}`, disk, { forwards: [{ proto: 'tcp', guestPort: 22 }, { proto: 'udp', guestPort: 53 }] }) }),
      ),
    );
    let dupes = 0;
    let lost = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const started = await Promise.allSettled(vms.map((vm) => client.call('vm.start', { id: vm.id })));
      const failed = started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
      expect(failed, `round ${round}`).toEqual([]);
      const ports = await client.call('vm.ports', {});
      expect(ports).toHaveLength(VMS * 2);
      const keys = ports.map((p) => `${p.proto}:${p.hostPort}`);
      dupes += keys.length - new Set(keys).size;
      for (const p of ports) {
        expect(p.hostPort).toBeGreaterThanOrEqual(RANGE[0]);
        expect(p.hostPort).toBeLessThanOrEqual(RANGE[1]);
        expect((p.proto === 'tcp' ? HELD_TCP : HELD_UDP).includes(p.hostPort), `held port ${p.proto}:${p.hostPort} handed out`).toBe(false);
      }
      // each QEMU binds exactly what the engine says it has
      const inet = await inetSockets();
      const list = await client.call('vm.list', {});
      for (const vm of list) {
        expect(['running', 'paused']).toContain(vm.state);
        const inodes = await socketInodes(vm.pid!);
        const bound = inet.filter((s) => inodes.has(s.inode)).map((s) => `${s.proto}:${s.port}`).sort();
        expect(bound).toEqual(vm.ports.map((p) => `${p.proto}:${p.hostPort}`).sort());
      }
      expect(await processesUsing(home)).toHaveLength(VMS);
      lost += VMS - list.filter((v) => v.state === 'running' || v.state === 'paused').length;
      await Promise.all(vms.map((vm) => client.call('vm.stop', { id: vm.id, force: true })));
      expect(await client.call('vm.ports', {})).toEqual([]);
    }
    expect(await processesUsing(home)).toEqual([]);
    reportFigure({ check: 5, title: 'start 20 VMs at once, 10 ports held outside', load: `${VMS} VMs × 2 forwards × ${ROUNDS} round(s)`, faults: HELD_TCP.length + HELD_UDP.length, badInputs: 0, lost: lost + dupes });
    expect(dupes).toBe(0);
  });
});
