// Shared folders for a user other than root, as every desktop user runs Flotilla: the real CLI
// (its own engine), QEMU and virtiofsd all run as that user. Until 2026-12-06 this failed at
// every start (virtiofsd could neither drop its groups in `unshare --map-root-user`'s namespace
// nor create its lock file in /var/run/virtiofsd); virtiofsd.ts says how it runs now.
// - a read-write share: the guest reads the host's file, and what the guest's root writes is
//   the user's on the host; another guest user's file maps into the user's subordinate ids;
// - a read-only share of the same directory refuses the guest's write;
// - a user without subordinate ids is told what to install and configure.
// Run as root (CI), the checks run as the users scripts/test-users-setup.sh makes; run as another
// user, as that user (without the last check, which needs a second user), and skipped, saying why,
// when that user has no subordinate ids or no uidmap.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { makeHome } from './fixtures/engine-harness';

interface Account {
  name: string;
  uid: number;
  gid: number;
}

function account(name: string): Account | null {
  try {
    const [uid, gid] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, name], { encoding: 'utf8' }).trim()));
    return { name, uid: uid!, gid: gid! };
  } catch {
    return null;
  }
}

const asRoot = process.getuid?.() === 0;
const self: Account | null = asRoot ? null : { name: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(), uid: process.getuid!(), gid: process.getgid!() };
const shareUser = asRoot ? account('flotilla-share') : self;
const noSubIdsUser = asRoot ? account('flotilla-nosub') : null;
/** As another user: that user's subordinate ids, and the tools that apply them (what a share needs). */
function ownSubIdsMissing(): string | null {
  if (asRoot) return null;
  const lines = ['/etc/subuid', '/etc/subgid'].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '').split('\n'));
  const has = lines.every((ls) => ls.some((l) => l.startsWith(`${self!.name}:`) || l.startsWith(`${self!.uid}:`)));
  if (!existsSync('/usr/bin/newuidmap') || !has) return `${self!.name} needs the package uidmap and a block in /etc/subuid and /etc/subgid`;
  return null;
}
const why = !shareUser ? 'run as root, this needs the user flotilla-share (bash scripts/test-users-setup.sh)' : ownSubIdsMissing();
if (why) console.log(`[shares-user] skipped: ${why}`);

/** Live processes whose command line serves a vhost-user socket under `home` (virtiofsd and its sandbox). */
function helpersUnder(home: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`--socket-path=${home}/`) && !/\) Z /.test(readFileSync(`/proc/${e}/stat`, 'utf8'))) pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

/** The first block of `name`'s subordinate ids in /etc/subuid, or null. */
async function subUidStart(name: string): Promise<number | null> {
  const line = (await readFile('/etc/subuid', 'utf8').catch(() => '')).split('\n').find((l) => l.startsWith(`${name}:`));
  return line ? Number(line.split(':')[1]) : null;
}

describe.skipIf(why !== null)('shared folders as a user other than root', () => {
  const homes: string[] = [];
  const running: { cli: string; home: string; who: Account; vm: string }[] = [];

  /** The real CLI as `who`, with its own FLOTILLA_HOME. */
  const flotilla = (cli: string, home: string, who: Account, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' };
    const [file, argv] = asRoot
      ? ['setpriv', ['--reuid', String(who.uid), '--regid', String(who.gid), '--init-groups', '--', process.execPath, cli, ...args]]
      : [process.execPath, [cli, ...args]];
    return new Promise((resolve) => {
      const child = spawn(file, argv as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      child.once('exit', (code) => resolve({ code, out, err }));
    });
  };

  /** A FLOTILLA_HOME with the guest and a copy of the CLI, and a directory to share, all the user's. */
  async function setUp(who: Account): Promise<{ home: string; cli: string; dir: string }> {
    const home = await makeHome();
    homes.push(home);
    const cli = join(home, 'flotilla.js');
    await copyFile(await bundle(CLI_ENTRY), cli);
    const dir = join(home, 'shared');
    await mkdir(dir);
    await writeFile(join(dir, 'greeting.txt'), 'hello from the host\n');
    if (asRoot) {
      execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, home]);
      await chmod(home, 0o700);
    }
    return { home, cli, dir };
  }

  beforeAll(async () => {
    await bundle(CLI_ENTRY);
  });
  afterAll(async () => {
    for (const r of running) await flotilla(r.cli, r.home, r.who, 'stop', r.vm, '--force');
    for (const h of homes) await rm(h, { recursive: true, force: true });
  });

  it('serves a read-write and a read-only share, the guest root writing as the user', async () => {
    const who = shareUser!;
    const { home, cli, dir } = await setUp(who);
    const made = await flotilla(cli, home, who, 'create', 'mine', '--memory', '256', '--share', `${dir}:data`, '--share', `${dir}:frozen:ro`, '--start');
    expect(made, made.err).toMatchObject({ code: 0 });
    running.push({ cli, home, who, vm: 'mine' });

    const script = [
      'cat /mnt/data/greeting.txt',
      'echo from the guest > /mnt/data/written.txt && echo wrote',
      'mkdir /mnt/data/theirs && chown 1000:1000 /mnt/data/theirs && echo chowned',
      'if echo no > /mnt/frozen/refused.txt; then echo ro-wrote; else echo ro-refused; fi',
    ].join('; ');
    const r = await flotilla(cli, home, who, 'exec', 'mine', '--', 'sh', '-c', script);
    expect(r.out.split('\n')).toEqual(['hello from the host', 'wrote', 'chowned', 'ro-refused', '']);

    expect(await readFile(join(dir, 'written.txt'), 'utf8')).toBe('from the guest\n');
    const written = await stat(join(dir, 'written.txt'));
    expect([written.uid, written.gid]).toEqual([who.uid, who.gid]);
    const sub = await subUidStart(who.name);
    if (sub !== null) expect((await stat(join(dir, 'theirs'))).uid).toBe(sub + 999);
    await expect(stat(join(dir, 'refused.txt'))).rejects.toMatchObject({ code: 'ENOENT' });

    // nothing of it runs as root
    const pids = helpersUnder(home);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect((await stat(`/proc/${pid}`)).uid, `virtiofsd ${pid}`).not.toBe(0);
  });

  it.skipIf(!noSubIdsUser)('tells a user without subordinate ids what to set up', async () => {
    const who = noSubIdsUser!;
    const { home, cli, dir } = await setUp(who);
    const made = await flotilla(cli, home, who, 'create', 'nosub', '--memory', '256', '--share', `${dir}:data`, '--start');
    expect(made.code).not.toBe(0);
    expect(made.err).toMatch(/shared folder data .*uidmap.*\/etc\/subuid and \/etc\/subgid/);
    // the VM is there, stopped, and nothing of the share is left running
    const list = await flotilla(cli, home, who, 'list', '--json');
    expect((JSON.parse(list.out) as { name: string; state: string }[]).map((v) => [v.name, v.state])).toEqual([['nosub', 'stopped']]);
    expect(helpersUnder(home)).toEqual([]);
  });
});
