// Disk images and user-named files: qemu-img create/info/convert/check, and inspection of a path
// the user typed (exists? readable? what is it?). QEMU's image locking stays on: nothing here
// passes -U/force-share except `info`, which only reads the header. Errors name the path.
import { execFile, spawn } from 'node:child_process';
import { open, rm, stat } from 'node:fs/promises';
import type { PathInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { diesWithEngine } from './dies-with-engine';
import { diskFullError, mentionsNoSpace } from './disk-full';

export type PathKind = 'iso' | 'disk' | 'kernel' | 'initrd';

export const QEMU_IMG = 'qemu-img';
const HEADER_BYTES = 0x8010;

export interface ImageInfo {
  format: string;
  virtualSize: number;
  actualSize?: number;
  backingFile?: string;
  /** names of the internal snapshots the image holds (qcow2) */
  snapshots?: string[];
}

const LABELS: Record<PathKind | 'file', string> = { iso: 'ISO', disk: 'disk image', kernel: 'kernel', initrd: 'initrd', file: 'file' };

function label(kind: PathKind | undefined): string {
  return LABELS[kind ?? 'file'];
}

function describeErrno(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many symbolic links';
  return code ?? String(err);
}

/**
 * Throws FILE_NOT_FOUND with a message that names the path and what is wrong with it, unless the
 * path is a readable regular file (or block device, for disks).
 */
export async function assertReadableFile(path: string, kind?: PathKind): Promise<void> {
  const what = label(kind);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FlotillaError('FILE_NOT_FOUND', `${what} not found: ${path}`, { path });
    throw new FlotillaError('FILE_NOT_FOUND', `${what} is not accessible (${describeErrno(err)}): ${path}`, { path });
  }
  if (st.isDirectory()) throw new FlotillaError('FILE_NOT_FOUND', `${what} is a directory, not a file: ${path}`, { path });
  if (!st.isFile() && !(kind === 'disk' && st.isBlockDevice())) {
    throw new FlotillaError('FILE_NOT_FOUND', `${what} is not a regular file: ${path}`, { path });
  }
  try {
    await (await open(path, 'r')).close();
  } catch (err) {
    throw new FlotillaError('FILE_NOT_FOUND', `${what} is not readable (${describeErrno(err)}): ${path}`, { path });
  }
}

