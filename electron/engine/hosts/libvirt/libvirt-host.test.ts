// The interleaving that made a stopped (or deleted) libvirt domain come back as running: a
// domain read (dominfo) begun before an event and answered after it. Real libvirt cannot be made
// to hold a read on demand, so `virsh` here is a small script: it answers from files, prints the
// event stream from a file, and holds dominfo (with what it read when called) while a hold file
// exists. The integration test (libvirt-host.itest.ts) runs the same paths against libvirtd.
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LibvirtHost } from './libvirt-host';

const UUID = '6f1c1e0e-4a8e-4b8a-9a55-3b2c1d0e9f10';
const NAME = 'd1';

const dominfo = (state: string) =>
  [`Id:             1`, `Name:           ${NAME}`, `UUID:           ${UUID}`, `OS Type:        hvm`, `State:          ${state}`, `CPU(s):         1`, `Max memory:     262144 KiB`, `Persistent:     yes`, ''].join('\n');

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
    now=$(cat "$D/dominfo")
    touch "$D/called"
    while [ -e "$D/hold" ]; do sleep 0.02; done
    printf '%s\\n' "$now"
    touch "$D/answered" ;;
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
