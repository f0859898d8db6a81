// Check 19 (issue 12): kill -9 the engine (a real engine process) at a random moment during each
// long VM job: export, import, full clone and linked clone, and during a disk add and a disk
// remove (short, but two steps each: the spec and the file). After the next engine starts:
// - no half-made VM is visible (every listed VM is complete: its disks pass qemu-img check), and
//   no staging directory is left in vms/;
// - no half-written archive is visible: the destination is absent or a complete, verifiable
//   archive; no partial file next to it, no journal record left;
// - the source VM is intact (its disk's sha256 is unchanged and qemu-img check is clean);
// - a disk add or remove either happened or did not: every disk the spec names is there and whole,
//   no other added disk is left in the VM's directory, and no file of a half-done one;
// - no qemu-img outlives the killed engine.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { readArchive } from '../../electron/engine/lifecycle/archive';
import { cleanupHome, makeHome, run } from '../integration/fixtures/engine-harness';
import { EngineConn, killEngineChild, startEngineChild, type EngineChild } from './fixtures/engine-child';
import { randomDataDisk, sha256File } from './fixtures/data-disk';
import { reportFigure, scale } from './fixtures/figures';

const TRIALS = scale(3, 10);
const DATA_MIB = 160;

/** qemu-img processes whose command line names `home` (an orphan would keep writing there) */
async function qemuImgsUsing(home: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    const st = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
    if (cmd.includes('qemu-img') && cmd.includes(home) && !/\) Z /.test(st)) out.push(Number(e));
  }
  return out;
}

