// Interleavings real libvirt cannot be made to produce on demand, so `virsh` here is a small
// script: it answers from files, prints the event stream from a file, holds dominfo (with what it
// read when called) while a hold file exists, and fails as many agent pings as a file says.
// - a domain read (dominfo) begun before an event and answered after it: a stopped (or deleted)
//   domain must not come back as running;
// - an agent ping that fails once right after the agent connected (a busy guest, a slow virsh):
//   the host must ask again, not leave the VM "connecting" without addresses;
// - a guest-get-osinfo that times out (a guest busy after boot) is asked again; one the agent
//   refuses is not;
// - the guest's address answered while the domain is read again (an event that changes its
//   definition): it must land in the domain the host holds now, not in the one it replaced;
// - a domain created while the whole list is read again (its list taken before the define): the
//   new domain must stay (CI once, three test files on one libvirtd: "no VM ... on host");
// - the stats tick of a host none of whose domains runs: no virsh at all.
// The integration test (libvirt-host.itest.ts) runs the same paths against libvirtd.
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LibvirtHost } from './libvirt-host';

const UUID = '6f1c1e0e-4a8e-4b8a-9a55-3b2c1d0e9f10';
const NAME = 'd1';

const dominfo = (state: string, name = NAME, uuid = UUID) =>
  [`Id:             1`, `Name:           ${name}`, `UUID:           ${uuid}`, `OS Type:        hvm`, `State:          ${state}`, `CPU(s):         1`, `Max memory:     262144 KiB`, `Persistent:     yes`, ''].join('\n');

let dir = '';
let host: LibvirtHost | null = null;

function fakeVirsh(): string {
  dir = mkdtempSync(join(tmpdir(), 'flt-fake-virsh-'));
  const bin = join(dir, 'virsh');
  writeFileSync(
    bin,
    `#!/bin/bash
D='${dir}'
shift 3 # --quiet --connect URI
case "$1" in
  version) echo 9.0.0 ;;
  event) exec tail -n +1 -F "$D/events" 2>/dev/null ;;
  list) cat "$D/uuids" ;;
  dominfo)
    if [ -e "$D/dominfo-$3" ]; then cat "$D/dominfo-$3"; exit 0; fi
    now=$(cat "$D/dominfo")
    touch "$D/called"
    while [ -e "$D/hold" ]; do sleep 0.02; done
    printf '%s\\n' "$now"
    touch "$D/answered" ;;
  qemu-agent-command)
    echo "$6" >> "$D/agent-calls"
    case "$6" in
      *guest-ping*)
        n=$(cat "$D/ping-fails" 2>/dev/null || echo 0)
        if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$D/ping-fails"; echo "error: Guest agent is not responding" >&2; exit 1; fi
        echo '{"return":{}}' ;;
      *guest-get-osinfo*)
        n=$(cat "$D/osinfo-fails" 2>/dev/null || echo 0)
        if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$D/osinfo-fails"; echo "error: Guest agent is not responding: Guest agent not available for now" >&2; exit 1; fi
        if [ -e "$D/osinfo-unsupported" ]; then echo "error: internal error: unable to execute QEMU agent command 'guest-get-osinfo': The command guest-get-osinfo has not been found" >&2; exit 1; fi
        echo '{"return":{"kernel-release":"6.1.0-28-cloud-amd64","pretty-name":"Debian GNU/Linux 12 (bookworm)"}}' ;;
      *) echo "error: unsupported" >&2; exit 1 ;;
    esac ;;
  dumpxml) echo "<domain type='qemu'><name>$(sed -n 's/^Name: *//p' "$D/dominfo")</name></domain>" ;;
  domstats) echo x >> "$D/domstats-calls" ;;
  domifaddr)
    touch "$D/addr-called"
    while [ -e "$D/hold-addr" ]; do sleep 0.02; done
    cat "$D/addr" 2>/dev/null ;;
  *) exit 1 ;;
esac
`,
  );
  chmodSync(bin, 0o755);
  writeFileSync(join(dir, 'events'), '');
  writeFileSync(join(dir, 'uuids'), `${UUID}\n`);
  writeFileSync(join(dir, 'dominfo'), dominfo('running'));
  return bin;
}

