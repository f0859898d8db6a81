// The allocator with real binds on 127.0.0.1 inside a private port range.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePortRange, PortAllocator, probePort, type PortRequest } from './port-allocator';

let dir: string;
let file: string;
const holders: Array<Server | UdpSocket> = [];

// A range per test run, below the kernel's ephemeral ports (32768+) so outgoing connections
// cannot occupy the ports the expectations name, and away from the default range.
const BASE = 20000 + (process.pid % 40) * 200;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-ports-'));
  file = join(dir, 'ports.json');
});
afterEach(async () => {
  for (const h of holders.splice(0)) await new Promise<void>((r) => h.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

function holdTcp(port: number, host = '127.0.0.1'): Promise<void> {
  const srv = createServer();
  holders.push(srv);
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve());
  });
}

function holdUdp(port: number): Promise<void> {
  const s = createSocket('udp4');
  holders.push(s);
  return new Promise((resolve) => s.bind(port, '127.0.0.1', () => resolve()));
}

const fwd = (guestPort: number, hostPort?: number, proto: 'tcp' | 'udp' = 'tcp'): PortRequest => ({ purpose: 'forward', proto, guestPort, hostPort });

function make(range: [number, number] = [BASE, BASE + 199]) {
  return new PortAllocator({ file, range });
}

