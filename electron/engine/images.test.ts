// Images with the real qemu-img (installed on every dev and CI machine).
import { chmod, mkdir, mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertReadableFile, inspectPath, progressParser, qemuImgCheck, qemuImgConvert, qemuImgCreate, qemuImgInfo, sniffFormat } from './images';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-img-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;

describe('qemu-img wrappers', () => {
  it('create + info: qcow2 of the requested virtual size', async () => {
    const p = join(dir, 'a.qcow2');
    await qemuImgCreate(p, 2);
    const info = await qemuImgInfo(p);
    expect(info.format).toBe('qcow2');
    expect(info.virtualSize).toBe(2 * 1024 ** 3);
    expect(info.actualSize).toBeGreaterThan(0);
    expect(info.backingFile).toBeUndefined();
  });

  it('create refuses to overwrite an existing image, and a bad size', async () => {
    const p = join(dir, 'b.qcow2');
    await qemuImgCreate(p, 1);
    await expect(qemuImgCreate(p, 1)).rejects.toMatchObject({ code: 'IMAGE_ERROR', message: /refusing to overwrite.*b\.qcow2/ });
    await expect(qemuImgCreate(join(dir, 'c.qcow2'), 0)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('detects raw and qcow2', async () => {
    const raw = join(dir, 'r.img');
    await qemuImgCreate(raw, 1, 'raw');
    expect((await qemuImgInfo(raw)).format).toBe('raw');
    expect((await inspectPath(raw, 'disk')).format).toBe('raw');
    const qcow = join(dir, 'q.qcow2');
    await qemuImgCreate(qcow, 1);
    expect((await inspectPath(qcow, 'disk')).format).toBe('qcow2');
  });

  it('convert raw → qcow2 reports progress up to 100 and the result checks clean', async () => {
    const src = join(dir, 'src.raw');
    await writeFile(src, Buffer.alloc(8 * 1024 * 1024, 0xab));
    const dst = join(dir, 'dst.qcow2');
    const seen: number[] = [];
    await qemuImgConvert(src, dst, { outFormat: 'qcow2', onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toBe(100);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect((await qemuImgInfo(dst)).format).toBe('qcow2');
    const check = await qemuImgCheck(dst);
    expect(check.exitCode).toBe(0);
    expect(check.summary).toMatch(/No errors were found/);
  });

  it('a failed convert leaves no partial output and names the source', async () => {
    const src = join(dir, 'src2.raw');
    await writeFile(src, Buffer.alloc(1024 * 1024));
    const dst = join(dir, 'nodir', 'x.qcow2');
    await expect(qemuImgConvert(src, dst, { srcFormat: 'qcow2' })).rejects.toMatchObject({ code: 'IMAGE_ERROR', message: /convert failed for .*src2\.raw/ });
    expect(existsSync(dst)).toBe(false);
  });

  it('check reports corruption as data (exit code 2), not an exception', async () => {
    const p = join(dir, 'corrupt.qcow2');
    await qemuImgCreate(p, 1);
    // point the L1 table (offset 40 in the header) at a cluster inside the header: refcounts disagree
    const fd = await open(p, 'r+');
    const l1 = Buffer.alloc(8);
    l1.writeBigUInt64BE(0x30000n | (1n << 63n));
    await fd.write(l1, 0, 8, 0x30000);
    await fd.close();
    const r = await qemuImgCheck(p);
    expect(r.exitCode).toBe(2);
    expect(r.summary).toMatch(/1 errors were found/);
  });

  it('missing file → FILE_NOT_FOUND naming the path, for every operation', async () => {
    const missing = join(dir, 'nope.qcow2');
    for (const op of [() => qemuImgInfo(missing), () => qemuImgCheck(missing), () => qemuImgConvert(missing, join(dir, 'o.qcow2'))]) {
      await expect(op()).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: `disk image not found: ${missing}` });
    }
    await expect(assertReadableFile('/x.iso', 'iso')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: 'ISO not found: /x.iso' });
  });

  it('a directory, a dangling symlink, or a non-regular file gives a clear error', async () => {
    const sub = join(dir, 'adir');
    await mkdir(sub);
    await expect(qemuImgInfo(sub)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: `disk image is a directory, not a file: ${sub}` });
    const link = join(dir, 'dangling');
    await symlink(join(dir, 'gone'), link);
    await expect(assertReadableFile(link, 'kernel')).rejects.toMatchObject({ message: `kernel not found: ${link}` });
    await expect(assertReadableFile('/dev/null', 'iso')).rejects.toMatchObject({ message: 'ISO is not a regular file: /dev/null' });
  });

  it.skipIf(isRoot)('an unreadable file gives "not readable (permission denied)"', async () => {
    const p = join(dir, 'secret.img');
    await writeFile(p, 'x');
    await chmod(p, 0o000);
    await expect(assertReadableFile(p, 'disk')).rejects.toMatchObject({ message: `disk image is not readable (permission denied): ${p}` });
  });
});

describe('inspectPath', () => {
  it('reports a missing path without throwing', async () => {
    const p = join(dir, 'missing.iso');
    expect(await inspectPath(p, 'iso')).toEqual({
      path: p,
      exists: false,
      readable: false,
      isFile: false,
      size: null,
      format: null,
      error: `ISO not found: ${p}`,
    });
  });

  it('recognises an ISO, a bzImage kernel and a gzip initrd by their magic', async () => {
    // a primary volume descriptor, an El Torito boot record, the set terminator
    const iso = Buffer.alloc(0x9800);
    iso.write('\x01CD001', 0x8000, 'latin1');
    iso.write('\x00CD001\x01EL TORITO SPECIFICATION', 0x8800, 'latin1');
    iso.write('\xffCD001', 0x9000, 'latin1');
    await writeFile(join(dir, 'a.iso'), iso);
    const kernel = Buffer.alloc(0x400);
    kernel.write('HdrS', 0x202, 'latin1');
    await writeFile(join(dir, 'vmlinuz'), kernel);
    await writeFile(join(dir, 'initrd.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
    const i = await inspectPath(join(dir, 'a.iso'), 'iso');
    expect(i).toMatchObject({ exists: true, readable: true, isFile: true, size: 0x9800, format: 'iso' });
    expect(i.error).toBeUndefined();
    expect((await inspectPath(join(dir, 'vmlinuz'), 'kernel')).format).toBe('kernel');
    expect((await inspectPath(join(dir, 'initrd.gz'), 'initrd')).format).toBe('gzip');
    expect(sniffFormat(Buffer.from('nothing'))).toBeNull();
  });

  it('a directory: exists, not a file, with the reason', async () => {
    const i = await inspectPath(dir, 'disk');
    expect(i).toMatchObject({ exists: true, isFile: false, readable: false });
    expect(i.error).toMatch(/is a directory/);
  });
});

describe('progressParser', () => {
  it('turns qemu-img -p output into whole-percent steps, once each', () => {
    const seen: number[] = [];
    const feed = progressParser((p) => seen.push(p));
    feed('    (0.00/100%)\r    (1.01/100%)\r    (2.50/1');
    feed('00%)\r    (50.00/100%)\r    (100.00/100%)\r\n');
    expect(seen).toEqual([0, 1, 2, 50, 100]);
  });
});
