// Check 21: `flotilla cp` survives its engine. A real engine process, a real built-in VM and the
// real CLI, with kill -9 at random moments:
// - the engine killed during a copy into the VM and a new one started: the same command carries
//   on (it waits for the engine, then resumes from the VM's part file) and the file in the VM is
//   byte for byte the source, with no part file left beside it;
// - the command itself killed: the next `flotilla cp` of the same file resumes the part it left;
// - the engine killed during a copy out of the VM: the command carries on and the file here is
//   byte for byte the guest's, with nothing half-written beside it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PART_SUFFIX } from '../../shared/file-transfer';
import { bundle, CLI_ENTRY } from '../integration/fixtures/bundle';
import { cleanupHome, makeHome } from '../integration/fixtures/engine-harness';
import { runCli, type CliRun } from './fixtures/cli-child';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(3, 10);
// three 4 MiB chunks (the last short), so kills land inside a chunk and between chunks
const FILE_MIB = 10;

describe('check 21: kill -9 during flotilla cp', () => {
  let home: string;
  let work: string;
  let cli: string;
  let engine: EngineChild | null = null;

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
    work = await mkdtemp(join(tmpdir(), 'flt-r21-'));
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  const copy = (...args: string[]): CliRun => runCli(cli, home, ['cp', ...args]);
  const guestSha = async (path: string): Promise<string> => {
    const conn = await EngineConn.open(home);
    try {
      const vm = await conn.call('vm.find', { nameOrId: 'files' });
      const r = await conn.call('vm.exec', { id: vm.id, command: ['sha256sum', '--', path] });
      return r.exitCode === 0 ? r.stdout.slice(0, 64) : `sha256sum failed: ${r.stderr}`;
    } finally {
      await conn.close();
    }
  };
  const guestDir = async (): Promise<string[]> => {
    const conn = await EngineConn.open(home);
    try {
      const vm = await conn.call('vm.find', { nameOrId: 'files' });
      return (await conn.call('vm.exec', { id: vm.id, command: ['ls', '-a', '/root'] })).stdout.split('\n').filter(Boolean);
    } finally {
      await conn.close();
    }
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  let tookOver = 0;
  /**
   * Starts the next engine after a kill. The waiting command becomes the engine itself when none
   * came back within RECONNECT_CLIENT_ONLY_MS (the product's own fallback, which a loaded CI box
   * reached once: the new engine then found it serving and came up as a client). Then the
   * command is let finish as the engine, and ours starts after it.
   */
  const restartEngine = async (run: CliRun): Promise<void> => {
    try {
      engine = await startEngineChild(home);
    } catch (err) {
      if (!/engine process said: ready client/.test(String(err))) throw err;
      tookOver++;
      await run.done;
      engine = await startEngineChild(home);
    }
  };

  it(`every copy completes byte for byte over ${TRIALS} engine kills per direction and a killed command`, async () => {
    const src = join(work, 'src.bin');
    const data = randomBytes(FILE_MIB << 20);
    await writeFile(src, data);
    const srcSha = createHash('sha256').update(data).digest('hex');

    engine = await startEngineChild(home);
    const conn = await EngineConn.open(home);
    const vm = await conn.call('vm.create', { config: { name: 'files', source: { kind: 'default' }, memoryMiB: 256 } });
    await conn.call('vm.start', { id: vm.id, waitAgent: true });
    await conn.close();

    // how long one copy in takes here and now, so the kills land inside it
    const t0 = Date.now();
    expect((await copy(src, 'files:/root/timing.bin').done).code).toBe(0);
    const copyMs = Date.now() - t0;

    let faults = 0;
    let lost = 0;
    let resumed = 0;
    let finishedFirst = 0;
    for (let t = 0; t < TRIALS; t++) {
      const dest = `/root/in-${t}.bin`;
      const run = copy(src, `files:${dest}`);
      await sleep(300 + Math.random() * copyMs * 0.7);
      await killEngineChild(engine);
      faults++;
      await restartEngine(run);
      const r = await run.done;
      expect(r, `trial ${t}: ${r.stderr}`).toMatchObject({ code: 0 });
      if (!r.stderr.includes('waiting for the engine to come back')) finishedFirst++;
      if (r.stderr.includes('resuming:')) resumed++;
      const sha = await guestSha(dest);
      if (sha !== srcSha) lost++;
      expect(sha, `trial ${t}: the file in the VM`).toBe(srcSha);
    }
    expect((await guestDir()).filter((f) => f.endsWith(PART_SUFFIX)), 'part files left in the VM').toEqual([]);

    // the command killed: its part stays in the VM, and the next cp of the same file resumes it
    const killed = copy(src, 'files:/root/again.bin');
    await sleep(copyMs * 0.5);
    process.kill(killed.pid, 'SIGKILL');
    faults++;
    await killed.done;
    expect((await guestDir()).includes(`again.bin${PART_SUFFIX}`)).toBe(true);
    const again = await copy(src, 'files:/root/again.bin').done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^resuming: \d+ of \d+ bytes are in files:\/root\/again\.bin\.flotilla-part already$/m);
    expect(await guestSha('/root/again.bin')).toBe(srcSha);

    // out of the VM
    const outDir = join(work, 'out');
    await rm(outDir, { recursive: true, force: true });
    await mkdir(outDir);
    for (let t = 0; t < TRIALS; t++) {
      const dest = join(outDir, `out-${t}.bin`);
      const run = copy('files:/root/in-0.bin', dest);
      await sleep(200 + Math.random() * copyMs * 0.25);
      await killEngineChild(engine);
      faults++;
      await restartEngine(run);
      const r = await run.done;
      expect(r, `out trial ${t}: ${r.stderr}`).toMatchObject({ code: 0 });
      const sha = createHash('sha256').update(await readFile(dest)).digest('hex');
      if (sha !== srcSha) lost++;
      expect(sha, `out trial ${t}`).toBe(srcSha);
    }
    expect((await readdir(outDir)).sort()).toEqual(Array.from({ length: TRIALS }, (_, t) => `out-${t}.bin`).sort());

    reportFigure({
      check: 21,
      title: 'kill -9 during flotilla cp',
      load: `${FILE_MIB} MiB in and out of a built-in VM, ${TRIALS} engine kills each way (${resumed} resumed from a part, ${finishedFirst} finished before the kill, ${tookOver} carried on as the engine itself), 1 command kill`,
      faults,
      badInputs: 0,
      lost,
    });
  });
});