describe('PortAllocator', () => {
  it('200 concurrent allocations across 20 VMs never hand out one port twice', async () => {
    const a = make();
    await a.load();
    const vms = Array.from({ length: 20 }, (_, i) => `vm${String(i).padStart(10, '0')}`);
    const all = await Promise.all(Array.from({ length: 200 }, (_, i) => a.allocate(vms[i % 20]!, fwd(1000 + i))));
    const ports = all.map((e) => e.hostPort);
    expect(new Set(ports).size).toBe(200);
    expect(ports.every((p) => p >= BASE && p <= BASE + 199)).toBe(true);
    expect(a.entries()).toHaveLength(200);
    expect(all.every((e) => e.host === '127.0.0.1')).toBe(true);
  });

  it('skips ports an outside program holds (tcp on 127.0.0.1 or all interfaces, and udp)', async () => {
    await holdTcp(BASE);
    await holdTcp(BASE + 1, '0.0.0.0');
    await holdUdp(BASE + 2);
    const a = make();
    const tcp = await a.allocateMany('vmaaaaaaaaaa', [fwd(22), fwd(80)]);
    expect(tcp.map((e) => e.hostPort)).toEqual([BASE + 2, BASE + 3]);
    const b = make([BASE + 2, BASE + 3]);
    await expect(b.allocate('vmbbbbbbbbbb', fwd(53, undefined, 'udp'))).resolves.toMatchObject({ hostPort: BASE + 3, proto: 'udp' });
  });

  it('a requested port that is taken gives PORT_TAKEN naming the port; by a VM or by another program', async () => {
    await holdTcp(BASE + 5);
    const a = make();
    await expect(a.allocate('vmaaaaaaaaaa', fwd(22, BASE + 5))).rejects.toMatchObject({
      code: 'PORT_TAKEN',
      message: new RegExp(`host port ${BASE + 5}/tcp .* in use by another program`),
      details: { hostPort: BASE + 5, proto: 'tcp' },
    });
    await expect(a.allocate('vmaaaaaaaaaa', fwd(22, BASE + 5))).rejects.not.toHaveProperty('details.usedBy');
    await a.allocate('vmaaaaaaaaaa', fwd(22, BASE + 6));
    await expect(a.allocate('vmbbbbbbbbbb', fwd(22, BASE + 6))).rejects.toMatchObject({
      code: 'PORT_TAKEN',
      message: /by VM vmaaaaaaaaaa/,
      details: { hostPort: BASE + 6, proto: 'tcp', usedBy: 'vmaaaaaaaaaa' },
    });
    // the same VM asking again keeps its port
    await expect(a.allocate('vmaaaaaaaaaa', fwd(22, BASE + 6))).resolves.toMatchObject({ hostPort: BASE + 6 });
    expect(a.entries('vmaaaaaaaaaa')).toHaveLength(1);
  });

  it('a requested port outside the range is allowed; tcp and udp on one requested port for one VM', async () => {
    const a = make([BASE, BASE + 1]);
    const es = await a.allocateMany('vmaaaaaaaaaa', [fwd(53, BASE + 150, 'tcp'), fwd(53, BASE + 150, 'udp')]);
    expect(es.map((e) => `${e.proto}:${e.hostPort}`)).toEqual([`tcp:${BASE + 150}`, `udp:${BASE + 150}`]);
  });

  it('allocateMany is all or nothing', async () => {
    await holdTcp(BASE + 9);
    const a = make();
    await expect(a.allocateMany('vmaaaaaaaaaa', [fwd(22), fwd(80, BASE + 9)])).rejects.toMatchObject({ code: 'PORT_TAKEN' });
    expect(a.entries()).toEqual([]);
  });

  it('persists atomically and survives a reload', async () => {
    const a = make();
    const e = await a.allocate('vmaaaaaaaaaa', fwd(22));
    const b = make();
    await b.load();
    expect(b.entries()).toEqual([e]);
    // the reloaded table still blocks the port for others
    await expect(b.allocate('vmbbbbbbbbbb', fwd(22, e.hostPort))).rejects.toMatchObject({ code: 'PORT_TAKEN' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ version: 1 });
  });

  it('load() of a corrupt file starts empty instead of failing', async () => {
    await writeFile(file, '{"entries": [{"vmId": 1}, ');
    const a = make();
    await a.load();
    expect(a.entries()).toEqual([]);
  });

  it('release() frees a VM’s ports; mark() re-marks them on adoption and wins over a stale claim', async () => {
    const a = make();
    const [e1] = await a.allocateMany('vmaaaaaaaaaa', [fwd(22)]);
    await a.allocate('vmbbbbbbbbbb', fwd(80));
    await a.release('vmaaaaaaaaaa');
    expect(a.entries('vmaaaaaaaaaa')).toEqual([]);
    expect(a.entries('vmbbbbbbbbbb')).toHaveLength(1);
    const stale = a.entries('vmbbbbbbbbbb')[0]!;
    await a.mark('vmaaaaaaaaaa', [e1!, { ...stale, vmId: 'vmaaaaaaaaaa' }]);
    expect(a.entries('vmaaaaaaaaaa').map((e) => e.hostPort).sort()).toEqual([e1!.hostPort, stale.hostPort].sort());
    expect(a.entries('vmbbbbbbbbbb')).toEqual([]);
    const reloaded = make();
    await reloaded.load();
    expect(reloaded.entries('vmaaaaaaaaaa')).toHaveLength(2);
  });

  it('replace() gives a fresh port after a bind failure, but never swaps a user-requested one', async () => {
    const a = make();
    const auto = await a.allocate('vmaaaaaaaaaa', fwd(22));
    const fresh = await a.replace('vmaaaaaaaaaa', auto.hostPort);
    expect(fresh.hostPort).not.toBe(auto.hostPort);
    expect(fresh.guestPort).toBe(22);
    expect(a.entries('vmaaaaaaaaaa')).toEqual([fresh]);
    await a.allocate('vmaaaaaaaaaa', fwd(80, BASE + 170));
    await expect(a.replace('vmaaaaaaaaaa', BASE + 170)).rejects.toMatchObject({ code: 'PORT_TAKEN', message: new RegExp(`${BASE + 170}`) });
    await expect(a.replace('vmaaaaaaaaaa', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('an exhausted range gives PORTS_EXHAUSTED naming the range', async () => {
    const a = make([BASE + 190, BASE + 191]);
    await a.allocateMany('vmaaaaaaaaaa', [fwd(1), fwd(2)]);
    await expect(a.allocate('vmaaaaaaaaaa', fwd(3))).rejects.toMatchObject({ code: 'PORTS_EXHAUSTED', message: new RegExp(`${BASE + 190}-${BASE + 191}`) });
  });

  it('takes its range from FLOTILLA_PORT_RANGE unless given one; rejects a malformed range', () => {
    expect(new PortAllocator({ file, env: { FLOTILLA_PORT_RANGE: '41000-41010' } }).range).toEqual([41000, 41010]);
    expect(new PortAllocator({ file, env: {} }).range).toEqual([40000, 49999]);
    expect(new PortAllocator({ file, range: [1, 2], env: { FLOTILLA_PORT_RANGE: '41000-41010' } }).range).toEqual([1, 2]);
    expect(() => parsePortRange('5-4')).toThrow(/FLOTILLA_PORT_RANGE must look like/);
    expect(() => parsePortRange('abc')).toThrow(/FLOTILLA_PORT_RANGE/);
  });

  it('probePort tells free from taken for tcp and udp', async () => {
    await holdTcp(BASE + 180);
    await holdUdp(BASE + 181);
    expect(await probePort(BASE + 180, 'tcp')).toBe(false);
    expect(await probePort(BASE + 181, 'udp')).toBe(false);
    expect(await probePort(BASE + 182, 'tcp')).toBe(true);
    expect(await probePort(BASE + 182, 'udp')).toBe(true);
  });

  describe('automatic forwards keep their port across starts', () => {
    const A = 'vmaaaaaaaaaa';
    const B = 'vmbbbbbbbbbb';

    it('a stopped VM gets its last port back, even after other VMs took ports meanwhile and the engine restarted', async () => {
      const a = make();
      await a.load();
      const [first] = await a.allocateMany(A, [fwd(22)]);
      await a.release(A);
      await a.allocateMany(B, [fwd(80), fwd(443)]);
      const restarted = make();
      await restarted.load();
      const [again] = await restarted.allocateMany(A, [fwd(22)]);
      expect(again!.hostPort).toBe(first!.hostPort);
    });

    it('other VMs are not given a port a stopped VM remembers while other ports are free', async () => {
      const a = make([BASE, BASE + 2]);
      await a.load();
      const [first] = await a.allocateMany(A, [fwd(22)]);
      await a.release(A);
      const b = await a.allocateMany(B, [fwd(1), fwd(2)]);
      expect(b.map((e) => e.hostPort)).not.toContain(first!.hostPort);
      // when nothing else is free, the remembered port is not held back
      await a.release(B);
      const c = await a.allocateMany(B, [fwd(1), fwd(2), fwd(3)]);
      expect(c.map((e) => e.hostPort).sort()).toEqual([BASE, BASE + 1, BASE + 2]);
    });

    it('a remembered port someone else now holds is replaced by a free one, which is remembered next', async () => {
      const a = make();
      await a.load();
      const [first] = await a.allocateMany(A, [fwd(22)]);
      await a.release(A);
      await holdTcp(first!.hostPort);
      const [second] = await a.allocateMany(A, [fwd(22)]);
      expect(second!.hostPort).not.toBe(first!.hostPort);
      await a.release(A);
      const [third] = await a.allocateMany(A, [fwd(22)]);
      expect(third!.hostPort).toBe(second!.hostPort);
    });

    it('a port the user chose is not remembered as automatic, and forget() drops a deleted VM', async () => {
      const a = make();
      await a.load();
      await a.allocateMany(A, [fwd(22, BASE + 150), fwd(80)]);
      await a.release(A);
      const saved = JSON.parse(await readFile(file, 'utf8')) as { remembered: { guestPort: number }[] };
      expect(saved.remembered.map((r) => r.guestPort)).toEqual([80]);
      await a.forget(A);
      expect((JSON.parse(await readFile(file, 'utf8')) as { remembered: unknown[] }).remembered).toEqual([]);
    });
  });
});