const event = (text: string) => appendFileSync(join(dir, 'events'), `2026-12-05 12:00:00.000+0000: event 'lifecycle' for domain '${NAME}': ${text}\n`);
const agentEvent = (state: string) => appendFileSync(join(dir, 'events'), `2026-12-05 12:00:00.000+0000: event 'agent-lifecycle' for domain '${NAME}': state: '${state}' reason: 'channel event'\n`);
const calls = (what: string): number => (existsSync(join(dir, 'agent-calls')) ? readFileSync(join(dir, 'agent-calls'), 'utf8').split('\n').filter((l) => l.includes(what)).length : 0);
const pings = (): number => calls('guest-ping');
const ADDR = ' Name       MAC address          Protocol     Address\n-------------------------------------------------------\n eth0       52:54:00:12:34:56    ipv4         10.0.2.15/24\n';

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Connects to the fake, then holds the next dominfo and starts one with a 'Shutdown Finished' event. */
async function heldRead(): Promise<{ host: LibvirtHost; loads: () => number }> {
  const h = new LibvirtHost({ name: 't', uri: 'qemu:///system', addedAt: '' }, { home: dir, virshBinary: fakeVirsh(), backoff: { baseMs: 50, maxMs: 100 } });
  host = h;
  await h.connectNow();
  await until('the domain', () => h.list()[0]?.state === 'running');
  let changes = 0;
  h.onEvent(() => changes++);
  writeFileSync(join(dir, 'hold'), '');
  rmSync(join(dir, 'called'), { force: true });
  event('Shutdown Finished after guest request');
  await until('the held read', () => existsSync(join(dir, 'called')));
  return { host: h, loads: () => changes };
}

/** Connects to the fake with a running domain whose agent is not up yet; returns once its first ping failed. */
async function agentNotUpYet(): Promise<LibvirtHost> {
  const bin = fakeVirsh();
  writeFileSync(join(dir, 'ping-fails'), '1000');
  const h = new LibvirtHost({ name: 't', uri: 'qemu:///system', addedAt: '' }, { home: dir, virshBinary: bin, backoff: { baseMs: 50, maxMs: 100 } });
  host = h;
  await h.connectNow();
  await until('the domain', () => h.list()[0]?.state === 'running');
  await until('the first ping', () => pings() === 1);
  return h;
}

afterEach(async () => {
  await host?.close();
  host = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a domain read that an event overtakes', () => {
  it('keeps the state the event gave (a stopped domain does not come back running)', async () => {
    const { host: h, loads } = await heldRead();
    writeFileSync(join(dir, 'dominfo'), dominfo('shut off'));
    event('Stopped Shutdown');
    await until('the stopped event', () => h.list()[0]?.state === 'stopped');
    const before = loads();
    rmSync(join(dir, 'hold'));
    await until('the held read to answer and be handled', () => existsSync(join(dir, 'answered')) && loads() > before);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.list().map((v) => v.state)).toEqual(['stopped']);
  });

  it('keeps a removed domain removed', async () => {
    const { host: h } = await heldRead();
    writeFileSync(join(dir, 'uuids'), '');
    event('Undefined Removed');
    await until('the removal', () => h.list().length === 0);
    rmSync(join(dir, 'hold'));
    await until('the held read to answer', () => existsSync(join(dir, 'answered')));
    await new Promise((r) => setTimeout(r, 300));
    expect(h.list()).toEqual([]);
  });
});

describe('an agent ping that fails just after the agent connected', () => {
  it('is asked again until the agent answers and the guest has an address', async () => {
    const h = await agentNotUpYet();
    // a guest whose agent has not connected is not asked again: its connect event will come
    await new Promise((r) => setTimeout(r, 1500));
    expect([pings(), h.list()[0]?.agent]).toEqual([1, 'connecting']);

    // it connects; the next ping still fails once (busy guest); its address comes a moment later
    writeFileSync(join(dir, 'ping-fails'), '1');
    agentEvent('connected');
    await until('the failed ping after the event', () => pings() === 2);
    writeFileSync(join(dir, 'addr'), ADDR);
    await until('the agent ready with its address', () => h.list()[0]?.agent === 'ready' && h.list()[0]?.ips.join() === '10.0.2.15', 8000);
  });
});

