// Issue 12 through the `flotilla` CLI as a user types it (each command a short-lived engine, or a
// client): set, disk list/resize/add/rm (offline and online, against a real QEMU), export, import
// and clone, with the one-line errors for what is refused.
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskInfo, VmInfo } from '../../shared/contract';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, processesUsing, run } from './fixtures/engine-harness';
import { haveIsoTools, makeGrubImages } from './fixtures/third-party-images';

const GiB = 2 ** 30;

describe.skipIf(!haveIsoTools())('flotilla set / disk / export / import / clone', () => {
  let home: string;
  let work: string;
  let cli: string;
  let qcow2: string;
  const flotilla = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 170_000 });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await flotilla(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const fails = async (re: RegExp, ...args: string[]): Promise<void> => {
    const r = await flotilla(...args);
    expect(r.code, args.join(' ')).toBe(1);
    expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    expect(r.stderr.trim(), args.join(' ')).toMatch(re);
  };
  const virtualSize = async (file: string): Promise<number> =>
    (JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', file])).stdout) as { 'virtual-size': number })['virtual-size'];

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(false), bundle(CLI_ENTRY)]);
    work = await mkdtemp(join(tmpdir(), 'flt-lcli-'));
    ({ qcow2 } = await makeGrubImages(work));
  }, 120_000);

  afterAll(async () => {
    await cleanupHome(home);
    await rm(work, { recursive: true, force: true });
  });

  it('set changes a stopped VM; disks grow offline and online and never shrink; a disk is added', async () => {
    await ok('create', 'a', '--from', `disk:${qcow2}`, '--memory', '128');
    const b = JSON.parse(await ok('set', 'a', '--cpus', '2', '--memory', '160', '--firmware', 'uefi', '--name', 'b', '--forward', '22', '--restart', 'on-failure', '--json')) as VmInfo;
    expect(b).toMatchObject({ name: 'b', spec: { cpus: 2, memoryMiB: 160, firmware: 'uefi', restartPolicy: 'on-failure', forwards: [{ proto: 'tcp', guestPort: 22 }] } });
    await fails(/^flotilla: nothing to change: give at least one of/, 'set', 'b');
    await fails(/^flotilla: no VM named "a"/, 'set', 'a', '--cpus', '1');
    await ok('set', 'b', '--restart', 'never');
    // the note a tile shows, set from the CLI; the settings set before are kept
    const noted = JSON.parse(await ok('set', 'b', '--note', 'build box for the demo', '--json')) as VmInfo;
    expect(noted.spec).toMatchObject({ note: 'build box for the demo', cpus: 2, restartPolicy: 'never' });

    const disk = join(home, 'vms', b.id, 'disk.qcow2');
    const [d0] = JSON.parse(await ok('disk', 'list', 'b', '--json')) as DiskInfo[];
    expect(d0).toMatchObject({ name: 'disk.qcow2', virtualSize: await virtualSize(disk) });
    expect(await ok('disk', 'resize', 'b', '1')).toBe('b: disk.qcow2 is now 1 GiB\n');
    expect(await virtualSize(disk)).toBe(GiB);
    await fails(/^flotilla: disk.qcow2 of b is 1 GiB; a resize must make it larger \(shrinking would destroy data and is refused\)$/, 'disk', 'resize', 'b', '1');
    await fails(/GIB is a whole number/, 'disk', 'resize', 'b', '1.5');
    await fails(/has no disk nope.qcow2/, 'disk', 'resize', 'b', '3', '--disk', 'nope.qcow2');

    const added = JSON.parse(await ok('disk', 'add', 'b', '2', '--json')) as VmInfo;
    expect(added.spec.disks).toEqual(['disk.qcow2', 'extra-1.qcow2']);
    const extra = join(home, 'vms', b.id, 'extra-1.qcow2');
    expect(await virtualSize(extra)).toBe(2 * GiB);

    // online: QEMU has both disks open; block_resize grows them, and the check is against QEMU's own size
    const up = JSON.parse(await ok('start', 'b', '--json')) as VmInfo;
    expect(up.state).toBe('running');
    const cmdline = (await run('cat', [`/proc/${up.pid}/cmdline`])).stdout.split('\0');
    expect(cmdline.some((a) => a.includes('extra-1.qcow2'))).toBe(true);
    expect(cmdline).toContain('-uuid');
    expect(cmdline.some((a) => a.includes(`mac=${up.spec.mac}`))).toBe(true);
    expect(await ok('disk', 'resize', 'b', '2')).toBe('b: disk.qcow2 is now 2 GiB (grown while running; the guest sees it now)\n');
    expect(await virtualSize(disk)).toBe(2 * GiB);
    await ok('disk', 'resize', 'b', '3', '--disk', 'extra-1.qcow2');
    expect(await virtualSize(extra)).toBe(3 * GiB);
    await fails(/is 3 GiB; a resize must make it larger/, 'disk', 'resize', 'b', '2', '--disk', 'extra-1.qcow2');
    expect(await virtualSize(extra)).toBe(3 * GiB);
    await fails(/^flotilla: stop b before adding a disk/, 'disk', 'add', 'b', '1');
    await fails(/^flotilla: stop b before changing its CPUs \(it is running\); its name, note, port forwards, crash policy/, 'set', 'b', '--cpus', '1');
    expect(JSON.parse(await ok('set', 'b', '--note', 'grown online', '--keep-running', 'on', '--json'))).toMatchObject({ pid: up.pid, spec: { note: 'grown online', keepRunningOnQuit: true } });
    await ok('stop', 'b', '--force');
    expect(await processesUsing(home)).toEqual([]);
    expect((await run('qemu-img', ['check', disk])).code).toBe(0);
  }, 400_000);

  it('disk rm takes only an added disk of a stopped VM that no snapshot or linked clone needs; a killed add or rm is settled at the next start', async () => {
    const r = JSON.parse(await ok('create', 'r', '--from', `disk:${qcow2}`, '--memory', '128', '--json')) as VmInfo;
    const dir = join(home, 'vms', r.id);
    await ok('disk', 'add', 'r', '1');
    await ok('disk', 'add', 'r', '1');
    const listed = JSON.parse(await ok('disk', 'list', 'r', '--json')) as DiskInfo[];
    expect(listed.map((d) => [d.name, d.added, d.keptBecause ?? null])).toEqual([
      ['disk.qcow2', false, 'it is the disk r was made with; only a disk added later can be removed'],
      ['extra-1.qcow2', true, null],
      ['extra-2.qcow2', true, null],
    ]);
    await fails(/^flotilla: cannot remove disk.qcow2 from r: it is the disk r was made with; only a disk added later can be removed$/, 'disk', 'rm', 'r', 'disk.qcow2');
    await fails(/^flotilla: usage: flotilla disk rm NAME DISK/, 'disk', 'rm', 'r');
    await fails(/^flotilla: r has no disk extra-9.qcow2; its disks are disk.qcow2, extra-1.qcow2, extra-2.qcow2$/, 'disk', 'rm', 'r', 'extra-9.qcow2');
    await fails(/disk file names are a-z/, 'disk', 'rm', 'r', '../vm.json');

    // a snapshot holds every disk: going back to it needs extra-1, so it stays until the snapshot goes
    await ok('snapshot', 'create', 'r', 'before');
    await fails(/^flotilla: cannot remove extra-1.qcow2 from r: the snapshot before needs it to go back; delete that snapshot first$/, 'disk', 'rm', 'r', 'extra-1.qcow2');
    await ok('snapshot', 'rm', 'r', 'before');
    // a linked clone reads through to it
    await ok('clone', 'r', 'r-linked', '--linked');
    await fails(/^flotilla: cannot remove extra-1.qcow2 from r: the linked clone r-linked reads through to it; delete that clone first$/, 'disk', 'rm', 'r', 'extra-1.qcow2');
    await ok('rm', 'r-linked');
    // QEMU has the disk open
    await ok('start', 'r');
    await fails(/^flotilla: stop r before removing a disk \(it is running\)$/, 'disk', 'rm', 'r', 'extra-1.qcow2');
    await ok('stop', 'r', '--force');

    expect(await ok('disk', 'rm', 'r', 'extra-1.qcow2')).toBe('r: removed extra-1.qcow2 and deleted its file\n');
    expect((JSON.parse(await ok('info', 'r', '--json')) as VmInfo).spec.disks).toEqual(['disk.qcow2', 'extra-2.qcow2']);
    expect((await readdir(dir)).filter((f) => f.endsWith('.qcow2')).sort()).toEqual(['disk.qcow2', 'extra-2.qcow2']);

    // an rm killed after its rename (the commit), before the spec forgot the disk: the next engine
    // start finishes it. An add killed before the spec named its file: that file goes. A disk file
    // no spec names (a vm.json restored from a backup, say) is someone's data: it stays.
    await rename(join(dir, 'extra-2.qcow2'), join(dir, 'extra-2.qcow2.removing'));
    expect((await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'extra-5.qcow2.adding'), '1G'])).code).toBe(0);
    expect((await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'extra-7.qcow2'), '1G'])).code).toBe(0);
    expect((JSON.parse(await ok('info', 'r', '--json')) as VmInfo).spec.disks).toEqual(['disk.qcow2']);
    expect((await readdir(dir)).filter((f) => f.includes('.qcow2')).sort()).toEqual(['disk.qcow2', 'extra-7.qcow2']);
    // the freed names are taken again by the next adds; the unlisted file's is not
    await ok('disk', 'add', 'r', '1');
    expect((JSON.parse(await ok('disk', 'add', 'r', '1', '--json')) as VmInfo).spec.disks).toEqual(['disk.qcow2', 'extra-1.qcow2', 'extra-2.qcow2']);
    expect((await readdir(dir)).filter((f) => f.includes('.qcow2')).sort()).toEqual(['disk.qcow2', 'extra-1.qcow2', 'extra-2.qcow2', 'extra-7.qcow2']);
    await ok('rm', 'r');
  }, 400_000);

  it('export, import with and without --name, clone --linked and the guards between them', async () => {
    const file = join(work, 'b.flotilla');
    expect(await ok('export', 'b', file)).toMatch(new RegExp(`^exported b to ${file} \\(\\d+ bytes\\)\\n$`));
    await fails(/already exists; pass --force to overwrite it$/, 'export', 'b', file);
    await ok('export', 'b', file, '--force');
    await fails(/^flotilla: .* cannot be imported: it is not a Flotilla export \(not a tar archive\); nothing was created$/, 'import', qcow2);
    const c = JSON.parse(await ok('import', file, '--name', 'c', '--json')) as VmInfo;
    expect(c).toMatchObject({ name: 'c', spec: { disks: ['disk.qcow2', 'extra-1.qcow2'], cpus: 2, firmware: 'uefi' } });
    const d = JSON.parse(await ok('clone', 'c', 'd', '--linked', '--json')) as VmInfo;
    expect(d.spec.linkedFrom).toBe(c.id);
    expect(await ok('disk', 'list', 'd')).toMatch(/disk.qcow2\t3 GiB|disk.qcow2\t2 GiB\tlinked to /);
    await fails(/^flotilla: cannot delete c: its disk is the base of the linked clone d; delete it first$/, 'rm', 'c');
    await fails(/^flotilla: cannot resize the disk of c: its disk is the base of the linked clone d/, 'disk', 'resize', 'c', '9');
    expect(await ok('clone', 'c', 'e')).toMatch(/^cloned e \([a-z0-9]+\)\n$/);
    for (const vm of ['d', 'e', 'c', 'b']) await ok('rm', vm);
    // without --name the VM takes the archive's name (free again now; the command reads it from
    // the archive's head, to know the VM if the engine goes mid-import)
    expect(await ok('import', file)).toMatch(/^imported b \([a-z0-9]+\)\n$/);
    await ok('rm', 'b');
    expect(JSON.parse(await ok('list', '--json'))).toEqual([]);
  }, 400_000);
});
