// libvirt hosts against a real libvirtd (qemu:///system) and the loopback sshd
// (qemu+ssh://root@127.0.0.1:2222/system) that scripts/libvirt-test-setup.sh starts: the
// built-in guest is created, started, exec'd, typed into (its console port, nothing lost while the
// reader stalls), stopped and deleted on both (paused and resumed, its clock set again, on the local one); a domain defined with plain virsh shows up from
// the event stream; a killed ssh master makes the host unreachable (VMs keep their state) and it
// reconnects.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { VmInfo } from '../../shared/contract';
import { vmConfigSchema } from '../../shared/spec';
import { sshArgs } from '../../electron/engine/builtin-vm';
import { LibvirtHost } from '../../electron/engine/hosts/libvirt/libvirt-host';
import { libvirtTestEnv } from './fixtures/libvirt-env';
import { decodePng } from './fixtures/png';
import { ensureTestGuest } from './fixtures/test-guest';

const env = libvirtTestEnv();
const sshUri = `${env.sshUri}?known_hosts=${env.knownHosts}`;
const hosts: LibvirtHost[] = [];
let guestHome = '';

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function connected(name: string, uri: string, identity?: string): Promise<LibvirtHost> {
  const h = new LibvirtHost({ name, uri, ...(identity ? { identity } : {}), addedAt: '' }, { home: guestHome, backoff: { baseMs: 200, maxMs: 1000 } });
  hosts.push(h);
  await h.connectNow();
  await until(`${name} to load its domains`, () => h.info().state === 'connected' && h.list());
  return h;
}

/** The first line a TCP server sends (an sshd's version banner). */
function tcpBanner(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let got = '';
    sock.setTimeout(20_000, () => {
      sock.destroy();
      reject(new Error(`no banner from ${host}:${port}`));
    });
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!got.includes('\n')) return;
      sock.destroy();
      resolve(got);
    });
    sock.on('error', reject);
  });
}

/** The first bytes a VNC server sends (its RFB version), read through the display proxy. */
function rfbBanner(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error('no RFB banner')), 20_000);
    ws.on('message', (data: Buffer) => {
      clearTimeout(timer);
      ws.close();
      resolve(data.toString('latin1'));
    });
    ws.on('error', reject);
  });
}