describe('an address that comes in while the domain is read again', () => {
  it('lands in the domain the host holds now', async () => {
    const h = await agentNotUpYet();
    // the agent connects and answers; its address question is held until the domain was read again
    writeFileSync(join(dir, 'ping-fails'), '0');
    writeFileSync(join(dir, 'addr'), ADDR);
    writeFileSync(join(dir, 'hold-addr'), '');
    agentEvent('connected');
    await until('the address question', () => existsSync(join(dir, 'addr-called')));
    let changes = 0;
    h.onEvent(() => changes++);
    appendFileSync(join(dir, 'events'), `2026-12-05 12:00:01.000+0000: event 'rtc-change' for domain '${NAME}': 0\n`);
    await until('the domain read again', () => changes > 0);
    rmSync(join(dir, 'hold-addr'));
    await until('the agent ready with its address', () => h.list()[0]?.agent === 'ready' && h.list()[0]?.ips.join() === '10.0.2.15', 5000);
  });
});

describe("the guest's OS line", () => {
  async function agentUp(prepare: () => void): Promise<LibvirtHost> {
    const bin = fakeVirsh();
    writeFileSync(join(dir, 'addr'), ADDR);
    prepare();
    const h = new LibvirtHost({ name: 't', uri: 'qemu:///system', addedAt: '' }, { home: dir, virshBinary: bin, backoff: { baseMs: 50, maxMs: 100 } });
    host = h;
    await h.connectNow();
    await until('the agent ready with its address', () => h.list()[0]?.agent === 'ready' && h.list()[0]?.ips.join() === '10.0.2.15');
    return h;
  }

  it('is asked again when the question timed out, even once the guest has its address', async () => {
    // CI once: a busy guest's first guest-get-osinfo timed out, and the line stayed unknown
    const h = await agentUp(() => writeFileSync(join(dir, 'osinfo-fails'), '2'));
    await until('the OS line', () => h.list()[0]?.guestOs != null, 8000);
    expect([h.list()[0]?.guestOs, calls('guest-get-osinfo')]).toEqual(['Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-28-cloud-amd64', 3]);
  });

  it('is left unknown, and not asked again, when the agent has no such command', async () => {
    const h = await agentUp(() => writeFileSync(join(dir, 'osinfo-unsupported'), ''));
    await until('the refused question', () => calls('guest-get-osinfo') === 1);
    await new Promise((r) => setTimeout(r, 2500));
    expect([h.list()[0]?.guestOs, calls('guest-get-osinfo'), pings()]).toEqual([null, 1, 1]);
  });
});


describe('a domain created while the list is read again', () => {
  it('stays: the list was taken before it existed', async () => {
    const bin = fakeVirsh();
    const h = new LibvirtHost({ name: 't', uri: 'qemu:///system', addedAt: '' }, { home: dir, virshBinary: bin, backoff: { baseMs: 50, maxMs: 100 } });
    host = h;
    await h.connectNow();
    await until('the domain', () => h.list()[0]?.state === 'running');
    // the full read lists d1 alone, then waits on d1's dominfo
    writeFileSync(join(dir, 'hold'), '');
    rmSync(join(dir, 'called'), { force: true });
    const reloading = h.reload();
    await until('the held read', () => existsSync(join(dir, 'called')));
    // meanwhile a create defines d2 and reads it, as host.create does
    const UUID2 = '7a2d2f1f-5b9f-4c9b-8b66-4c3d2e1f0a21';
    writeFileSync(join(dir, `dominfo-${UUID2}`), dominfo('shut off', 'd2', UUID2));
    appendFileSync(join(dir, 'uuids'), `${UUID2}\n`);
    await h.loadDomain(UUID2);
    rmSync(join(dir, 'hold'));
    await reloading;
    expect(h.list().map((v) => v.name).sort()).toEqual(['d1', 'd2']);
  });
});

describe('the stats tick', () => {
  it('asks virsh nothing while none of the host\'s domains runs, and asks once one does', async () => {
    const bin = fakeVirsh();
    writeFileSync(join(dir, 'dominfo'), dominfo('shut off'));
    const h = new LibvirtHost({ name: 't', uri: 'qemu:///system', addedAt: '' }, { home: dir, virshBinary: bin, backoff: { baseMs: 50, maxMs: 100 } });
    host = h;
    await h.connectNow();
    await until('the domain', () => h.list()[0]?.state === 'stopped');
    const domstats = (): number => (existsSync(join(dir, 'domstats-calls')) ? readFileSync(join(dir, 'domstats-calls'), 'utf8').split('\n').filter(Boolean).length : 0);
    expect(await h.statsAll()).toEqual(new Map());
    expect(domstats()).toBe(0);
    writeFileSync(join(dir, 'dominfo'), dominfo('running'));
    event('Started Booted');
    await until('the started event', () => h.list()[0]?.state === 'running');
    await h.statsAll();
    expect(domstats()).toBe(1);
  });
});
