// The plan and the undo of live forward changes. The real QEMU path (a forward added and removed
// on a running guest, a taken port refused) is in tests/integration/engine-lifecycle.itest.ts;
// here a fake monitor fails at chosen points, which a real one does only in a race.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PortEntry } from '../../../shared/contract';
import { PortAllocator } from '../port-allocator';
import { applyLiveForwards, finishLiveForwards, parseUsernetForwards, planForwards } from './live-forwards';

// what QEMU 7.2 answers (captured from one with a TCP and a UDP forward)
const USERNET =
  'Hub -1 (n0):\r\n  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ\r\n' +
  '  TCP[HOST_FORWARD]  12       127.0.0.1 45555       10.0.2.15    22     0     0\r\n' +
  '  UDP[HOST_FORWARD]  13       127.0.0.1 45556       10.0.2.15    53     0     0\r\n' +
  '  TCP[ESTABLISHED]   25       10.0.2.15 41234        10.0.2.2  8080     0     0\r\n';

describe('parseUsernetForwards', () => {
  it('reads the host forwards and nothing else', () => {
    expect(parseUsernetForwards(USERNET)).toEqual([
      { proto: 'tcp', hostPort: 45555, guestPort: 22 },
      { proto: 'udp', hostPort: 45556, guestPort: 53 },
    ]);
    expect(parseUsernetForwards(USERNET.split('\r\n').slice(0, 2).join('\r\n'))).toEqual([]);
  });

  it('knows nothing from a table it does not recognise', () => {
    expect(parseUsernetForwards('')).toBeNull();
    expect(parseUsernetForwards('unknown command: info usernet')).toBeNull();
  });
});

const fwd = (hostPort: number, guestPort: number, proto: 'tcp' | 'udp' = 'tcp'): PortEntry => ({ vmId: 'v', purpose: 'forward', proto, hostPort, guestPort, host: '127.0.0.1' });

describe('planForwards', () => {
  it('keeps a live forward an automatic or same-port wanted one matches, and swaps the rest', () => {
    const live = [fwd(40000, 22), fwd(40001, 80), fwd(40002, 53, 'udp')];
    expect(planForwards(live, [{ proto: 'tcp', guestPort: 22 }, { proto: 'tcp', guestPort: 80, hostPort: 40001 }, { proto: 'udp', guestPort: 53 }])).toEqual({ remove: [], add: [] });
    expect(planForwards(live, [{ proto: 'tcp', guestPort: 22, hostPort: 2222 }, { proto: 'tcp', guestPort: 443 }])).toEqual({
      remove: live,
      add: [{ proto: 'tcp', guestPort: 22, hostPort: 2222 }, { proto: 'tcp', guestPort: 443 }],
    });
    // protocol counts
    expect(planForwards([fwd(40000, 53)], [{ proto: 'udp', guestPort: 53 }])).toEqual({ remove: [fwd(40000, 53)], add: [{ proto: 'udp', guestPort: 53 }] });
  });
});

