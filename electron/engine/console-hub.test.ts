import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CappedLog } from './capped-log';
import { bootLabel, ConsoleHub } from './console-hub';

// QEMU's side of the serial chardev: a unix socket server that accepts one client at a time.
function fakeSerial(path: string): Promise<{ server: Server; next: () => Promise<Socket> }> {
  const waiting: ((s: Socket) => void)[] = [];
  const queued: Socket[] = [];
  const server = createServer((s) => {
    const w = waiting.shift();
    if (w) w(s);
    else queued.push(s);
  });
  return new Promise((resolve) =>
    server.listen(path, () =>
      resolve({ server, next: () => (queued.length ? Promise.resolve(queued.shift()!) : new Promise((r) => waiting.push(r))) }),
    ),
  );
}

const until = async (pred: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(pred()).toBe(true);
};

// a virtio console's socket is read on the reader thread, a throttled one (port, UART) on the main thread
describe.each([
  { link: 'reader thread', dropsWhenSlow: true },
  { link: 'main thread', dropsWhenSlow: false },
])('ConsoleHub, socket read on the $link', ({ dropsWhenSlow }) => {
  let dir: string;
  let hub: ConsoleHub;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-'));
  });
  afterEach(async () => {
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fans out decoded text to every subscriber, keeps multibyte characters whole, and logs', async () => {
    const sock = join(dir, 'ser.sock');
    const { server, next } = await fakeSerial(sock);
    hub = new ConsoleHub({ sockPath: sock, logFile: join(dir, 'logs', 'serial.log'), scrollbackBytes: 1024 });
    hub.attach({ dropsWhenSlow });
    const qemu = await next();
    const a: string[] = [];
    const b: string[] = [];
    hub.subscribe('a', (d) => a.push(d));
    hub.subscribe('b', (d) => b.push(d));
    const euro = Buffer.from('€'); // 3 bytes, sent split across two writes
    qemu.write(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 2)]));
    await until(() => a.join('') === 'price: ');
    qemu.write(Buffer.concat([euro.subarray(2), Buffer.from('5\n')]));
    await until(() => a.join('') === 'price: €5\n');
    expect(b.join('')).toBe('price: €5\n');
    expect(hub.scrollback()).toBe('price: €5\n');
    await hub.close();
    expect(await readFile(join(dir, 'logs', 'serial.log'), 'utf8')).toBe('price: €5\n');
    server.close();
  });

  it('puts a dim line between the output of one boot and the next, only when there is earlier output', async () => {
    const sock = join(dir, 'ser.sock');
    const { server, next } = await fakeSerial(sock);
    const log = join(dir, 'logs', 'serial.log');
    hub = new ConsoleHub({ sockPath: sock, logFile: log, scrollbackBytes: 1024 });
    const seen: string[] = [];
    hub.subscribe('a', (d) => seen.push(d));
    hub.separateBoot('-- web started 2026-12-06 04:01:22 --');
    expect(hub.scrollback()).toBe('');
    hub.attach({ dropsWhenSlow });
    const qemu = await next();
    // the first boot ends mid-character (a killed guest), at a prompt
    qemu.write(Buffer.concat([Buffer.from('web:~# '), Buffer.from('€').subarray(0, 1)]));
    await until(() => seen.join('') === 'web:~# ');
    hub.separateBoot('-- web started 2026-12-06 04:01:22 --');
    qemu.write('booting\n');
    // a later engine (empty scrollback) still separates the next boot in the log the last one wrote to
    const later = (): ConsoleHub => new ConsoleHub({ sockPath: join(dir, 'none.sock'), logFile: log, scrollbackBytes: 1024 });
    const line = '\r\n\x1b[2m-- web started 2026-12-06 04:01:22 --\x1b[0m\r\n';
    await until(() => seen.join('').endsWith('booting\n'));
    expect(seen.join('')).toBe(`web:~# \ufffd${line}booting\n`);
    expect(hub.scrollback()).toContain(`web:~# `);
    expect(hub.scrollback()).toContain(`${line}booting\n`);
    await hub.close();
    expect(await readFile(log, 'utf8')).toContain(`${line}booting\n`);
    hub = later();
    hub.separateBoot('-- web started 2026-12-06 05:00:00 --');
    await hub.close();
    expect((await readFile(log, 'utf8')).endsWith('booting\n\r\n\x1b[2m-- web started 2026-12-06 05:00:00 --\x1b[0m\r\n')).toBe(true);
    server.close();
  });

  it('writes input to QEMU (also while connecting), bounds scrollback, and reconnects when the socket comes back', async () => {
    const sock = join(dir, 'ser.sock');
    const { server, next } = await fakeSerial(sock);
    hub = new ConsoleHub({ sockPath: sock, logFile: join(dir, 'serial.log'), scrollbackBytes: 16, retryMs: 20 });
    expect(hub.write('x')).toBe(false);
    hub.attach({ dropsWhenSlow });
    // typed while the reader thread is still connecting: it waits and goes out on connect
    expect(hub.write('early\n')).toBe(true);
    const qemu = await next();
    await until(() => hub.connected);
    let got = '';
    qemu.on('data', (d) => (got += d.toString()));
    expect(hub.write('ls\n')).toBe(true);
    await until(() => got === 'early\nls\n');
    qemu.write('0123456789abcdefXYZ');
    await until(() => hub.scrollback().endsWith('XYZ'));
    expect(hub.scrollback()).toBe('3456789abcdefXYZ');
    qemu.destroy();
    const again = await next();
    again.write('back');
    await until(() => hub.scrollback().endsWith('back'));
    server.close();
  });

  it('a subscriber joining mid-stream sees scrollback then live output with no gap and no repeat', async () => {
    const sock = join(dir, 'ser.sock');
    const { server, next } = await fakeSerial(sock);
    // join from inside socket reads, right after the hub took each read in: some of them arrive
    // mid-burst, with bytes read but not yet fanned out, the moment a join could repeat or lose text
    const late: { scrollback: string; live: string[] }[] = [];
    let reads = 0;
    const onRead = (): void => {
      reads++;
      const l = { scrollback: '', live: [] as string[] };
      l.scrollback = hub.subscribe(`late-${reads}`, (d) => l.live.push(d));
      late.push(l);
    };
    hub = new ConsoleHub({ sockPath: sock, logFile: join(dir, 'serial.log'), scrollbackBytes: 1024 * 1024, onRead });
    hub.attach({ dropsWhenSlow });
    const qemu = await next();
    const early: string[] = [];
    hub.subscribe('early', (d) => early.push(d));
    // bursts bigger than one socket read (64 KiB), so a window gathers several reads and the
    // last, partial one waits to be gathered; late subscribers join on every read
    const lines = Array.from({ length: 24000 }, (_, i) => `line ${String(i).padStart(8, '0')}\n`);
    const all = lines.join('');
    const bursts = Array.from({ length: 4 }, (_, b) => lines.slice(b * 6000, (b + 1) * 6000).join(''));
    for (const burst of bursts) {
      qemu.write(burst);
      await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => early.join('') === all);
    const text = (l: { scrollback: string; live: string[] }) => l.scrollback + l.live.join('');
    await until(() => late.every((l) => text(l).length >= all.length));
    expect(late.length).toBeGreaterThan(4);
    // the scrollback holds everything so far, so scrollback + live must be the whole stream exactly
    for (const l of late) expect(text(l)).toBe(all);
    await hub.close();
    expect(await readFile(join(dir, 'serial.log'), 'utf8')).toBe(all);
    server.close();
  });

  it('sends the first output after a quiet moment at once and gathers what follows into one event', async () => {
    const sock = join(dir, 'ser.sock');
    const { server, next } = await fakeSerial(sock);
    // a wide window, so the test can tell "at once" from "at the window's end" without timing anything tightly
    hub = new ConsoleHub({ sockPath: sock, logFile: join(dir, 'serial.log'), coalesceMs: 1500 });
    hub.attach({ dropsWhenSlow });
    const qemu = await next();
    const events: string[] = [];
    hub.subscribe('a', (d) => events.push(d));
    const t0 = performance.now();
    qemu.write('$ ');
    await until(() => events.length === 1);
    // the typed-echo case: it did not wait for the window (half of it is a wide margin for a loaded box)
    expect(performance.now() - t0).toBeLessThan(750);
    expect(events).toEqual(['$ ']);
    for (const part of ['one ', 'two ', 'three']) {
      qemu.write(part);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(events).toEqual(['$ ']);
    await until(() => events.length === 2);
    expect(events[1]).toBe('one two three');
    // a window with nothing in it closes the stream: the next output is again sent at once
    await new Promise((r) => setTimeout(r, 1700));
    qemu.write('\n');
    await until(() => events.length === 3);
    expect(events[2]).toBe('\n');
    expect(hub.scrollback()).toBe('$ one two three\n');
    server.close();
  });

  it('restores the scrollback from the serial log (an adopting engine), from a line start, once', async () => {
    const logFile = join(dir, 'logs', 'serial.log');
    const before = new ConsoleHub({ sockPath: join(dir, 'none.sock'), logFile, scrollbackBytes: 64 });
    // what an earlier engine logged: more than the scrollback holds
    const earlier = new CappedLog(logFile);
    for (let i = 0; i < 20; i++) earlier.write(`boot line ${i}\n`);
    earlier.write('vm:~# ');
    await earlier.close();
    before.restoreFromLog();
    const restored = before.scrollback();
    expect(restored.length).toBeLessThanOrEqual(64);
    expect(restored).toMatch(/^boot line \d+\n/);
    expect(restored.endsWith('boot line 19\nvm:~# ')).toBe(true);
    // a second call (or one after live output) does not add it again
    before.restoreFromLog();
    expect(before.scrollback()).toBe(restored);
    await before.close();
    // a VM with no log yet starts empty
    hub = new ConsoleHub({ sockPath: join(dir, 'none.sock'), logFile: join(dir, 'other', 'serial.log') });
    hub.restoreFromLog();
    expect(hub.scrollback()).toBe('');
  });
});

describe('bootLabel', () => {
  it('names the VM and the local time, to the second', () => {
    expect(bootLabel('web', new Date(2026, 11, 6, 4, 1, 22))).toBe('-- web started 2026-12-06 04:01:22 --');
    expect(bootLabel('db', new Date(2027, 0, 2, 13, 5, 9))).toBe('-- db started 2027-01-02 13:05:09 --');
  });
});
