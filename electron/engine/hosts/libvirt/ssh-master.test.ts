// The sweep of ssh master directories that a killed engine left behind: real directories and
// real unix sockets in a temp parent; a live master is stood in for by a listening socket.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sshBaseArgs, sweepStaleMasterDirs } from './ssh-master';

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
