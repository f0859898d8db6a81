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
import { execFileSync } from 'node:child_process';
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
});
