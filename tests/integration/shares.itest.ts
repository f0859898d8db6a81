// Issue 12 point 6, shared folders against real QEMU, real virtiofsd and the built-in Linux:
// created with `flotilla create --share`, mounted at /mnt/TAG at boot; host ↔ guest files both
// ways; a read-only share refuses a write even after the guest remounts it rw (enforced on the
// host); a symlink in the share to a host file does not give the guest that file; bad inputs
// are refused with a clear error and change nothing; kill -9 of the engine → the next engine
// adopts the same virtiofsd (not a second one) and the share still works; a killed virtiofsd is
// reported; a stop (forced or graceful) leaves no helper and no socket behind, and the next
// start serves the shares again.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShareInfo, VmInfo } from '../../shared/contract';
import type { Engine } from '../../electron/engine/engine';
import { openEngine, type OpenedEngine } from '../../electron/engine/open-engine';
import { bundle, CLI_ENTRY, ENGINE_PROCESS_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, processesUsing, run, runLeftovers, TestClient } from './fixtures/engine-harness';

function startEngineProcess(script: string, home: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, home], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) {
        if (out.startsWith('ready engine')) resolve(child);
        else reject(new Error(`engine process said: ${out}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`engine process exited with ${code}`)));
  });
}

/**
 * Live virtiofsd processes serving a socket under `home`, each counted once: its sandbox is a
 * child it forks into new namespaces (same command line), left out here.
 */
async function virtiofsdsOf(home: string): Promise<number[]> {
  const found = new Map<number, number>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const exe = await readlink(`/proc/${e}/exe`);
      const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8');
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      if (exe.includes('virtiofsd') && cmd.includes(`--socket-path=${home}`) && !/\) Z /.test(stat)) found.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return [...found].filter(([, ppid]) => !found.has(ppid)).map(([pid]) => pid).sort((a, b) => a - b);
}

describe('shared folders', () => {
  let home: string;
  let dirs: string;
  let first: ChildProcess | null = null;
  let client: OpenedEngine | null = null;
  let second: OpenedEngine | null = null;
  let cli: string;

  beforeAll(async () => {
    home = await makeHome();
    dirs = await mkdtemp(join(tmpdir(), 'flt-shares-'));
    cli = await bundle(CLI_ENTRY);
  }, 600_000);

  afterAll(async () => {
    first?.kill('SIGKILL');
    await client?.close();
    await second?.close();
    for (const pid of await virtiofsdsOf(home)) process.kill(pid, 'SIGKILL');
    await cleanupHome(home);
    await rm(dirs, { recursive: true, force: true });
  });

  const flotilla = (...args: string[]) => run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: home }, timeoutMs: 300_000 });

  it('serves host directories to the built-in Linux, read-only on the host side, supervised across an engine kill -9', async () => {
    const rw = join(dirs, 'work');
    const ro = join(dirs, 'docs');
    await mkdir(rw);
    await mkdir(ro);
    await writeFile(join(rw, 'hello.txt'), 'from the host\n');
    await writeFile(join(ro, 'readme.txt'), 'read me\n');
    // a link to a host file outside the share, absolute and relative
    await symlink('/etc/hostname', join(rw, 'abs-escape'));
    await symlink('../../../../../../../../etc/hostname', join(rw, 'rel-escape'));
    const hostHostname = await readFile('/etc/hostname', 'utf8');
    await writeFile(join(dirs, 'plain-file'), 'x');

    first = await startEngineProcess(await bundle(ENGINE_PROCESS_ENTRY), home);
    const made = await flotilla('create', 'sh1', '--share', `${rw}:work`, '--share', `${ro}:ro`, '--memory', '256', '--json');
    expect(made.code, made.stderr).toBe(0);
    const vm0 = JSON.parse(made.stdout) as VmInfo;
    // `:ro` alone marks read-only; the tag then defaults to the directory's name
    expect(vm0.spec.shares).toEqual([
      { tag: 'work', hostPath: rw, readOnly: false },
      { tag: 'docs', hostPath: ro, readOnly: true },
    ]);

    // bad inputs: each a clear error naming what to fix, and nothing changes
    const bad: [string[], RegExp][] = [
      [['share', 'add', 'sh1', join(dirs, 'missing')], /missing does not exist/],
      [['share', 'add', 'sh1', join(dirs, 'plain-file')], /plain-file is not a directory/],
      [['share', 'add', 'sh1', '/'], /sharing \/ .*is not allowed/],
      [['share', 'add', 'sh1', `${dirs}/work/../../..`], /sharing \/ .*is not allowed|is not allowed/],
      [['share', 'add', 'sh1', dirs, '--tag', 'Bad Tag'], /share tag/],
      [['share', 'add', 'sh1', dirs, '--tag', 'work'], /already has a shared folder tagged work/],
      [['create', 'sh2', '--share', `${join(dirs, 'missing')}:m`], /missing does not exist/],
    ];
    for (const [args, message] of bad) {
      const r = await flotilla(...args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    const listed = await flotilla('share', 'list', 'sh1', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as ShareInfo[]).map((s) => [s.tag, s.hostPath, s.readOnly, s.state, s.guestPath])).toEqual([
      ['work', rw, false, 'inactive', '/mnt/work'],
      ['docs', ro, true, 'inactive', '/mnt/docs'],
    ]);
    expect((await flotilla('list', '--json')).stdout).not.toContain('"sh2"');

    // add and remove on the stopped VM
    const added = await flotilla('share', 'add', 'sh1', dirs, '--tag', 'extra', '--read-only');
    expect(added.code, added.stderr).toBe(0);
    expect((await flotilla('share', 'rm', 'sh1', 'extra')).code).toBe(0);

    client = await openEngine({ home, shell: 'cli' });
    const ctx = { clientId: 'shares-test', emit: () => undefined, onClose: () => undefined };
    const call = client.handler.handle.bind(client.handler);
    const id = vm0.id;
    await call('vm.start', { id, waitAgent: true }, ctx);
    const sh = async (c: OpenedEngine, script: string) => c.handler.handle('vm.exec', { id, command: ['/bin/sh', '-c', script], timeoutMs: 60_000 }, ctx);

    // host → guest, guest → host
    expect((await sh(client, 'cat /mnt/work/hello.txt')).stdout).toBe('from the host\n');
    expect((await sh(client, 'echo from the guest > /mnt/work/guest.txt && sync')).exitCode).toBe(0);
    expect(await readFile(join(rw, 'guest.txt'), 'utf8')).toBe('from the guest\n');

    // read-only: a write fails, and so does one after the guest remounts the share read-write
    expect((await sh(client, 'cat /mnt/docs/readme.txt')).stdout).toBe('read me\n');
    expect((await sh(client, 'echo x > /mnt/docs/w1.txt')).exitCode).not.toBe(0);
    const remount = await sh(client, 'mount -o remount,rw /mnt/docs; echo y > /mnt/docs/w2.txt');
    expect(remount.exitCode).not.toBe(0);
    expect(remount.stderr).toMatch(/Read-only file system/);
    expect((await readdir(ro)).sort()).toEqual(['readme.txt']);

    // a link to a host file does not reach it: the guest resolves it in its own tree
    for (const link of ['abs-escape', 'rel-escape']) {
      const r = await sh(client, `cat /mnt/work/${link} 2>&1; true`);
      expect(r.stdout.trim()).not.toBe(hostHostname.trim());
    }
    // nor does `..` at the share's root lead back onto the host
    expect((await sh(client, 'ls -a /mnt/work/.. | tr "\\n" " "')).stdout).toContain('work');

    // a full snapshot is refused, offering --disk-only; a running VM refuses share changes
    await expect(call('snapshot.create', { id, name: 'full', diskOnly: false }, ctx)).rejects.toMatchObject({ code: 'UNSUPPORTED', details: { diskOnly: true }, message: expect.stringMatching(/shared folders.*--disk-only/) });
    await expect(call('share.add', { id, hostPath: dirs, readOnly: false }, ctx)).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/takes a stop/) });

    const before = await call('share.list', { id }, ctx);
    expect(before.map((s) => s.state)).toEqual(['running', 'running']);
    const helperPids = before.map((s) => s.pid!).sort((a, b) => a - b);
    expect(await virtiofsdsOf(home)).toEqual(helperPids);
    await client.close();
    client = null;

    // kill -9 of the engine; the next one adopts the same helpers and the share still works
    first.kill('SIGKILL');
    await new Promise((r) => first!.once('exit', r));
    first = null;
    second = await openEngine({ home, shell: 'serve', engine: { accel: 'tcg', stopDeadlineMs: 8000 } });
    expect(second.role).toBe('engine');
    const t = new TestClient(second.engine as Engine);
    const after = await t.call('share.list', { id });
    expect(after.map((s) => [s.state, s.pid])).toEqual(before.map((s) => ['running', s.pid]));
    expect(await virtiofsdsOf(home)).toEqual(helperPids);
    expect((await sh(second, 'echo again > /mnt/work/again.txt && cat /mnt/work/hello.txt')).stdout).toBe('from the host\n');
    expect(await readFile(join(rw, 'again.txt'), 'utf8')).toBe('again\n');

    // a helper's death is reported in ShareInfo and in the lifecycle log
    const docs = after.find((s) => s.tag === 'docs')!;
    process.kill(docs.pid!, 'SIGKILL');
    let dead: ShareInfo | undefined;
    let logText = '';
    for (let i = 0; i < 100; i++) {
      dead = (await t.call('share.list', { id })).find((s) => s.tag === 'docs');
      logText = (await t.call('vm.logs', { id, tail: 200 })).entries.map((e) => e.text).join('\n');
      if (dead?.state === 'dead' && /share docs: its virtiofsd/.test(logText)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(dead).toMatchObject({ state: 'dead', pid: null, reason: expect.stringMatching(/virtiofsd \(pid \d+\) died/) });
    expect(logText).toMatch(/share docs: its virtiofsd \(pid \d+\) died/);
    // the other share is untouched
    expect((await t.call('share.list', { id })).find((s) => s.tag === 'work')).toMatchObject({ state: 'running' });

    // a stop ends the other helper and leaves no socket
    await t.call('vm.stop', { id, force: true });
    for (let i = 0; i < 50 && (await virtiofsdsOf(home)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await virtiofsdsOf(home)).toEqual([]);
    expect((await t.call('share.list', { id })).map((s) => s.state)).toEqual(['inactive', 'inactive']);

    // the next start serves both again (fresh helpers), and a graceful stop ends them too
    await t.call('vm.start', { id, waitAgent: true });
    expect((await sh(second, 'cat /mnt/docs/readme.txt /mnt/work/again.txt')).stdout).toBe('read me\nagain\n');
    expect((await t.call('share.list', { id })).map((s) => s.state)).toEqual(['running', 'running']);
    await t.call('vm.stop', { id });
    for (let i = 0; i < 50 && (await virtiofsdsOf(home)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await virtiofsdsOf(home)).toEqual([]);
    t.close();

    // a helper no record names (an engine killed between its spawn and the record write) is
    // found by its socket in the VM's run dir and ended by the next engine
    const stray = spawn('/usr/lib/qemu/virtiofsd', [`--socket-path=${join(home, 'run', id, 'fs7.sock')}`, '-o', `source=${rw}`, '-o', 'sandbox=namespace'], { detached: true, stdio: 'ignore' });
    stray.unref();
    for (let i = 0; i < 50 && (await virtiofsdsOf(home)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await virtiofsdsOf(home)).toEqual([stray.pid]);
    await second.close();
    second = await openEngine({ home, shell: 'serve', engine: { accel: 'tcg', stopDeadlineMs: 8000 } });
    expect(second.role).toBe('engine');
    for (let i = 0; i < 50 && (await virtiofsdsOf(home)).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await virtiofsdsOf(home)).toEqual([]);
    expect(await processesUsing(home)).toEqual([]);
    expect((await runLeftovers(home)).filter((f) => f.endsWith('.sock'))).toEqual([]);
  }, 900_000);
});