describe('check 19: kill -9 of the engine during export, import, clone and disk add/rm', () => {
  let home: string;
  let work: string;
  let engine: EngineChild | null = null;
  beforeAll(async () => {
    home = await makeHome(false);
    work = await mkdtemp(join(tmpdir(), 'flt-r19-'));
  });
  afterAll(async () => {
    if (engine) await killEngineChild(engine);
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  it(`nothing half-made and the source intact, over ${TRIALS} kills per job`, async () => {
    const seed = await randomDataDisk(work, DATA_MIB);

    engine = await startEngineChild(home);
    let conn = await EngineConn.open(home);
    const src = await conn.call('vm.create', { config: { name: 'src', source: { kind: 'disk', path: seed, mode: 'copy' }, memoryMiB: 64 } });
    const srcDisk = join(home, 'vms', src.id, 'disk.qcow2');
    const srcSum = await sha256File(srcDisk);
    const archive = join(work, 'src.flotilla');
    const t0 = Date.now();
    await conn.call('vm.export', { id: src.id, path: archive });
    const exportMs = Date.now() - t0;
    await conn.close();

    const jobs: Record<string, (c: EngineConn) => Promise<unknown>> = {
      export: (c) => c.call('vm.export', { id: src.id, path: join(work, 'out.flotilla') }),
      import: (c) => c.call('vm.import', { path: archive, name: 'imported' }),
      'clone-full': (c) => c.call('vm.clone', { id: src.id, name: 'full' }),
      'clone-linked': (c) => c.call('vm.clone', { id: src.id, name: 'linked', linked: true }),
      'disk-add': (c) => c.call('disk.add', { id: src.id, sizeGiB: 1 }),
      'disk-rm': (c) => c.call('disk.remove', { id: src.id, disk: 'extra-1.qcow2' }),
    };
    // what a job needs beforehand: the disk rm's disk
    const prepare = async (job: string, c: EngineConn): Promise<void> => {
      if (job === 'disk-rm') await c.call('disk.add', { id: src.id, sizeGiB: 1 });
    };
    const outcomes: Record<string, { killedDuring: number; finishedFirst: number }> = {};
    let faults = 0;
    let lost = 0;
    const newName: Record<string, string> = { export: '', import: 'imported', 'clone-full': 'full', 'clone-linked': 'linked', 'disk-add': '', 'disk-rm': '' };
    const cleanUp = async (c: EngineConn): Promise<void> => {
      for (const vm of await c.call('vm.list', {})) if (vm.name !== 'src') await c.call('vm.delete', { id: vm.id });
      await rm(join(work, 'out.flotilla'), { force: true });
      for (const d of (await c.call('vm.get', { id: src.id })).spec.disks.filter((n: string) => n !== 'disk.qcow2')) await c.call('disk.remove', { id: src.id, disk: d });
    };
    for (const [job, call] of Object.entries(jobs)) {
      outcomes[job] = { killedDuring: 0, finishedFirst: 0 };
      // how long this job takes here and now, so the kills land inside it
      conn = await EngineConn.open(home);
      await prepare(job, conn);
      const started = Date.now();
      await call(conn);
      const jobMs = Date.now() - started;
      await cleanUp(conn);
      await conn.close();
      for (let t = 0; t < TRIALS; t++) {
        conn = await EngineConn.open(home);
        await prepare(job, conn);
        let finished = false;
        const running = call(conn).then(
          () => (finished = true),
          () => undefined,
        );
        await new Promise((r) => setTimeout(r, Math.random() * jobMs));
        await killEngineChild(engine);
        faults++;
        await running;
        await conn.close().catch(() => undefined);
        outcomes[job]![finished ? 'finishedFirst' : 'killedDuring']++;
        engine = await startEngineChild(home);
        conn = await EngineConn.open(home);
        const label = `${job} trial ${t}`;

        expect(await qemuImgsUsing(home), `${label}: orphan qemu-img`).toEqual([]);
        const vms = (await conn.call('vm.list', {})) as VmInfo[];
        const names = vms.map((v) => v.name).sort();
        expect(names.filter((n) => n !== 'src' && n !== newName[job]), label).toEqual([]);
        expect((await readdir(join(home, 'vms'))).filter((n) => n.startsWith('.')), `${label}: staging left`).toEqual([]);
        for (const vm of vms) {
          for (const d of vm.spec.disks) {
            const c = await run('qemu-img', ['check', join(home, 'vms', vm.id, d)]);
            if (c.code !== 0) lost++;
            expect(c.code, `${label}: ${vm.name}/${d}: ${c.stdout}${c.stderr}`).toBe(0);
          }
          const files = await readdir(join(home, 'vms', vm.id));
          expect(files.filter((n) => n.endsWith('.flotilla-tmp') || n.endsWith('.adding') || n.endsWith('.removing')), label).toEqual([]);
          expect(files.filter((n) => /^extra-\d+\.qcow2$/.test(n) && !vm.spec.disks.includes(n)), `${label}: an added disk no spec names`).toEqual([]);
        }
        const srcNow = await sha256File(srcDisk);
        if (srcNow !== srcSum) lost++;
        expect(srcNow, `${label}: source disk changed`).toBe(srcSum);
        expect((await readdir(work)).filter((n) => n.includes('flotilla-partial')), `${label}: partial archive left`).toEqual([]);
        expect(await readdir(join(home, 'partials')).catch(() => []), `${label}: journal record left`).toEqual([]);
        const out = join(work, 'out.flotilla');
        if (await stat(out).catch(() => null)) {
          const check = await mkdtemp(join(work, 'verify-'));
          await readArchive(out, { extractTo: check }); // throws unless complete and intact
          await rm(check, { recursive: true });
        }
        await cleanUp(conn);
        await conn.close();
      }
    }
    console.log(`[reliability] check 19 outcomes: ${JSON.stringify(outcomes)} (the first export took ${exportMs} ms for ${DATA_MIB} MiB)`);
    reportFigure({ check: 19, title: 'kill -9 engine during export, import, clone and disk add/rm', load: `${DATA_MIB} MiB disk, ${TRIALS} kills per job`, faults, badInputs: 0, lost });
    expect(lost).toBe(0);
  });
});
