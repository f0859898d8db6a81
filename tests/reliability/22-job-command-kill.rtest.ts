// Check 22: `flotilla export`, `import`, `clone` and `snapshot create` survive their engine. The real CLI, a client
// of a real engine process, with the engine killed (kill -9) at a random moment of each job and a
// new one started: the same command carries on (it waits for the engine, sees whether the job had
// finished, else runs it again) and exits 0, and what it made is whole:
// - export: the archive verifies (every checksum), with no partial file beside it;
// - import and clone: the new VM is listed once, its disk passes qemu-img check, and a full
//   clone's disk holds the source's data;
// - the source VM's disk is unchanged;
// - snapshot create of a running VM (QEMU finishes a save the killed engine began): the snapshot
//   is listed once, and the VM runs on.
// - snapshot revert, snapshot rm and disk resize of a stopped VM, killed while their qemu-img
//   runs: that qemu-img outlives the engine and holds the disk's lock until it is done, and the
//   next engine runs the command's second try only after it (leftover-image-jobs.ts). To be
//   sure the kill lands inside it (it takes milliseconds), the qemu-img is caught in /proc and
//   stopped (SIGSTOP) before the kill, and let go once the next engine is up.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArchive } from '../../electron/engine/lifecycle/archive';
import { bundle, CLI_ENTRY } from '../integration/fixtures/bundle';
import { cleanupHome, makeHome, run } from '../integration/fixtures/engine-harness';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { runCli, type CliRun } from './fixtures/cli-child';
import { randomDataDisk, sha256File } from './fixtures/data-disk';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(2, 8);
const DATA_MIB = 128;

/** Whether two disk images hold the same guest-visible bytes (their layouts may differ). */
function sameData(a: string, b: string): boolean {
  try {
    execFileSync('qemu-img', ['compare', '-U', a, b], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The qemu-img processes now running that change a file in `dir` (snapshot or resize; not the engine's reads). */
function qemuImgsIn(dir: string, skip: ReadonlySet<string>): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (skip.has(e) || !/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('qemu-img') && ['snapshot', 'resize'].includes(args[1] ?? '') && args.some((a) => a.startsWith(`${dir}/`))) found.push(Number(e));
    } catch {
      // gone
    }
  }
  return found;
}

/** Whether the process holds a lock on a file in `dir` (qemu-img's image lock, OFD locks shown in fdinfo). */
function locksIn(pid: number, dir: string): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(`${dir}/`) && /^lock:/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * Catches the first qemu-img changing a file in `dir` that starts before `over` settles, once it
 * holds the image's lock, and stops it there (SIGSTOP). Null when it finished first (reading its
 * /proc entry then throws).
 */
async function stopFirstQemuImg(dir: string, over: Promise<unknown>): Promise<number | null> {
  let done = false;
  void over.then(() => (done = true));
  const before = new Set(readdirSync('/proc'));
  while (!done) {
    const [pid] = qemuImgsIn(dir, before);
    if (pid !== undefined) {
      try {
        // a tight loop: the image is locked within milliseconds of the exec
        for (const until = Date.now() + 5000; !locksIn(pid, dir); ) if (Date.now() > until) throw new Error('never locked');
        process.kill(pid, 'SIGSTOP');
        return pid;
      } catch {
        return null; // it finished first
      }
    }
    await new Promise((r) => setImmediate(r));
  }
  return null;
}

