// The sweep of ssh master directories that a killed engine left behind: real directories and
// real unix sockets in a temp parent; a live master is stood in for by a listening socket.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SshMaster, sshBaseArgs, sweepStaleMasterDirs } from './ssh-master';

let parent = '';
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  if (parent) rmSync(parent, { recursive: true, force: true });
});

function oldDir(name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const age = (dir: string, minutes: number) => utimesSync(dir, new Date(Date.now() - minutes * 60_000), new Date(Date.now() - minutes * 60_000));

describe('sweepStaleMasterDirs', () => {
  it('removes old directories where no master answers, and keeps live, young and foreign ones', async () => {
    parent = mkdtempSync(join(tmpdir(), 'flt-sweep-'));
    // a dead master: its control socket is there, and nothing listens (a process that bound and
    // listened on it, then was killed with -9, as a master dies with its engine)
    const dead = oldDir('flt-ssh-dead01');
    spawnSync('python3', ['-c', 'import os, socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); os.kill(os.getpid(), 9)', join(dead, 'ctl')]);
    expect(existsSync(join(dead, 'ctl'))).toBe(true);
    // a master killed before its socket was made
    const empty = oldDir('flt-ssh-empty1');
    // a live master (another engine's)
    const live = oldDir('flt-ssh-live01');
    const s2 = createServer();
    servers.push(s2);
    await new Promise<void>((r) => s2.listen(join(live, 'ctl'), r));
    // one being made right now, and something else of the same age
    const young = oldDir('flt-ssh-young1');
    const other = oldDir('flt-bundle-xyz');
    for (const d of [dead, empty, live, other]) age(d, 30);
    age(young, 1);

    expect(await sweepStaleMasterDirs(parent)).toBe(2);
    expect([dead, empty, live, young, other].map((d) => existsSync(d))).toEqual([false, false, true, true, true]);
  });
});

describe('sshBaseArgs', () => {
  it('quotes a known_hosts path with a space, which ssh would otherwise split into two files', () => {
    // checked with the real ssh against the loopback sshd: unquoted, "Host key verification failed"
    const args = sshBaseArgs({ user: 'ann', host: 'lab', port: 22, knownHosts: '/home/Ann Lee/.ssh/known_hosts' }, '/tmp/flt-ssh-x/ctl');
    expect(args).toContain('UserKnownHostsFile="/home/Ann Lee/.ssh/known_hosts"');
    expect(sshBaseArgs({ user: 'ann', host: 'lab', port: 22, knownHosts: '/kh' }, '/c')).toContain('UserKnownHostsFile=/kh');
    // the control socket lives in TMPDIR, which may have one too
    expect(sshBaseArgs({ user: 'ann', host: 'lab', port: 22, knownHosts: '/kh' }, '/tmp/my tmp/flt-ssh-x/ctl')).toContain('ControlPath="/tmp/my tmp/flt-ssh-x/ctl"');
  });
});

describe('forwardLibvirt (which daemon socket: no remote command, a virsh call through each)', () => {
  /** An ssh that stands in for OpenSSH: the master waits; -O check, forward and cancel succeed and are logged. */
  function fakeSsh(): { bin: string; log: () => string[] } {
    const bin = join(parent, 'ssh');
    const log = join(parent, 'ssh.log');
    writeFileSync(
      bin,
      `#!/bin/bash
for a in "$@"; do
  case "$a" in
    -M) exec sleep 300 ;;
    -O) o=1 ;;
    *) [ -n "$o" ] && { echo "$*" >> '${log}'; exit 0; } ;;
  esac
done
echo "remote command: $*" >> '${log}'
exit 1
`,
    );
    chmodSync(bin, 0o755);
    return { bin, log: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
  }
  const opsOf = (lines: string[]) => lines.filter((l) => !/ -O check /.test(l)).map((l) => /-O (\w+) -L \S+:(\S+)|(remote command)/.exec(l)!.slice(1).filter(Boolean).join(' '));

  it('takes the first socket that answers; one that does not is cancelled', async () => {
    parent = mkdtempSync(join(tmpdir(), 'flt-fwd-'));
    const ssh = fakeSsh();
    const m = new SshMaster({ user: 'root', host: 'h', port: 22 }, { sshBinary: ssh.bin, parentDir: parent });
    await m.start();
    try {
      const tried: string[] = [];
      await m.forwardLibvirt(async (socket) => {
        tried.push(socket);
        if (tried.length === 1) throw new Error('error: End of file while reading data: Input/output error');
      });
      expect(m.libvirtSocket).toBe(join(parent, m.controlPath.split('/').at(-2)!, 'libvirt.sock'));
      expect(tried).toEqual([m.libvirtSocket, m.libvirtSocket]);
      expect(opsOf(ssh.log())).toEqual(['forward /var/run/libvirt/libvirt-sock', 'cancel /var/run/libvirt/libvirt-sock', 'forward /var/run/libvirt/virtqemud-sock']);
    } finally {
      await m.stop();
    }
  });

  it('none answers: says what to check, with what the first said, and the master goes', async () => {
    parent = mkdtempSync(join(tmpdir(), 'flt-fwd-'));
    const ssh = fakeSsh();
    const m = new SshMaster({ user: 'root', host: 'h', port: 22 }, { sshBinary: ssh.bin, parentDir: parent });
    await m.start();
    const pid = m.pid!;
    await expect(m.forwardLibvirt(async () => Promise.reject(new Error('error: failed to connect to the hypervisor\nmore')))).rejects.toMatchObject({
      code: 'DISCONNECTED',
      message: 'no libvirt daemon answers on h (tried /var/run/libvirt/libvirt-sock, /var/run/libvirt/virtqemud-sock): is libvirt installed and running there? (error: failed to connect to the hypervisor)',
      details: { reason: 'no-libvirtd' },
    });
    expect(m.pid).toBeNull();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(opsOf(ssh.log())).not.toContain('remote command');
  });
});
