// What a user reads when input is wrong or the machine is short of something, through the real
// `flotilla` program and engine: rules in plain words, files checked for what they are (real ISOs
// made by grub-mkrescue and xorriso, a real qcow2, the Debian installer's kernel), a full disk
// (a real tmpfs filled to the last byte), memory weighed against this host's /proc/meminfo, and
// a start that warns with the numbers (real QEMU).
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { readHostMemory } from '../../electron/engine/host-memory';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, openTestEngine, processesUsing, run } from './fixtures/engine-harness';
import { DI_DIR, haveInstaller, haveIsoTools, makeGrubImages } from './fixtures/third-party-images';

const canMount = process.getuid?.() === 0;

describe('flotilla input and resource messages', () => {
  let home: string;
  let files: string;
  let cli: string;
  let images: { iso: string; qcow2: string };
  const flotillaIn = (h: string, ...args: string[]) => run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: h, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 120_000 });
  const flotilla = (...args: string[]) => flotillaIn(home, ...args);
  const vmCount = async (h = home): Promise<number> => (await readdir(join(h, 'vms')).catch(() => [])).filter((d) => !d.startsWith('.')).length;

  beforeAll(async () => {
    if (!haveIsoTools()) throw new Error('grub-mkrescue/xorriso missing: install the test packages (scripts/system-deps.sh)');
    [home, cli, files] = await Promise.all([makeHome(false), bundle(CLI_ENTRY), mkdtemp(join(tmpdir(), 'flt-files-'))]);
    images = await makeGrubImages(files);
    // an ISO 9660 image with no boot record: a data CD
    await mkdir(join(files, 'data'));
    await writeFile(join(files, 'data', 'readme.txt'), 'just data\n');
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', join(files, 'data.iso'), join(files, 'data')]);
    await writeFile(join(files, 'empty'), '');
    await writeFile(join(files, 'notes.txt'), 'not a disk\n'.repeat(100));
  });

  afterAll(async () => {
    await cleanupHome(home);
    await rm(files, { recursive: true, force: true });
  });

  it('says each rule in plain words, on one line, and creates nothing', async () => {
    const host = await readHostMemory();
    const cases: [string[], string][] = [
      [['create', 'x', '--forward', '22:08080'], 'flotilla: --forward 22:08080: write ports without leading zeros (8080, not 08080)'],
      [['create', 'x', '--forward', '22:0'], 'flotilla: --forward 22:0: host port must be from 1024 to 65535 (lower ports need root), or left empty to pick a free port'],
      [['create', 'x', '--from', `iso:${images.iso}`, '--disk-size', '-1'], 'flotilla: disk size must be a whole number of GiB, at least 1 (at most 4096)'],
      [['create', 'x', '--firmware', 'efi'], 'flotilla: firmware must be bios or uefi'],
      [['create', 'Bad_Name'], 'flotilla: name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit'],
      [['create', 'x', '--memory', '300000'], 'flotilla: memory must be a whole number of MiB from 64 to 262144'],
      [['create', 'x', '--memory', String(host.totalMiB + 1024)], `flotilla: memory of ${host.totalMiB + 1024} MiB is more than this machine has (${host.totalMiB} MiB); choose at most ${host.totalMiB} MiB`],
    ];
    for (const [args, stderr] of cases) {
      const r = await flotilla(...args);
      expect(r, args.join(' ')).toEqual({ code: 1, stdout: '', stderr: `${stderr}\n` });
    }
    expect(await vmCount()).toBe(0);
  });

  it('checks that each file is what it is named as, and refuses empty files with the reason', async () => {
    const refusals: [string[], string][] = [
      [['--from', 'iso:/etc/passwd'], 'not an ISO 9660 CD/DVD image (no "CD001" volume descriptor at 32 KiB); choose an installer .iso: /etc/passwd'],
      [['--from', `iso:${files}/data.iso`], `this ISO image is not bootable (it has no El Torito boot record), so a VM cannot start from it: ${files}/data.iso`],
      [['--from', `iso:${files}/empty`], `ISO is an empty file (0 bytes): ${files}/empty`],
      [['--from', `disk:${files}/empty`], `disk image is an empty file (0 bytes): ${files}/empty`],
      [['--from', `disk:${files}/notes.txt`], `not a disk image: it is no known image format, and read as a raw disk it has no partition table (MBR or GPT) or filesystem: ${files}/notes.txt`],
      [['--from', 'kernel:/etc/passwd'], 'not a Linux kernel (no bzImage "HdrS" header, and not an ELF file): /etc/passwd'],
      [['--from', `kernel:${files}/empty`], `kernel is an empty file (0 bytes): ${files}/empty`],
    ];
    if (haveInstaller()) refusals.push([['--from', `kernel:${DI_DIR}/linux`, '--initrd', `${files}/empty`], `initrd is an empty file (0 bytes): ${files}/empty`]);
    for (const [args, message] of refusals) {
      const r = await flotilla('create', 'f', ...args);
      expect(r, args.join(' ')).toEqual({ code: 1, stdout: '', stderr: `flotilla: ${message}\n` });
    }
    expect(await vmCount()).toBe(0);

    // the real thing passes: a bootable ISO, the qcow2 and the raw ISO as disks, a real kernel
    const accepted = [
      ['--from', `iso:${images.iso}`, '--disk-size', '1'],
      ['--from', `disk:${images.qcow2}`, '--disk-mode', 'reference'],
      ['--from', `disk:${images.iso}`, '--disk-mode', 'reference'],
      ...(haveInstaller() ? [['--from', `kernel:${DI_DIR}/linux`, '--initrd', `${DI_DIR}/initrd.gz`]] : []),
    ];
    for (const [i, args] of accepted.entries()) {
      const r = await flotilla('create', `ok${i}`, ...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect(await vmCount()).toBe(accepted.length);

    // the UI's path check says the same next to the field
    const { engine, client } = await openTestEngine(home);
    try {
      expect((await client.call('path.inspect', { path: '/etc/passwd', expect: 'iso' })).error).toMatch(/^not an ISO 9660 CD\/DVD image/);
      expect((await client.call('path.inspect', { path: images.iso, expect: 'iso' })).error).toBeUndefined();
      const wrong = await client.call('vm.create', { config: { name: 'w', source: { kind: 'iso', path: '/etc/passwd' } } }).catch((e: unknown) => e);
      expect(wrong).toMatchObject({ code: 'WRONG_FILE_TYPE', details: { path: '/etc/passwd', expected: 'iso', found: null } });
      // memory: update is held to the host too, with the numbers, on the form's field
      const host = await readHostMemory();
      const vm = (await client.call('vm.list', {}))[0]!;
      const tooMuch = await client.call('vm.update', { id: vm.id, patch: { memoryMiB: host.totalMiB + 1 } }).catch((e: unknown) => e);
      expect(tooMuch).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: `memory of ${host.totalMiB + 1} MiB is more than this machine has (${host.totalMiB} MiB); choose at most ${host.totalMiB} MiB`,
        details: { fields: [{ path: 'patch.memoryMiB' }] },
      });
    } finally {
      client.close();
      await engine.close();
    }
  });

  it.runIf(haveInstaller())('warns with the numbers when a start could take more memory than the host has available', async () => {
    const host = await readHostMemory();
    // allowed (no more than the host has) but more than is available now: QEMU under TCG only
    // touches what the guest uses, so the start succeeds and the warning is what the user gets
    const created = await flotilla('create', 'big', '--from', `kernel:${DI_DIR}/linux`, '--memory', String(host.totalMiB));
    expect(created.code, created.stderr).toBe(0);
    const r = await flotilla('start', 'big', '--json');
    try {
      expect(r.code, r.stderr).toBe(0);
      const vm = JSON.parse(r.stdout) as VmInfo & { warnings: string[] };
      expect(vm.state).toBe('running');
      expect(vm.warnings).toHaveLength(1);
      expect(vm.warnings[0]).toMatch(new RegExp(`^big may use ${host.totalMiB} MiB .*but this machine has only \\d+ MiB of its ${host.totalMiB} MiB available`));
      expect(r.stderr).toBe(`flotilla: warning: ${vm.warnings[0]}\n`);
    } finally {
      expect((await flotilla('stop', 'big', '--force')).code).toBe(0);
    }
    expect(await processesUsing(home)).toEqual([]);
    // a small VM on the same host starts without a word
    expect((await flotilla('create', 'small', '--from', `kernel:${DI_DIR}/linux`, '--memory', '128')).code).toBe(0);
    const small = await flotilla('start', 'small');
    expect(small.stderr).toBe('');
    expect((await flotilla('stop', 'small', '--force')).code).toBe(0);
  });

  it.runIf(canMount && haveInstaller())('a full disk names the file and what to do, and leaves nothing half-made', async () => {
    const mnt = await mkdtemp(join(tmpdir(), 'flt-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mnt]);
    try {
      expect((await flotillaIn(mnt, 'create', 'first')).code).toBe(0);
      // fill the filesystem to the last byte
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
      } catch {
        /* dd stops with ENOSPC: that is the point */
      }
      // a kernel VM has no disk of its own: the first file create writes is its vm.json
      const r = await flotillaIn(mnt, 'create', 'second', '--from', `kernel:${DI_DIR}/linux`);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^flotilla: no space left on device to write ${mnt}/vms/\\.creating-[a-z0-9]+/vm\\.json: free space on that filesystem \\(see \`df -h ${mnt}/vms/\\.creating-[a-z0-9]+\`\\) or set FLOTILLA_HOME to a larger one, then try again\\n$`));
      expect(r.stderr).not.toMatch(/ENOSPC/);
      // the built-in Linux's /root disk: qemu-img's "No space left" names that file
      const iso = await flotillaIn(mnt, 'create', 'third');
      // after qemu-img's progress line
      expect(iso.stderr).toMatch(new RegExp(`\nflotilla: no space left on device to write ${mnt}/vms/\\.creating-[a-z0-9]+/disk\\.qcow2: free space on that filesystem`));
      // nothing half-made: only the first VM, no staging directories
      expect(await readdir(join(mnt, 'vms'))).toHaveLength(1);
      const list = JSON.parse((await flotillaIn(mnt, 'list', '--json')).stdout) as VmInfo[];
      expect(list.map((v) => v.name)).toEqual(['first']);
    } finally {
      execFileSync('umount', [mnt]);
      await rm(mnt, { recursive: true, force: true });
    }
  });
});