describe('check 22: kill -9 of the engine under flotilla export, import and clone', () => {
  let home: string;
  let work: string;
  let cli: string;
  let engine: EngineChild | null = null;

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
    work = await mkdtemp(join(tmpdir(), 'flt-r22-'));
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  const flotilla = (...args: string[]): CliRun => runCli(cli, home, args);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it(`each command completes whole over ${TRIALS} engine kills per job`, async () => {
    const seed = await randomDataDisk(work, DATA_MIB);

    engine = await startEngineChild(home);
    const conn = await EngineConn.open(home);
    const src = await conn.call('vm.create', { config: { name: 'src', source: { kind: 'disk', path: seed, mode: 'copy' }, memoryMiB: 64 } });
    const srcDisk = join(home, 'vms', src.id, 'disk.qcow2');
    const srcSum = await sha256File(srcDisk);
    const archive = join(work, 'src.flotilla');
    await conn.call('vm.export', { id: src.id, path: archive });
    await conn.close();

    const vmsNamed = async (name: string) => {
      const c = await EngineConn.open(home);
      try {
        return (await c.call('vm.list', {})).filter((v) => v.name === name);
      } finally {
        await c.close();
      }
    };
    const madeVmIsWhole = async (name: string, label: string): Promise<void> => {
      const vms = await vmsNamed(name);
      expect(vms.map((v) => v.name), `${label}: listed once`).toEqual([name]);
      const disk = join(home, 'vms', vms[0]!.id, 'disk.qcow2');
      const c = await run('qemu-img', ['check', disk]);
      expect(c.code, `${label}: ${c.stdout}${c.stderr}`).toBe(0);
      expect(sameData(seed, disk), `${label}: the disk holds the source's data`).toBe(true);
    };
    const jobs: Record<string, { args: (t: number) => string[]; whole: (t: number, label: string) => Promise<void> }> = {
      export: {
        args: (t) => ['export', 'src', join(work, `out-${t}.flotilla`)],
        whole: async (t, label) => {
          const check = await mkdtemp(join(work, 'verify-'));
          await readArchive(join(work, `out-${t}.flotilla`), { extractTo: check }); // throws unless complete and intact
          expect(sameData(seed, join(check, 'disk.qcow2')), `${label}: the archive's disk holds the source's data`).toBe(true);
          await rm(check, { recursive: true });
          expect((await readdir(work)).filter((n) => n.includes('flotilla-partial')), `${label}: partial archive left`).toEqual([]);
        },
      },
      import: { args: (t) => ['import', archive, '--name', `imp-${t}`], whole: (t, label) => madeVmIsWhole(`imp-${t}`, label) },
      clone: { args: (t) => ['clone', 'src', `cl-${t}`], whole: (t, label) => madeVmIsWhole(`cl-${t}`, label) },
    };

    let faults = 0;
    const problems: string[] = [];
    const outcomes: Record<string, { ranAgain: number; finishedFirst: number; beforeTheKill: number }> = {};
    for (const [name, job] of Object.entries(jobs)) {
      outcomes[name] = { ranAgain: 0, finishedFirst: 0, beforeTheKill: 0 };
      // how long this job takes here and now, from its first progress line, so the kills land inside it
      const timing = flotilla(...job.args(TRIALS));
      await timing.begun;
      const t0 = Date.now();
      expect((await timing.done).code).toBe(0);
      const jobMs = Date.now() - t0;
      for (let t = 0; t < TRIALS; t++) {
        const label = `${name} trial ${t}`;
        const cmd = flotilla(...job.args(t));
        await cmd.begun;
        await sleep(Math.random() * jobMs * 0.8);
        await killEngineChild(engine);
        faults++;
        engine = await startEngineChild(home);
        const r = await cmd.done;
        expect(r, `${label}: ${r.stderr}`).toMatchObject({ code: 0 });
        const o = outcomes[name]!;
        if (!r.stderr.includes('waiting for the engine to come back')) o.beforeTheKill++;
        else if (r.stderr.includes('starting it again')) o.ranAgain++;
        else o.finishedFirst++;
        // what was made, and the source, checked after every trial; the figure counts each loss
        await job.whole(t, label).catch((err: Error) => problems.push(err.message));
        if ((await sha256File(srcDisk)) !== srcSum) problems.push(`${label}: the source disk changed`);
      }
    }
    console.log(`[reliability] check 22 outcomes: ${JSON.stringify(outcomes)}`);
    reportFigure({ check: 22, title: 'kill -9 engine under flotilla export, import and clone', load: `${DATA_MIB} MiB disk, ${TRIALS} kills per command`, faults, badInputs: 0, lost: problems.length });
    expect(problems).toEqual([]);
  });
  it(`snapshot create of a running VM completes once over ${TRIALS * 2} engine kills`, async () => {
    engine ??= await startEngineChild(home);
    const conn = await EngineConn.open(home);
    const vm = await conn.call('vm.create', { config: { name: 'snappy', source: { kind: 'default' }, memoryMiB: 256 } });
    await conn.call('vm.start', { id: vm.id, waitAgent: true });
    // memory the save has to write, so that it takes a while
    await conn.call('vm.exec', { id: vm.id, command: ['sh', '-c', 'head -c 120000000 /dev/urandom > /dev/shm/fill'] });
    await conn.close();
    const t0 = Date.now();
    const timing = await flotilla('snapshot', 'create', 'snappy', 'timing').done;
    expect(timing.code, timing.stderr).toBe(0);
    const cmdMs = Date.now() - t0;
    let faults = 0;
    const problems: string[] = [];
    const outcomes = { waited: 0, finishedFirst: 0 };
    for (let t = 0; t < TRIALS * 2; t++) {
      const label = `snapshot trial ${t}`;
      const cmd = flotilla('snapshot', 'create', 'snappy', `s${t}`);
      // its first line, "saving snapshot …": the engine has begun
      await cmd.begun;
      await sleep(Math.random() * cmdMs * 0.5);
      await killEngineChild(engine);
      faults++;
      engine = await startEngineChild(home);
      const r = await cmd.done;
      expect(r, `${label}: ${r.stderr}`).toMatchObject({ code: 0 });
      outcomes[r.stderr.includes('waiting for the engine to come back') ? 'waited' : 'finishedFirst']++;
      const c = await EngineConn.open(home);
      try {
        const names = (await c.call('snapshot.list', { id: vm.id })).map((x) => x.name);
        if (names.filter((n) => n === `s${t}`).length !== 1) problems.push(`${label}: listed ${JSON.stringify(names)}`);
        // the new engine adopted the VM, which runs on (a save pauses it only while it writes)
        const now = await c.call('vm.get', { id: vm.id });
        if (now.state !== 'running') problems.push(`${label}: the VM is ${now.state}`);
      } finally {
        await c.close();
      }
    }
    console.log(`[reliability] check 22 snapshot outcomes: ${JSON.stringify(outcomes)} (one took ${cmdMs} ms)`);
    reportFigure({ check: 22, title: 'kill -9 engine under flotilla snapshot create', load: `a running 256 MiB VM, ${TRIALS * 2} kills`, faults, badInputs: 0, lost: problems.length });
    expect(problems).toEqual([]);
  });
  it('snapshot revert, snapshot rm and disk resize of a stopped VM complete when the engine dies under their qemu-img', async () => {
    engine ??= await startEngineChild(home);
    const GiB = 2 ** 30;
    const seed = await randomDataDisk(await mkdtemp(join(work, 'still-')), 64);
    const conn = await EngineConn.open(home);
    const vm = await conn.call('vm.create', { config: { name: 'still', source: { kind: 'disk', path: seed, mode: 'copy' }, memoryMiB: 64 } });
    const dir = join(home, 'vms', vm.id);
    const disk = join(dir, 'disk.qcow2');
    await conn.call('snapshot.create', { id: vm.id, name: 'base' });
    await conn.close();
    const snapshots = async (): Promise<string[]> => {
      const c = await EngineConn.open(home);
      try {
        return (await c.call('snapshot.list', { id: vm.id })).map((x) => x.name);
      } finally {
        await c.close();
      }
    };
    const virtualSize = (): number => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', disk], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size'];

    let faults = 0;
    let caught = 0;
    const problems: string[] = [];
    const trials: Record<string, { before: (t: number) => Promise<void>; args: (t: number) => string[]; whole: (t: number, label: string) => Promise<void> }> = {
      revert: {
        // the disk written over after the snapshot, so that a revert has something to undo
        before: async () => void execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 4M', disk], { stdio: 'ignore' }),
        args: () => ['snapshot', 'revert', 'still', 'base'],
        whole: async (_t, label) => {
          if (!sameData(seed, disk)) problems.push(`${label}: the disk does not hold the snapshot's data`);
        },
      },
      rm: {
        before: async (t) => {
          const c = await EngineConn.open(home);
          await c.call('snapshot.create', { id: vm.id, name: `gone-${t}` }).finally(() => c.close());
        },
        args: (t) => ['snapshot', 'rm', 'still', `gone-${t}`],
        whole: async (t, label) => {
          const names = await snapshots();
          if (names.includes(`gone-${t}`) || !names.includes('base')) problems.push(`${label}: listed ${JSON.stringify(names)}`);
        },
      },
      resize: {
        before: async () => undefined,
        args: (t) => ['disk', 'resize', 'still', String(t + 1)],
        whole: async (t, label) => {
          if (virtualSize() !== (t + 1) * GiB) problems.push(`${label}: the disk is ${virtualSize()} bytes`);
          if (!sameData(seed, disk)) problems.push(`${label}: the disk's data changed`);
        },
      },
    };
    const outcomes: Record<string, { caught: number; missed: number }> = {};
    for (const [name, job] of Object.entries(trials)) {
      const o = (outcomes[name] = { caught: 0, missed: 0 });
      // a trial counts once the kill landed inside the qemu-img; a try whose qemu-img finished too fast is not one
      for (let tries = 0; o.caught < TRIALS && tries < TRIALS * 5; tries++) {
        const label = `${name} try ${tries}`;
        await job.before(tries);
        const cmd = flotilla(...job.args(tries));
        const pid = await stopFirstQemuImg(dir, cmd.done);
        if (pid === null) {
          const r = await cmd.done;
          expect(r, `${label}: ${r.stderr}`).toMatchObject({ code: 0 });
          o.missed++;
          continue;
        }
        await killEngineChild(engine);
        faults++;
        engine = await startEngineChild(home);
        // the command is back and tries again (or has found the job done) while the old qemu-img
        // still holds the disk; a second try the engine ran at once would be refused by the lock
        await cmd.said(/flotilla: (the|doing the) /);
        await sleep(500);
        process.kill(pid, 'SIGCONT');
        const r = await cmd.done;
        expect(r, `${label}: ${r.stderr}`).toMatchObject({ code: 0 });
        expect(r.stderr, label).toContain('waiting for the engine to come back');
        o.caught++;
        caught++;
        await job.whole(tries, label);
        const check = await run('qemu-img', ['check', disk]);
        if (check.code !== 0) problems.push(`${label}: qemu-img check: ${check.stdout}${check.stderr}`);
      }
      expect(o.caught, `${name}: no kill landed inside its qemu-img (${JSON.stringify(o)})`).toBeGreaterThan(0);
    }
    console.log(`[reliability] check 22 stopped-VM outcomes: ${JSON.stringify(outcomes)}`);
    reportFigure({ check: 22, title: 'kill -9 engine under a stopped VM\'s snapshot revert, rm and disk resize', load: `${caught} kills inside qemu-img`, faults, badInputs: 0, lost: problems.length });
    expect(problems).toEqual([]);
  });
});