describe('applyLiveForwards', () => {
  let dir: string;
  let ports: PortAllocator;
  let qemu: Map<string, string>;
  let failOn: RegExp | null;
  const log: string[] = [];
  const hmp = async (line: string): Promise<string> => {
    if (failOn?.test(line)) return `Could not set up host forwarding rule '${line.split(' ')[2]}'\r\n`;
    const [cmd, , rule = ''] = line.split(' ') as [string, string, string?];
    const k = rule.split('-')[0]!;
    if (cmd === 'info') {
      const rows = [...qemu.values()].map((r) => {
        const m = /^(tcp|udp):127\.0\.0\.1:(\d+)-:(\d+)$/.exec(r)!;
        return `  ${m[1]!.toUpperCase()}[HOST_FORWARD]  12       127.0.0.1 ${m[2]}       10.0.2.15    ${m[3]}     0     0\r\n`;
      });
      return USERNET.split('\r\n').slice(0, 2).join('\r\n') + '\r\n' + rows.join('');
    }
    if (cmd === 'hostfwd_add') {
      if (qemu.has(k)) return `Could not set up host forwarding rule '${rule}'\r\n`;
      qemu.set(k, rule);
      return '';
    }
    return qemu.delete(k) ? `host forwarding rule for ${k} removed\r\n` : `host forwarding rule for ${k} not found\r\n`;
  };
  const deps = () => ({ vmId: 'v', ports, hmp, log: (t: string) => log.push(t) });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-live-fwd-'));
    ports = new PortAllocator({ file: join(dir, 'ports.json'), range: [41000, 41009], probe: async () => true });
    await ports.load();
    const start = await ports.allocateMany('v', [{ purpose: 'forward', proto: 'tcp', guestPort: 22 }]);
    qemu = new Map(start.map((e) => [`tcp:127.0.0.1:${e.hostPort}`, `tcp:127.0.0.1:${e.hostPort}-:22`]));
    failOn = null;
    log.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('adds and removes in QEMU and in the table', async () => {
    await applyLiveForwards(deps(), [{ proto: 'tcp', guestPort: 80 }]);
    const rows = ports.entries('v');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ guestPort: 80 });
    expect([...qemu.values()]).toEqual([`tcp:127.0.0.1:${rows[0]!.hostPort}-:80`]);
    expect(log.at(-1)).toMatch(/^port forwards changed while running: removed 127\.0\.0\.1:41000 → 22\/tcp, added 127\.0\.0\.1:\d+ → 80\/tcp$/);
  });

  it('moves a requested host port to another guest port (the same row, not dropped)', async () => {
    await applyLiveForwards(deps(), [{ proto: 'tcp', guestPort: 23, hostPort: 41000 }]);
    expect(ports.entries('v')).toEqual([fwd(41000, 23)]);
    expect([...qemu.values()]).toEqual(['tcp:127.0.0.1:41000-:23']);
  });

  it('undoes everything when QEMU refuses one of the new forwards', async () => {
    const tableBefore = ports.entries('v');
    const qemuBefore = [...qemu.values()];
    failOn = /:41005-/;
    await expect(applyLiveForwards(deps(), [{ proto: 'tcp', guestPort: 80, hostPort: 41004 }, { proto: 'tcp', guestPort: 443, hostPort: 41005 }])).rejects.toMatchObject({
      code: 'PORT_TAKEN',
      details: { hostPort: 41005 },
    });
    expect(ports.entries('v')).toEqual(tableBefore);
    expect([...qemu.values()]).toEqual(qemuBefore);
    // and a later change still works from there
    failOn = null;
    await applyLiveForwards(deps(), [{ proto: 'tcp', guestPort: 22 }, { proto: 'tcp', guestPort: 443, hostPort: 41005 }]);
    expect(ports.entries('v').map((e) => e.hostPort)).toEqual([41000, 41005]);
  });

  it('changes nothing for the same list', async () => {
    const before = ports.entries('v');
    await applyLiveForwards(deps(), [{ proto: 'tcp', guestPort: 22 }]);
    expect(ports.entries('v')).toEqual(before);
    expect(log).toEqual([]);
  });

  it('after adoption: the table takes what QEMU holds, then a half-done change is finished', async () => {
    // ports.json rebuilt from the command line: it lacks a forward added live (41003 → 80)
    qemu.set('tcp:127.0.0.1:41003', 'tcp:127.0.0.1:41003-:80');
    await finishLiveForwards(deps(), [{ proto: 'tcp', guestPort: 22 }, { proto: 'tcp', guestPort: 80 }]);
    expect(ports.entries('v')).toEqual([fwd(41000, 22), fwd(41003, 80)]);
    expect(log).toEqual(['the port table now holds the forwards of the running QEMU: 127.0.0.1:41000 → 22/tcp, 127.0.0.1:41003 → 80/tcp']);

    // vm.json written (443 added, 22 gone), QEMU not told: finished
    log.length = 0;
    await finishLiveForwards(deps(), [{ proto: 'tcp', guestPort: 80 }, { proto: 'tcp', guestPort: 443 }]);
    expect(ports.entries('v').map((e) => [e.hostPort, e.guestPort])).toEqual([[41003, 80], [expect.any(Number), 443]]);
    expect([...qemu.values()].map((r) => r.split('-:')[1])).toEqual(['80', '443']);
    expect(log[0]).toMatch(/^vm\.json holds other port forwards than the running QEMU/);
  });

  it('after adoption, a change that cannot be finished is said and changes nothing', async () => {
    failOn = /:41002-/;
    await finishLiveForwards(deps(), [{ proto: 'tcp', guestPort: 22 }, { proto: 'tcp', guestPort: 80, hostPort: 41002 }]);
    expect(ports.entries('v')).toEqual([fwd(41000, 22)]);
    expect(log.at(-1)).toMatch(/^could not finish the port forward change \(host port 41002\/tcp on 127\.0\.0\.1 is already in use; .*\); vm\.json's forwards apply at the next start$/);
  });
});
