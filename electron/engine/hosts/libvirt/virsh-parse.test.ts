import { describe, expect, it } from 'vitest';
import { idToUuid, parseAgentReturn, parseDomifaddr, parseDominfo, parseDomstats, parseDomstatsAll, parseEventLine, parseVolDetails, parseUuidList, parseVncDisplay, safeText, stateAfterEvent, uuidToId } from './virsh-parse';

const TS = '2026-12-05 10:35:46.039+0000';

describe('event lines', () => {
  it.each([
    [`${TS}: event 'lifecycle' for domain 'web1': Started Booted`, { kind: 'lifecycle', name: 'web1', event: 'Started', detail: 'Booted' }],
    [`${TS}: event 'lifecycle' for domain 'web1': Shutdown Finished after host request`, { kind: 'lifecycle', name: 'web1', event: 'Shutdown', detail: 'Finished after host request' }],
    [`${TS}: event 'lifecycle' for domain 'a': b': Stopped Destroyed`, { kind: 'lifecycle', name: "a': b", event: 'Stopped', detail: 'Destroyed' }],
    [`${TS}: event 'lifecycle' for domain 'x': Stopped Destroyed': Started Booted`, { kind: 'lifecycle', name: "x': Stopped Destroyed", event: 'Started', detail: 'Booted' }],
    [`${TS}: event 'agent-lifecycle' for domain 'web1': state: 'connected' reason: 'channel event'`, { kind: 'agent', name: 'web1', connected: true }],
    [`${TS}: event 'reboot' for domain 'web1'`, { kind: 'other', name: 'web1', event: 'reboot' }],
    ['garbage', { kind: 'unparsed' }],
    ['x'.repeat(5000), { kind: 'unparsed' }],
  ])('%s', (line, want) => {
    expect(parseEventLine(line)).toEqual(want);
  });

  it('maps lifecycle events to states', () => {
    expect(stateAfterEvent('Started', 'Booted')).toBe('running');
    expect(stateAfterEvent('Suspended', 'Paused')).toBe('paused');
    expect(stateAfterEvent('Stopped', 'Crashed')).toBe('crashed');
    expect(stateAfterEvent('Stopped', 'Shutdown')).toBe('stopped');
    expect(stateAfterEvent('Shutdown', 'Finished after guest request')).toBeNull();
    expect(stateAfterEvent('Undefined', 'Removed')).toBe('removed');
    expect(stateAfterEvent('Undefined', 'Renamed')).toBeNull();
    expect(stateAfterEvent('Defined', 'Added')).toBeNull();
  });
});

describe('virsh output', () => {
  it('dominfo', () => {
    const d = parseDominfo('Id:             1\nName:           web\u001b[31m1\nUUID:           D33B9A74-1a99-482b-a99f-d09c4f2790e9\nState:          in shutdown\nCPU(s):         2\nMax memory:     262144 KiB\nPersistent:     yes\n');
    expect(d).toEqual({ name: 'web?[31m1', uuid: 'd33b9a74-1a99-482b-a99f-d09c4f2790e9', state: 'stopping', stateWord: 'in shutdown', cpus: 2, memoryMiB: 256, persistent: true, autostart: false });
    expect(parseDominfo('UUID: d33b9a74-1a99-482b-a99f-d09c4f2790e9\nAutostart:      enable\n').autostart).toBe(true);
    expect(() => parseDominfo('Name: x\nUUID: ../../etc\n')).toThrow(/UUID/);
  });

  it('ids and uuids round-trip; only hex ids map back', () => {
    const u = 'd33b9a74-1a99-482b-a99f-d09c4f2790e9';
    expect(idToUuid(uuidToId(u))).toBe(u);
    expect(idToUuid('zz3b9a741a99482ba99fd09c4f2790e9')).toBeNull();
    expect(parseUuidList(`${u}\n\nnot-a-uuid\n`)).toEqual([u]);
  });

  it('domstats, domifaddr, agent replies, vnc display', () => {
    expect(parseDomstats("Domain: 'x'\n  state.state=1\n  cpu.time=270716000\n  evil=$(rm)\n").get('cpu.time')).toBe(270716000);
    expect(parseDomifaddr(' lo  00:00:00:00:00:00  ipv4  127.0.0.1/8\n eth0  52:54:00:d0:65:4c  ipv4  10.0.2.15/24\n -  -  ipv6  fec0::5054:ff:fed0:654c/64\n')).toEqual(['10.0.2.15', 'fec0::5054:ff:fed0:654c']);
    expect(parseAgentReturn('{"return":{"pid":7}}')).toEqual({ pid: 7 });
    expect(() => parseAgentReturn('<html>')).toThrow(/not JSON/);
    expect(parseVncDisplay('vnc://127.0.0.1:3\n')).toEqual({ host: '127.0.0.1', port: 5903 });
    expect(parseVncDisplay('vnc://0.0.0.0:3')).toBeNull();
    expect(safeText('a\nb\u2028c', 4)).toBe('a?b?');
  });

  it('reads several domains out of one domstats, by the name each block names', () => {
    const text = "Domain: 'web-1'\n  state.state=1\n  cpu.time=20883932000\n  balloon.rss=272576\n\nDomain: 'it''s odd'\n  state.state=3\n  balloon.rss=1024\n";
    const all = parseDomstatsAll(text);
    expect([...all.keys()]).toEqual(['web-1', "it''s odd"]);
    expect(all.get('web-1')?.get('balloon.rss')).toBe(272576);
    expect(all.get("it''s odd")?.get('state.state')).toBe(3);
  });

  it('reads vol-list --details rows, a name with spaces too, and skips what does not read so', () => {
    const text = [
      ' debian-12.iso      /var/lib/libvirt/images/debian-12.iso      file   628.00 MiB   628.00 MiB',
      ' my disk.qcow2      /var/lib/libvirt/images/my disk.qcow2      file   20.00 GiB    1.50 GiB',
      ' odd                /dev/sdb                                   block  -            -',
      ' garbage line',
      // a host's name with a terminal escape in it: the name is made safe, a path with one is skipped
      ' \u001b]0;x\u0007.iso  /srv/a.iso                               file   1.00 MiB     1.00 MiB',
      ' b.iso              /srv/\u001b[2Jb.iso                        file   1.00 MiB     1.00 MiB',
    ].join('\n');
    expect(parseVolDetails(text)).toEqual([
      { name: 'debian-12.iso', path: '/var/lib/libvirt/images/debian-12.iso', bytes: 628 * 2 ** 20 },
      { name: 'my disk.qcow2', path: '/var/lib/libvirt/images/my disk.qcow2', bytes: 20 * 2 ** 30 },
      { name: 'odd', path: '/dev/sdb', bytes: null },
      { name: '?]0;x?.iso', path: '/srv/a.iso', bytes: 2 ** 20 },
    ]);
  });
});