/** `virsh define` of a minimal domain, as a user would outside Flotilla (headless unless vnc). */
function virshDefinePlain(name: string, vnc = false): void {
  const dir = mkdtempSync(join(tmpdir(), 'lvt-'));
  const devices = vnc ? `<devices><graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices>` : '';
  try {
    writeFileSync(join(dir, 'd.xml'), `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>${devices}</domain>`);
    execFileSync('virsh', ['--connect', 'qemu:///system', 'define', join(dir, 'd.xml')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  guestHome = await ensureTestGuest();
});

afterAll(async () => {
  for (const h of hosts) await h.close();
  // the ssh state these test hosts left in the data directory (a removed host's goes with it)
  for (const h of hosts) rmSync(join(guestHome, 'libvirt', h.id), { recursive: true, force: true });
});

describe.each([
  ['local', 'qemu:///system', undefined],
  ['remote', sshUri, env.key],
] as const)('built-in guest on the %s libvirt host', (label, uri, identity) => {
  it('creates, starts, execs, shows its console, stops and deletes', async () => {
    const host = await connected(`t-${label}`, uri, identity);
    const name = `lvt-${label}-${randomBytes(3).toString('hex')}`;
    const config = vmConfigSchema.parse({ name, source: { kind: 'default' }, memoryMiB: 256, cpus: 1, display: 'vnc' });
    let vm: VmInfo = await host.create(config, { start: false });
    let failed: unknown = null;
    expect(vm.state).toBe('stopped');
    expect(host.list().map((v) => v.name)).toContain(name);
    try {
      await host.vm(vm.id).start({ waitAgent: true });
      vm = host.get(vm.id);
      expect(vm.state).toBe('running');
      await until('agent ready with an address', () => host.get(vm.id).agent === 'ready' && host.get(vm.id).ips.length > 0);
      // on libvirt's default network (NAT, with DHCP), as virt-manager puts a new domain: an
      // address the libvirt host reaches, here this computer (the "remote" one is loopback ssh)
      const ip = await until('a DHCP address', () => host.get(vm.id).ips.find((a) => a.startsWith('192.168.122.')), 60_000);
      expect(execFileSync('virsh', ['--connect', 'qemu:///system', 'domiflist', host.vm(vm.id).uuid], { encoding: 'utf8' })).toMatch(/\bnetwork +default\b/);
      expect(await tcpBanner(ip, 22)).toMatch(/^SSH-2\.0-/);
      // flotilla ssh: keys handed over with virsh set-user-sshkeys, the host key read through the
      // agent and checked strictly; a remote host's guest through that host (ssh -W there, its key
      // checked against the host connection's known_hosts), over the engine's master while it runs
      // and by itself without it (a command copied earlier, after the engine restarted)
      const ssh = await host.vm(vm.id).sshInfo();
      expect(ssh).toMatchObject({ host: ip, port: 22, user: 'root' });
      const hostname = (info: typeof ssh) => execFileSync('ssh', ['-o', 'BatchMode=yes', ...sshArgs(info, { command: ['cat', '/proc/sys/kernel/hostname'] })], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
      expect(hostname(ssh)).toBe(`${name}\n`);
      if (label === 'local') {
        expect(ssh.jump).toBeUndefined();
      } else {
        expect(ssh.jump).toMatchObject({ user: 'root', host: '127.0.0.1', port: 2222, knownHostsFile: env.knownHosts, identityFile: env.key, controlPath: expect.stringMatching(/\/ctl$/) });
        expect(hostname({ ...ssh, jump: { ...ssh.jump!, controlPath: null } })).toBe(`${name}\n`);
        // the host's key is checked: against a known_hosts without it, nothing connects
        const dir = mkdtempSync(join(tmpdir(), 'lvt-'));
        try {
          writeFileSync(join(dir, 'known_hosts'), '');
          expect(() => hostname({ ...ssh, jump: { ...ssh.jump!, controlPath: null, knownHostsFile: join(dir, 'known_hosts') } })).toThrow(/Host key verification failed/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      // what the guest runs, from its agent through libvirt: the built-in Linux names its kernel
      const release = (await host.vm(vm.id).exec(['uname', '-r'], { timeoutMs: 30_000 })).stdout.trim();
      expect(release).toMatch(/^\d+\.\d+/);
      await until('the guest OS line', () => host.get(vm.id).guestOs != null);
      expect(host.get(vm.id).guestOs).toBe(`kernel ${release}`);

      const r = await host.vm(vm.id).exec(['/bin/sh', '-c', 'echo out-$((6*7)); echo err >&2; exit 3'], { timeoutMs: 30_000 });
      expect(r).toMatchObject({ exitCode: 3, stdout: 'out-42\n', stderr: 'err\n' });
      // command input rides in virsh's command line, which holds 128 KiB an argument: 64 KiB goes,
      // more is refused in words (it used to fail as E2BIG from spawn)
      expect((await host.vm(vm.id).exec(['wc', '-c'], { stdin: Buffer.alloc(64 * 1024, 0x61), timeoutMs: 30_000 })).stdout.trim()).toBe(String(64 * 1024));
      await expect(host.vm(vm.id).exec(['wc', '-c'], { stdin: Buffer.alloc(100 * 1024, 0x61), timeoutMs: 30_000 })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: "a libvirt domain's command input goes through virsh's command line: at most 64 KiB (send a file with flotilla cp instead)",
      });

      // the console: the guest's console port (a virtio-serial channel, as on the local host)
      // through libvirt's channel stream, by the python3-libvirt helper. Typed again until the
      // computed value comes back: the guest may still be starting its relay.
      let seen = '';
      host.vm(vm.id).consoleSubscribe('test', (d) => (seen += d));
      const marker = `m${randomBytes(4).toString('hex')}`;
      await until('the console to run a typed command', async () => {
        host.vm(vm.id).consoleInput(`echo ${marker}-$((40+2))\r`);
        await new Promise((r) => setTimeout(r, 1000));
        return seen.includes(`${marker}-42`);
      }, 60_000);
      expect(host.vm(vm.id).consoleKind).toBe('port');
      // one relay on the port and no shell on hvc0, still seconds later (an older defect respawned
      // a shell every second while attached, and typed lines were split between them)
      const relays = await host.vm(vm.id).exec(['/bin/sh', '-c', 'sleep 3; for p in /proc/[0-9]*; do case "$(readlink $p/exe)" in */flotilla-relay) echo relay;; esac; [ "$(readlink $p/fd/0)" = /dev/hvc0 ] && echo hvc0; done; true'], { timeoutMs: 30_000 });
      expect(relays.stdout.trim().split('\n')).toEqual(['relay']);

      // nothing is lost while the reader stalls: 4 MiB written to the console while the helper is
      // stopped for 2 s all arrive (a virtio console drops what its host cannot take at once)
      const helper = (): number => Number(execFileSync('pgrep', ['-f', '-n', `${vm.id.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')} org\\.flotilla\\.console\\.0$`]).toString().trim());
      const pid = helper();
      const size = 4 * 1024 * 1024;
      const zs = () => seen.split('Z').length - 1;
      const before = zs();
      await host.vm(vm.id).exec(['/bin/sh', '-c', `(head -c ${size} /dev/zero | tr '\\0' Z > /dev/flotilla-console) >/dev/null 2>&1 &`], { timeoutMs: 30_000 });
      process.kill(pid, 'SIGSTOP');
      try {
        await new Promise((r) => setTimeout(r, 2000));
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await until('every byte written during the stall', () => zs() - before >= size, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(zs() - before).toBe(size);
      expect(helper()).toBe(pid);

      // the console stays attached with nobody watching: the port waits for a reader, and a shell
      // whose reader left would stall
      host.vm(vm.id).consoleUnsubscribe('test');
      expect(host.vm(vm.id).consoleKind).toBe('port');
      expect(helper()).toBe(pid);

      // the display through the same noVNC proxy as local VMs (over the ssh master when remote)
      const url = await host.vm(vm.id).displayUrl();
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/vnc\//);
      expect(await rfbBanner(url)).toMatch(/^RFB 003\.00\d\n$/);
      const shots: string[] = [];
      host.vm(vm.id).thumbnailSubscribe('test', (png) => shots.push(png));
      const shot = decodePng(Buffer.from(await until('a thumbnail', () => shots[0]), 'base64'));
      expect(shot.width).toBeGreaterThan(100);
      host.vm(vm.id).thumbnailUnsubscribe('test');

      const stats = await until('stats', async () => (await host.vm(vm.id).stats()) ?? undefined);
      expect(stats.rssBytes).toBeGreaterThan(0);
      // the sampler's tick: every running domain of the host from one domstats call
      const all = await host.statsAll();
      expect(all.get(vm.id)?.rssBytes).toBeGreaterThan(0);

      if (label === 'local') {
        // suspend and resume; the guest's clock stood still meanwhile, and the resume sets it (the
        // same virsh calls on either host: once is enough)
        await host.vm(vm.id).pause();
        expect(host.get(vm.id).state).toBe('paused');
        // a command meanwhile is refused at once, in a local VM's words
        await expect(host.vm(vm.id).exec(['/bin/true'], { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'INVALID_STATE', message: `${name} is paused: resume it first (its guest agent cannot answer)` });
        await new Promise((r) => setTimeout(r, 5000));
        await host.vm(vm.id).resume();
        expect(host.get(vm.id).state).toBe('running');
        const guestNow = Number((await host.vm(vm.id).exec(['/bin/date', '+%s'], { timeoutMs: 30_000 })).stdout.trim());
        expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(3);

        // libvirt's own snapshot API: internal snapshot with RAM, revert, delete
        expect(await host.vm(vm.id).snapshotCreate('s1', { diskOnly: false })).toMatchObject({ name: 's1', includesRam: true });
        expect((await host.vm(vm.id).snapshots()).map((x) => x.name)).toEqual(['s1']);
        await host.vm(vm.id).exec(['/bin/sh', '-c', 'echo after > /tmp/mark'], { timeoutMs: 30_000 });
        await host.vm(vm.id).snapshotRevert('s1');
        await until('agent after revert', async () => (await host.vm(vm.id).exec(['/bin/sh', '-c', 'cat /tmp/mark 2>/dev/null || echo none'], { timeoutMs: 10_000 })).stdout === 'none\n', 60_000);
        await host.vm(vm.id).snapshotDelete('s1');
        expect(await host.vm(vm.id).snapshots()).toEqual([]);
      }
      // a last line on the console before the stop (the 4 MiB above filled the scrollback)
      const lastLine = `k${randomBytes(4).toString('hex')}`;
      let tail = '';
      host.vm(vm.id).consoleSubscribe('last', (d) => (tail += d));
      await until('the last line', async () => {
        host.vm(vm.id).consoleInput(`echo ${lastLine}-$((40+2))\r`);
        await new Promise((r) => setTimeout(r, 1000));
        return tail.includes(`${lastLine}-42`);
      }, 60_000);
      host.vm(vm.id).consoleUnsubscribe('last');
      await host.vm(vm.id).stop({ force: false });
      vm = host.get(vm.id);
      expect(vm.state).toBe('stopped');

      // the console's scrollback is kept on this computer (0600) with the VM's other state, and an
      // engine started later begins with it: a tile shows the last screen at once, not a blank one
      // that waits for the guest's next output (local only: a second ssh master of the same host
      // name would share the first one's socket)
      const kept = join(guestHome, 'libvirt', host.id, vm.id, 'console.log');
      expect(statSync(kept).mode & 0o777).toBe(0o600);
      if (label === 'local') {
        const later = await connected(host.id, uri);
        try {
          expect(later.vm(vm.id).consoleSubscribe('t', () => undefined)).toContain(`${lastLine}-42`);
        } finally {
          hosts.splice(hosts.indexOf(later), 1);
          await later.close();
        }
      }

      if (label === 'local') {
        // a rename reaches the built-in guest's hostname (on its kernel command line) at the next
        // start; the domain stays the same VM throughout (libvirt's rename is an undefine and a
        // define), and its console, opened once, attaches again by itself
        const handle = host.vm(vm.id);
        await host.vm(vm.id).update({ name: `${name}-r` });
        expect(host.get(vm.id).name).toBe(`${name}-r`);
        expect(host.vm(vm.id)).toBe(handle);
        expect(execFileSync('virsh', ['--connect', 'qemu:///system', 'dumpxml', '--inactive', host.vm(vm.id).uuid], { encoding: 'utf8' })).toMatch(new RegExp(`<cmdline>[^<]* flotilla\\.name=${name}-r[ <]`));
        // started without waiting: the command waits for the agent of the booting guest, as a
        // local VM's does (it failed with virsh's "guest agent is not connected")
        await host.vm(vm.id).start({ waitAgent: false });
        expect(host.get(vm.id).agent).not.toBe('ready');
        expect((await host.vm(vm.id).exec(['/bin/cat', '/proc/sys/kernel/hostname'], { timeoutMs: 30_000 })).stdout).toBe(`${name}-r\n`);
        await until('the console to attach again', () => host.vm(vm.id).consoleKind === 'port', 30_000);
        await host.vm(vm.id).stop({ force: false });

        // a stop asked while the guest boots: libvirt's one shutdown request is lost (no acpid,
        // no agent yet), so it is asked again (at the latest when the agent answers) and the
        // guest powers off by itself; asked once, the domain was destroyed at the deadline
        await host.vm(vm.id).start({ waitAgent: false });
        await host.vm(vm.id).stop({ force: false });
        expect(execFileSync('virsh', ['--connect', 'qemu:///system', 'domstate', '--reason', host.vm(vm.id).uuid], { encoding: 'utf8' }).trim()).toBe('shut off (shutdown)');
      }
    } catch (err) {
      // a failure above must stay the reported one: the clean-up below may fail because of it
      failed = err;
      throw err;
    } finally {
      if (host.get(vm.id).state !== 'stopped') await host.vm(vm.id).stop({ force: true }).catch(() => undefined);
      await host.delete(vm.id, { storage: true }).catch((err: unknown) => {
        if (!failed) throw err;
      });
    }
    expect(host.find(name)).toBeUndefined();
    expect(existsSync(join(guestHome, 'libvirt', host.id, vm.id))).toBe(false);
    const vols = execFileSync('virsh', ['--connect', 'qemu:///system', 'vol-list', '--pool', 'flotilla'], { encoding: 'utf8' });
    expect(vols).not.toContain(name);
    expect(vols).toMatch(/default-vmlinuz-/); // the shared kernel stays for the next VM
  });
});

describe('domains made outside Flotilla', () => {
  it('a domain defined with plain virsh shows, from the event stream, and goes when undefined', async () => {
    const host = await connected('t-foreign', 'qemu:///system');
    const name = `lvt-plain-${randomBytes(3).toString('hex')}`;
    virshDefinePlain(name);
    virshDefinePlain(`${name}-vnc`, true);
    try {
      const vm = await until('the plain domain to show', () => host.list().find((v) => v.name === name), 30_000);
      expect(vm.state).toBe('stopped');
      expect((vm as VmInfo & { host: string }).host).toBe('t-foreign');
      // headless: its tile previews the console text; the one with VNC shows screenshots
      expect(vm.hasDisplay).toBe(false);
      const withVnc = await until('the plain domain with VNC to show', () => host.list().find((v) => v.name === `${name}-vnc`), 30_000);
      expect(withVnc.hasDisplay).toBe(true);
    } finally {
      execFileSync('virsh', ['--connect', 'qemu:///system', 'undefine', name]);
      execFileSync('virsh', ['--connect', 'qemu:///system', 'undefine', `${name}-vnc`]);
    }
    await until('the plain domain to go', () => !host.list().some((v) => v.name === name), 30_000);
  });

  it('a domain with no OS and no console: its console says it has none; the stop it ignores shows its countdown, and Force now ends it', async () => {
    // the plain domain has no OS: nothing in it takes the ACPI button or runs an agent
    const host = await connected('t-ignores', 'qemu:///system');
    const name = `lvt-deaf-${randomBytes(3).toString('hex')}`;
    virshDefinePlain(name);
    try {
      const vm = await until('the plain domain to show', () => host.list().find((v) => v.name === name), 30_000);
      await host.vm(vm.id).start({ waitAgent: false });
      // and no serial port or console: its console says so in words (libvirt: "cannot find
      // character device <null>")
      let text = host.vm(vm.id).consoleSubscribe('t', (d) => (text += d));
      await until('the console to say there is none', () => text.includes('[flotilla: this domain has no serial port or console to show here'), 30_000);
      host.vm(vm.id).consoleUnsubscribe('t');
      const asked = Date.now();
      const graceful = host.vm(vm.id).stop({ force: false });
      const stopping = await until('the stopping state with its deadline', () => {
        const v = host.get(vm.id);
        return v.state === 'stopping' && v.stopDeadline ? v : undefined;
      }, 30_000);
      expect(Date.parse(stopping.stopDeadline!)).toBeGreaterThanOrEqual(asked + 30_000 - 1000);
      expect(stopping.reason).toMatch(/graceful stop requested/);
      await host.vm(vm.id).stop({ force: true });
      await graceful;
      expect(host.get(vm.id)).toMatchObject({ state: 'stopped', stopDeadline: null });
    } finally {
      try {
        execFileSync('virsh', ['--connect', 'qemu:///system', 'destroy', name], { stdio: 'ignore' });
      } catch {
        // it is off already (the test's own force stop)
      }
      execFileSync('virsh', ['--connect', 'qemu:///system', 'undefine', name]);
    }
  });

  it('its name, vCPUs and memory change while it is shut off, its note and autostart at any time, with libvirt\'s own commands', async () => {
    const host = await connected('t-edit', 'qemu:///system');
    const name = `lvt-edit-${randomBytes(3).toString('hex')}`;
    const renamed = `${name}-b`;
    const virsh = (...a: string[]) => execFileSync('virsh', ['--connect', 'qemu:///system', ...a], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
    virshDefinePlain(name);
    const vm = await until('the plain domain to show', () => host.list().find((v) => v.name === name), 30_000);
    const uuid = virsh('domuuid', name).trim();
    try {
      expect(vm).toMatchObject({ caps: { edit: true, forwards: false }, settings: { editable: ['name', 'cpus', 'memoryMiB', 'note', 'autostart'], live: ['note', 'autostart'] } });
      expect(vm.spec).toMatchObject({ cpus: 1, memoryMiB: 64, note: '', autostart: false });
      // a form sends what it shows: unchanged values are no change
      await host.vm(vm.id).update({ name: renamed, cpus: 2, memoryMiB: 128, note: 'build <box> & "cache"\nsecond line', autostart: true });
      expect(host.get(vm.id)).toMatchObject({ name: renamed, spec: { name: renamed, cpus: 2, memoryMiB: 128, note: 'build <box> & "cache"\nsecond line', autostart: true } });
      // libvirt holds it (virt-manager and Cockpit show the same)
      const info = virsh('dominfo', uuid);
      expect(info).toMatch(new RegExp(`^Name: +${renamed}$`, 'm'));
      expect(info).toMatch(/^CPU\(s\): +2$/m);
      expect(info).toMatch(/^Max memory: +131072 KiB$/m);
      expect(info).toMatch(/^Autostart: +enable$/m);
      expect(virsh('desc', uuid)).toBe('build <box> & "cache"\nsecond line\n');
      // what libvirt cannot take from Flotilla: refused, naming what to use
      await expect(host.vm(vm.id).update({ display: 'vnc' })).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringContaining("not its display: use virsh edit for that") });

      // running: the note and autostart change, the hardware waits
      virsh('start', uuid);
      await until('it to run', () => host.get(vm.id).state === 'running', 30_000);
      await host.vm(vm.id).update({ note: 'running now', autostart: false, cpus: 2, memoryMiB: 128 });
      expect(host.get(vm.id).spec).toMatchObject({ note: 'running now', autostart: false });
      expect(virsh('desc', uuid)).toBe('running now\n');
      expect(virsh('desc', uuid, '--config')).toBe('running now\n');
      await expect(host.vm(vm.id).update({ cpus: 1 })).rejects.toMatchObject({ code: 'INVALID_STATE', message: `stop ${renamed} before changing its CPUs (it is running); its note and autostart can change while it runs` });
      await expect(host.vm(vm.id).update({ name: 'other' })).rejects.toMatchObject({ code: 'INVALID_STATE' });
      expect(virsh('dominfo', uuid)).toMatch(/^CPU\(s\): +2$/m);
    } finally {
      try {
        virsh('destroy', uuid);
      } catch {
        /* not running */
      }
      virsh('undefine', uuid);
    }
  });
});

describe('the ssh connection', () => {
  it('a killed ssh master makes the host unreachable (VMs keep their state) and it reconnects', async () => {
    const host = await connected('t-drop', sshUri, env.key);
    const name = `lvt-drop-${randomBytes(3).toString('hex')}`;
    virshDefinePlain(name);
    try {
      const vm = await until('the domain over ssh', () => host.list().find((v) => v.name === name), 30_000);
      const pid = host.conn.master?.pid;
      expect(pid).toBeGreaterThan(0);
      process.kill(pid!, 'SIGKILL');
      await until('the host to be unreachable', () => host.info().state === 'failed', 30_000);
      const during = host.get(vm.id);
      expect(during.state).toBe('stopped'); // its last known state, not a made-up one
      expect(during.reason).toMatch(/unreachable/);
      await until('the host to reconnect', () => host.info().state === 'connected' && host.conn.master?.pid !== pid, 60_000);
      expect(host.get(vm.id).reason).not.toMatch(/unreachable/);
    } finally {
      execFileSync('virsh', ['--connect', 'qemu:///system', 'undefine', name]);
    }
  });
});

describe('other sources on the host', () => {
  it('a kernel and initrd that are on the host boot with the agent', async () => {
    const host = await connected('t-kernel', 'qemu:///system');
    const g = join(guestHome, 'images', 'default');
    const manifest = JSON.parse(readFileSync(join(g, 'manifest.json'), 'utf8')) as { cmdline: string };
    const name = `lvt-kernel-${randomBytes(3).toString('hex')}`;
    const config = vmConfigSchema.parse({ name, source: { kind: 'kernel', kernel: join(g, 'vmlinuz'), initrd: join(g, 'initrd.img'), append: manifest.cmdline }, memoryMiB: 256 });
    const vm = await host.create(config, { start: false });
    try {
      expect(vm.spec.source).toMatchObject({ kind: 'kernel', kernel: join(g, 'vmlinuz') });
      await host.vm(vm.id).start({ waitAgent: true });
      expect(host.get(vm.id)).toMatchObject({ state: 'running', agent: 'ready' });
      // a domain with a console device and no console port (a kernel of the user's, or a built-in
      // VM made before the port): the helper opens the console device, what `virsh console` would,
      // and the guest's shell is on hvc0, one of it
      let seen = '';
      host.vm(vm.id).consoleSubscribe('test', (d) => (seen += d));
      await until('the hvc0 console to run a typed command', async () => {
        host.vm(vm.id).consoleInput('echo hv-$((40+2))\r');
        await new Promise((r) => setTimeout(r, 1000));
        return seen.includes('hv-42');
      }, 60_000);
      expect(host.vm(vm.id).consoleKind).toBe('console');
      host.vm(vm.id).consoleUnsubscribe('test');
      const readers = await host.vm(vm.id).exec(['/bin/sh', '-c', 'sleep 3; for p in /proc/[0-9]*; do [ "$(readlink $p/fd/0)" = /dev/hvc0 ] && echo $p; done; true'], { timeoutMs: 30_000 });
      expect(readers.stdout.trim().split('\n')).toHaveLength(1);
    } finally {
      await host.vm(vm.id).stop({ force: true });
      await host.delete(vm.id, { storage: false });
    }
    // the user's kernel is referenced in place, never deleted with the domain
    expect(readFileSync(join(g, 'vmlinuz')).length).toBeGreaterThan(0);
  });
});