function imageError(sub: string, path: string, stderr: string, exitCode: number | null, outPath?: string): FlotillaError {
  if (outPath && mentionsNoSpace(stderr)) return diskFullError(outPath);
  const detail = stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit code ${exitCode}`;
  return new FlotillaError('IMAGE_ERROR', `qemu-img ${sub} failed for ${path}: ${detail.replace(/^qemu-img: /, '')}`, {
    path,
    stderr: stderr.slice(-4000),
    exitCode,
  });
}

function runQemuImg(args: string[], subject: string, outPath?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(QEMU_IMG, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(imageError(args[0]!, subject, stderr || err.message, typeof err.code === 'number' ? err.code : null, outPath));
      else resolve(stdout);
    });
  });
}

export async function qemuImgCreate(path: string, sizeGiB: number, format = 'qcow2'): Promise<void> {
  if (!Number.isInteger(sizeGiB) || sizeGiB < 1) throw new FlotillaError('BAD_REQUEST', `disk size must be a whole number of GiB, at least 1 (got ${sizeGiB})`);
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new FlotillaError('IMAGE_ERROR', `refusing to overwrite an existing image: ${path}`, { path });
  await runQemuImg(['create', '-q', '-f', format, path, `${sizeGiB}G`], path, path);
}

export async function qemuImgInfo(path: string): Promise<ImageInfo> {
  await assertReadableFile(path, 'disk');
  // -U: info only reads the header, and must work while the VM using the image runs
  const out = await runQemuImg(['info', '-U', '--output=json', path], path);
  const j = JSON.parse(out) as Record<string, unknown>;
  const info: ImageInfo = { format: String(j.format), virtualSize: Number(j['virtual-size']) };
  if (typeof j['actual-size'] === 'number') info.actualSize = j['actual-size'];
  if (typeof j['backing-filename'] === 'string') info.backingFile = j['backing-filename'];
  if (Array.isArray(j.snapshots)) info.snapshots = (j.snapshots as { name?: unknown }[]).map((x) => String(x.name));
  return info;
}

export interface ConvertOptions {
  outFormat?: string;
  /** aborting kills qemu-img (the partial dst is removed) and rejects with CANCELLED */
  signal?: AbortSignal;
  /** default: let qemu-img detect it */
  srcFormat?: string;
  /** 0..100, called when the whole percent changes */
  onProgress?: (pct: number) => void;
}

/** Parses qemu-img -p output ("    (12.34/100%)\r") and reports whole-percent changes. */
export function progressParser(onProgress: (pct: number) => void): (chunk: string) => void {
  let last = -1;
  let carry = '';
  return (chunk) => {
    const text = carry + chunk;
    // keep an unfinished "(12.3/1" for the next chunk
    carry = text.slice(text.lastIndexOf(')') + 1).slice(-64);
    for (const m of text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)) {
      const pct = Math.min(100, Math.floor(Number(m[1])));
      if (pct !== last) {
        last = pct;
        onProgress(pct);
      }
    }
  };
}


/** Converts src to dst (flattening any backing chain). A failed convert removes the partial dst. */
export async function qemuImgConvert(src: string, dst: string, opts: ConvertOptions = {}): Promise<void> {
  await assertReadableFile(src, 'disk');
  const args = ['convert', '-p', ...(opts.srcFormat ? ['-f', opts.srcFormat] : []), '-O', opts.outFormat ?? 'qcow2', src, dst];
  const parse = opts.onProgress ? progressParser(opts.onProgress) : undefined;
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(...diesWithEngine(QEMU_IMG, args), { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.signal ? { signal: opts.signal } : {}) });
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => parse?.(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8000)));
    // an abort surfaces as an 'error' (AbortError) and then 'close'; settle on 'close' so dst is no longer written
    child.on('error', (e) => (e.name === 'AbortError' ? undefined : reject(e)));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  if (code !== 0) {
    await rm(dst, { force: true });
    if (opts.signal?.aborted) throw new FlotillaError('CANCELLED', `copying ${src} was cancelled`);
    throw imageError('convert', src, stderr, code, dst);
  }
}

/** A qcow2 overlay at `path` whose reads fall through to `base` (absolute), which it never writes. */
export async function qemuImgCreateOverlay(path: string, base: string): Promise<void> {
  await assertReadableFile(base, 'disk');
  await runQemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', path], path);
}

/**
 * For files that came from elsewhere (an import): the format must be the one expected, and a qcow2
 * must not name a backing file or an external data file. QEMU would open either on the host, so a
 * crafted image could hand the guest any file the user can read.
 */
export async function assertSelfContainedImage(path: string, format: 'qcow2' | 'raw'): Promise<void> {
  const j = JSON.parse(await runQemuImg(['info', '--output=json', path], path)) as Record<string, unknown>;
  if (j.format !== format) throw new FlotillaError('IMAGE_ERROR', `${path} is ${String(j.format)}, not ${format}`, { path });
  const specific = (j['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {};
  if (j['backing-filename'] !== undefined || j['full-backing-filename'] !== undefined) {
    throw new FlotillaError('IMAGE_ERROR', `${path} names a backing file (${String(j['backing-filename'])}); an imported disk must be self-contained`, { path });
  }
  if (specific['data-file'] !== undefined) {
    throw new FlotillaError('IMAGE_ERROR', `${path} names an external data file (${String(specific['data-file'])}); an imported disk must be self-contained`, { path });
  }
}

export interface CheckResult {
  /** qemu-img's: 0 clean, 1 check failed to run, 2 corruption, 3 leaked clusters, 63 format has no checks */
  exitCode: number;
  summary: string;
}

/** Runs `qemu-img check`; the result is data (exit code + summary), not an exception. */
export async function qemuImgCheck(path: string, signal?: AbortSignal): Promise<CheckResult> {
  await assertReadableFile(path, 'disk');
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU_IMG, ['check', path], { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let out = '';
    const take = (d: string) => (out = (out + d).slice(-8000));
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    // an abort is an 'error' (AbortError) and then 'close': it rejects with the abort's reason there
    child.on('error', (e) => (e.name === 'AbortError' ? undefined : reject(e)));
    child.on('close', (code) => {
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new FlotillaError('CANCELLED', `checking ${path} was cancelled`));
      else resolve({ exitCode: code ?? -1, summary: out.trim().split('\n').slice(-12).join('\n') });
    });
  });
}

async function readHeader(path: string): Promise<Buffer> {
  const fd = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fd.read(buf, 0, HEADER_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

const at = (buf: Buffer, offset: number, magic: string | number[]) => {
  const m = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : Buffer.from(magic);
  return buf.length >= offset + m.length && buf.subarray(offset, offset + m.length).equals(m);
};

/** A guess from magic bytes; null if nothing matched. */
export function sniffFormat(h: Buffer): string | null {
  if (at(h, 0, 'QFI\xfb')) return 'qcow2';
  if (at(h, 0x8001, 'CD001')) return 'iso';
  if (at(h, 0x202, 'HdrS')) return 'kernel';
  if (at(h, 0, '\x7fELF')) return 'elf';
  if (at(h, 0, [0x1f, 0x8b])) return 'gzip';
  if (at(h, 0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (at(h, 0, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (at(h, 0, '070701') || at(h, 0, '070702')) return 'cpio';
  if (at(h, 0, 'KDMV')) return 'vmdk';
  if (at(h, 0, 'vhdxfile')) return 'vhdx';
  return null;
}

const ISO_SECTOR = 2048;
/** ISO 9660 volume descriptors start at sector 16 (32 KiB); El Torito's boot record is one of them. */
const ISO_DESCRIPTORS_AT = 16 * ISO_SECTOR;
const ISO_DESCRIPTORS_READ = 16;

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const fd = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fd.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

/** Reads the volume descriptor set (sectors 16…): an ISO 9660 image? with an El Torito boot record? */
export function isoDescriptors(descriptors: Buffer): { iso: boolean; bootable: boolean } {
  let iso = false;
  let bootable = false;
  for (let off = 0; off + 7 <= descriptors.length; off += ISO_SECTOR) {
    if (!at(descriptors, off + 1, 'CD001')) break;
    iso = true;
    const type = descriptors[off]!;
    if (type === 0 && at(descriptors, off + 7, 'EL TORITO SPECIFICATION')) bootable = true;
    if (type === 255) break; // set terminator
  }
  return { iso, bootable };
}

function wrongType(path: string, expected: PathKind, found: string | null, why: string): FlotillaError<'WRONG_FILE_TYPE'> {
  return new FlotillaError('WRONG_FILE_TYPE', `${why}: ${path}`, { path, expected, found });
}

/** A raw image is anything to qemu-img; one worth attaching has a partition table, an ISO or a filesystem. */
function looksLikeRawDisk(h: Buffer): boolean {
  const mbr = h.length >= 512 && h[510] === 0x55 && h[511] === 0xaa;
  const gpt = at(h, 512, 'EFI PART');
  const ext = h.length >= 0x43a && h[0x438] === 0x53 && h[0x439] === 0xef;
  return mbr || gpt || ext || at(h, 0x8001, 'CD001') || at(h, 3, 'NTFS    ') || at(h, 0x52, 'FAT32   ') || at(h, 0x36, 'FAT');
}

/**
 * The file the user named is what it was named as, or WRONG_FILE_TYPE saying what it is not:
 * an ISO is an ISO 9660 image with an El Torito boot record (else the VM boots to "No bootable
 * device" while it shows Running), a disk is an image qemu-img reads (and, if raw, has a
 * partition table or filesystem), a kernel has the bzImage "HdrS" header or is ELF. An empty
 * file is refused for every role. FILE_NOT_FOUND first, if it is missing or unreadable.
 */
export async function assertFileIs(path: string, kind: PathKind): Promise<void> {
  await assertReadableFile(path, kind);
  const what = label(kind);
  const st = await stat(path);
  if (st.isFile() && st.size === 0) throw wrongType(path, kind, 'empty', `${what} is an empty file (0 bytes)`);
  const head = await readHeader(path);
  const found = sniffFormat(head);
  switch (kind) {
    case 'iso': {
      const { iso, bootable } = isoDescriptors(await readAt(path, ISO_DESCRIPTORS_AT, ISO_DESCRIPTORS_READ * ISO_SECTOR));
      if (!iso) throw wrongType(path, kind, found, 'not an ISO 9660 CD/DVD image (no "CD001" volume descriptor at 32 KiB); choose an installer .iso');
      if (!bootable) throw wrongType(path, kind, 'iso', 'this ISO image is not bootable (it has no El Torito boot record), so a VM cannot start from it');
      return;
    }
    case 'kernel':
      if (found !== 'kernel' && found !== 'elf') throw wrongType(path, kind, found, 'not a Linux kernel (no bzImage "HdrS" header, and not an ELF file)');
      return;
    case 'disk': {
      let info: ImageInfo;
      try {
        info = await qemuImgInfo(path);
      } catch (err) {
        if (err instanceof FlotillaError && err.code === 'IMAGE_ERROR') throw wrongType(path, kind, found, `not a disk image qemu-img can read (${err.message.replace(/^qemu-img info failed for [^:]*: /, '')})`);
        throw err;
      }
      if (info.format === 'raw' && st.isFile() && !looksLikeRawDisk(head)) {
        throw wrongType(path, kind, found, 'not a disk image: it is no known image format, and read as a raw disk it has no partition table (MBR or GPT) or filesystem');
      }
      return;
    }
    case 'initrd':
      return;
  }
}

/** What the UI shows next to a path field. Never throws: problems go into `error`. */
export async function inspectPath(path: string, expect?: PathKind): Promise<PathInfo> {
  const info: PathInfo = { path, exists: false, readable: false, isFile: false, size: null, format: null };
  try {
    const st = await stat(path);
    info.exists = true;
    info.isFile = st.isFile();
    info.size = st.isFile() ? st.size : null;
  } catch {
    // assertReadableFile below says why
  }
  try {
    await assertReadableFile(path, expect);
    info.readable = true;
    info.format = sniffFormat(await readHeader(path));
    if (expect === 'disk' && (info.format === null || info.format === 'iso')) info.format = (await qemuImgInfo(path)).format;
    if (expect) await assertFileIs(path, expect);
  } catch (err) {
    info.error = err instanceof Error ? err.message : String(err);
  }
  return info;
}
