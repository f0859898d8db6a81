// The embedded default guest, end to end: build it from Debian packages into a fresh
// FLOTILLA_HOME, boot it with a plain QEMU command line (TCG) and use it the way a user and the
// engine do: serial console, guest agent, a forwarded port, clean power-off both ways.
import { createServer, type Socket } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDefaultGuest, readDefaultGuest, type GuestManifest } from './build-default';
import { GuestAgentProbe } from './guest-agent-probe';
import { connectWhenReady, launchGuest, type LaunchedGuest } from './guest-launcher';
import { guestHostname } from './boot-profile';
import { UART_SOCK } from '../paths';

// one deb cache for every test run on this machine, so only the first run downloads
const debCache = process.env.FLOTILLA_DEB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'flotilla', 'debs');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Collects a socket's text and lets a test wait for a pattern in it. */
function transcript(sock: Socket) {
  let text = '';
  const waiters: (() => void)[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    text += d;
    for (const w of waiters.splice(0)) w();
  });
  return {
    write: (data: string) => sock.write(data),
    get text() {
      return text;
    },
    async waitFor(re: RegExp, from = 0): Promise<RegExpMatchArray> {
      while (true) {
        const m = text.slice(from).match(re);
        if (m) return m;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

/** Minimal QMP: greeting, capabilities, one command. */
async function qmpCommand(path: string, execute: string): Promise<void> {
  const sock = await connectWhenReady(path);
  const t = transcript(sock);
  await t.waitFor(/"QMP"/);
  sock.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
  await t.waitFor(/"return"/);
  const mark = t.text.length;
  sock.write(JSON.stringify({ execute }) + '\n');
  await t.waitFor(/"return"/, mark);
  sock.end();
}

describe('default guest', () => {
  let home: string;
  let manifest: GuestManifest;
  let dir: string;
  const guests: LaunchedGuest[] = [];

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'flotilla-home-'));
    ({ dir, manifest } = await buildDefaultGuest({ home, cacheDir: debCache }));
  });

  afterAll(async () => {
    for (const g of guests) await g.dispose();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('is built from Debian packages with a manifest that names them', async () => {
    const state = await readDefaultGuest(home);
    expect(state.ready).toBe(true);
    expect(state.dir).toBe(dir);
    const names = manifest.packages.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['busybox-static', 'qemu-guest-agent', 'libc6', 'libglib2.0-0', 'linux-image-cloud-amd64']));
    // the console relay is compiled from assets/guest/relay.c: socat and its TLS/Kerberos libraries stay out
    expect(names.filter((n) => /^(socat|libssl|libkrb5|libwrap|libnsl)/.test(n))).toEqual([]);
    // the console is a throttled virtio-serial port relayed to a pty (never dropped); the kernel log stays on the UART
    expect(manifest.console).toBe('vport');
    expect(manifest.cmdline.split(' ').filter((a) => a.startsWith('console='))).toEqual(['console=ttyS0']);
    expect(names.some((n) => /^linux-image-6\.\d+\.\d+-\d+-cloud-amd64$/.test(n))).toBe(true);
    expect(manifest.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    // virtio_ring must be loaded before virtio, virtio before its drivers
    const order = manifest.modules;
    expect(order.indexOf('virtio_ring')).toBeLessThan(order.indexOf('virtio'));
    expect(order.indexOf('virtio')).toBeLessThan(order.indexOf('virtio_console'));
    expect(order.indexOf('failover')).toBeLessThan(order.indexOf('virtio_net'));
    const onDisk = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as GuestManifest;
    expect(onDisk).toEqual(manifest);
  });

  it('boots: readiness line, agent, uname, shell, port forward, guest-shutdown', async () => {
    const hostPort = await freePort();
    const name = 'itest vm_1';
    const g = await launchGuest({ dir, name, forwards: [{ host: hostPort, guest: 8080 }] });
    guests.push(g);
    const serial = transcript(await connectWhenReady(g.serialSock));
    const agent = await GuestAgentProbe.connect((await connectWhenReady(g.agentSock).then((s) => s.destroy()), g.agentSock));

    // the console shell's first line: the guest's name and kernel, in words
    const ready = await serial.waitFor(/(\S+): Flotilla built-in Linux, kernel (\S+)\r?\n/);
    expect(ready[1]).toBe(guestHostname(name));
    expect(ready[2]).toBe(manifest.kernelVersion);

    await agent.sync(60_000);
    expect(await agent.call('guest-ping')).toEqual({});

    const uname = await agent.exec('uname', ['-r']);
    expect(uname.exitcode).toBe(0);
    expect(uname.stdout.trim()).toBe(manifest.kernelVersion);

    // the console (the relayed port) is an interactive root shell on a pty, its controlling terminal
    await serial.waitFor(/:~# /);
    const mark = serial.text.length;
    serial.write('echo flotilla-$((6*7)) as $(id -un) on $(tty)\n');
    await serial.waitFor(/flotilla-42 as root on \/dev\/pts\/\d+/, mark);
    // ^C reaches the foreground job through the pty (its controlling terminal); without that the
    // shell would sit in `sleep 3600` past the test timeout. Sent once the sleep runs: a ^C that
    // the shell itself takes between commands proves nothing
    serial.write('sleep 3600\n');
    while ((await agent.exec('pidof', ['sleep'])).exitcode !== 0) await new Promise((r) => setTimeout(r, 100));
    serial.write('\x03');
    const cmark = serial.text.length;
    serial.write('echo after-$((6*7))-interrupt\n');
    await serial.waitFor(/after-42-interrupt\r?\n/, cmark);

    // and so is the UART, ttyS0, on its own socket
    const uart = transcript(await connectWhenReady(join(g.runDir, UART_SOCK)));
    uart.write('\n');
    await uart.waitFor(/:~# /);
    const umark = uart.text.length;
    uart.write('echo uart-$((6*7)) on $(tty)\n');
    await uart.waitFor(/uart-42 on \/dev\/ttyS0/, umark);

    // a server started in the guest by the agent answers through the forward
    const started = await agent.exec('/bin/sh', ['-c', 'mkdir -p /tmp/www && echo served-by-guest > /tmp/www/index.html && httpd -p 8080 -h /tmp/www']);
    expect(started.exitcode).toBe(0);
    const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`);
    expect(await res.text()).toBe('served-by-guest\n');

    agent.shutdown();
    const code = await Promise.race([g.exited, new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
    expect(code).toBe(0);
    agent.close();
  });

  it('powers off cleanly on the ACPI power button (QMP system_powerdown)', async () => {
    const g = await launchGuest({ dir, name: 'powerdown' });
    guests.push(g);
    const serial = transcript(await connectWhenReady(g.serialSock));
    const uart = transcript(await connectWhenReady(join(g.runDir, UART_SOCK)));
    await serial.waitFor(/: Flotilla built-in Linux, kernel /);
    await qmpCommand(g.qmpSock, 'system_powerdown');
    const code = await Promise.race([g.exited, new Promise((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
    expect(code).toBe(0);
    // busybox init's shutdown action ran (/sbin/flotilla-halt: processes ended, disks synced and
    // unmounted) and powered off at once, without init's fixed waits; it writes to /dev/console, the UART
    expect(uart.text).toMatch(/flotilla-halt: processes ended within \d+ ms; syncing and unmounting the disks\r?\n(.*\n)*flotilla-halt: poweroff/);
  });

  it('builds byte-identical initrd.img again from the same packages', async () => {
    const again = await buildDefaultGuest({ home, cacheDir: debCache, outDir: join(home, 'images', 'default-again') });
    const a = await readFile(join(dir, 'initrd.img'));
    const b = await readFile(join(again.dir, 'initrd.img'));
    expect(b.equals(a)).toBe(true);
    expect(again.manifest).toEqual(manifest);
  });
});
