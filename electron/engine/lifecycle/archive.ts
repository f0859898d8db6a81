// The VM export archive: one tar file holding, in this order,
//   manifest.json   format name + version, and every file that follows with its size and role
//   vm.json         the VM's spec
//   disks/<name>    the VM's own disks, byte for byte (qcow2 internal snapshots travel with them)
//   nvram/<name>    its UEFI variable store, when it has one
//   checksums.json  sha256 of every entry above, computed from the very bytes written
// Reading is strict: the entries must be exactly these, in this order, regular files only, each the
// size the manifest says and matching its checksum. Anything else (`../` or absolute names, links,
// devices, directories, duplicates, sizes beyond the limits or the free space, trailing entries, a
// cut-off file) is refused with an error that names the entry, and the caller's staging directory
// is all that was written.
//
// Why tar-stream rather than GNU tar: an import must judge every header *before* any byte lands on
// disk. GNU tar (even with --no-same-owner, --no-overwrite-dir, a -t listing first) decides for
// itself what to create, and its listing would have to be parsed back from text; tar-stream hands
// over each parsed header and the entry's bytes and writes nothing itself, so every rule above is
// ours, in one place. It is a small, widely used, maintained package (also behind tar-fs).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header } from 'tar-stream';
import { z } from 'zod';
import { FlotillaError } from '../../../shared/errors';

export const ARCHIVE_FORMAT = 'flotilla-vm';
export const ARCHIVE_VERSION = 1;
export const MANIFEST_ENTRY = 'manifest.json';
export const SPEC_ENTRY = 'vm.json';
export const CHECKSUMS_ENTRY = 'checksums.json';
const MAX_JSON_BYTES = 1 << 20;
/** No VM disk Flotilla makes is larger (the create schema caps disks at 4 TiB). */
export const MAX_FILE_BYTES = 4 * 2 ** 40;
const MAX_FILES = 16;
/** kept free after an import, so an import cannot fill the disk the engine writes its state to */
const FREE_SPACE_MARGIN = 256 * 2 ** 20;

export type ArchiveRole = 'disk' | 'firmware-vars';

const fileEntryName = /^(disks|nvram)\/[a-z0-9][a-z0-9._-]{0,63}$/;

const manifestSchema = z
  .object({
    format: z.literal(ARCHIVE_FORMAT),
    version: z.literal(ARCHIVE_VERSION),
    createdAt: z.string().max(64),
    engineVersion: z.string().max(64),
    files: z
      .array(
        z
          .object({
            entry: z.string().regex(fileEntryName),
            role: z.enum(['disk', 'firmware-vars']),
            size: z.number().int().min(0).max(MAX_FILE_BYTES),
          })
          .strict(),
      )
      .max(MAX_FILES),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const f of m.files) {
      if (seen.has(f.entry)) ctx.addIssue({ code: 'custom', message: `${f.entry} is listed twice` });
      seen.add(f.entry);
      if ((f.role === 'disk') !== f.entry.startsWith('disks/')) ctx.addIssue({ code: 'custom', message: `${f.entry} does not match its role ${f.role}` });
    }
  });
export type Manifest = z.infer<typeof manifestSchema>;

export interface ArchiveSource {
  entry: string;
  role: ArchiveRole;
  /** the file on the host */
  path: string;
}

export interface ArchiveProgress {
  done: number;
  total: number;
}

function bad(file: string, why: string, details: Record<string, unknown> = {}): FlotillaError {
  return new FlotillaError('BAD_ARCHIVE', `${file} cannot be imported: ${why}; nothing was created`, { path: file, ...details });
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FlotillaError('CANCELLED', 'cancelled');
}

/**
 * Writes the archive to `out` (created exclusively, 0600) and fsyncs it. The caller owns `out`:
 * it is a temp name the caller renames into place, and removes on failure.
 */
export async function writeArchive(
  out: string,
  content: { spec: unknown; files: ArchiveSource[]; engineVersion: string },
  o: { signal?: AbortSignal; onProgress?: (p: ArchiveProgress) => void } = {},
): Promise<number> {
  const sizes: number[] = [];
  for (const f of content.files) {
    if (!fileEntryName.test(f.entry)) throw new FlotillaError('INTERNAL', `bad archive entry name ${f.entry}`);
    const fd = await open(f.path, 'r');
    try {
      sizes.push((await fd.stat()).size);
    } finally {
      await fd.close();
    }
  }
  const manifest: Manifest = {
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    createdAt: new Date().toISOString(),
    engineVersion: content.engineVersion,
    files: content.files.map((f, i) => ({ entry: f.entry, role: f.role, size: sizes[i]! })),
  };
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const sums: Record<string, string> = {};
  const mtime = new Date();
  // opened here, exclusively, so an existing file is an error before any work starts
  const handle = await open(out, 'wx', 0o600);
  const tarball = pack();
  // no signal here: pipeline's abort destroys tar-stream's (streamx) stream with an error nobody
  // listens to; the loop below checks the signal at every chunk and tears down itself
  const written = pipeline(tarball, createWriteStream('', { fd: handle }));
  // a failure of the file side must not leave the entry writers below waiting forever
  written.catch(() => tarball.destroy());
  tarball.on('error', () => undefined); // it also rejects `written` and the entry callbacks
  const header = (name: string, size: number): Partial<Header> & { name: string } => ({ name, size, mode: 0o600, mtime, type: 'file' });
  const addJson = (name: string, value: unknown): Promise<void> => {
    const buf = Buffer.from(JSON.stringify(value, null, 2) + '\n');
    sums[name] = sha256(buf);
    return new Promise((resolve, reject) => tarball.entry(header(name, buf.length), buf, (err) => (err ? reject(err) : resolve())));
  };
  try {
    await addJson(MANIFEST_ENTRY, manifest);
    await addJson(SPEC_ENTRY, content.spec);
    for (const [i, f] of content.files.entries()) {
      checkAborted(o.signal);
      const hash = createHash('sha256');
      let entryDone!: () => void;
      let entryFailed!: (e: Error) => void;
      const finished = new Promise<void>((res, rej) => ((entryDone = res), (entryFailed = rej)));
      // the entry can fail while the loop below waits (cancel, a write error): awaited at its end
      finished.catch(() => undefined);
      const sink = tarball.entry(header(f.entry, sizes[i]!), (err) => (err ? entryFailed(err) : entryDone()));
      // read exactly the size recorded in the manifest: a file that grew would otherwise break the entry
      const chunks: AsyncIterable<Buffer> = sizes[i] === 0 ? (async function* () {})() : createReadStream(f.path, { start: 0, end: sizes[i]! - 1 });
      for await (const chunk of chunks) {
        checkAborted(o.signal);
        hash.update(chunk);
        if (!sink.write(chunk)) await Promise.race([once(sink as unknown as NodeJS.EventEmitter, 'drain'), finished]);
        done += chunk.length;
        o.onProgress?.({ done, total });
      }
      sink.end(undefined); // streamx types want an argument; none means "no more data"
      await finished;
      sums[f.entry] = hash.digest('hex');
    }
    await addJson(CHECKSUMS_ENTRY, { sha256: sums });
    tarball.finalize();
    await written;
  } catch (err) {
    tarball.destroy();
    await written.catch(() => undefined);
    if (o.signal?.aborted) throw new FlotillaError('CANCELLED', 'export cancelled');
    throw err;
  }
  const fd = await open(out, 'r');
  try {
    await fd.sync();
    return (await fd.stat()).size;
  } finally {
    await fd.close();
  }
}

export interface ReadOptions {
  /** write the files here (a fresh staging directory); without it only manifest and spec are read */
  extractTo?: string;
  signal?: AbortSignal;
  onProgress?: (p: ArchiveProgress) => void;
  /** bytes free where extractTo lives; default: statfs of extractTo */
  freeBytes?: number;
}

export interface ArchiveContents {
  manifest: Manifest;
  /** vm.json as parsed JSON; the caller validates it against the spec schema */
  spec: unknown;
  /** entry name → path written under extractTo */
  files: Map<string, string>;
}

function describeType(t: Header['type']): string {
  switch (t) {
    case 'symlink':
      return 'a symbolic link';
    case 'link':
      return 'a hard link';
    case 'directory':
      return 'a directory';
    case 'character-device':
    case 'block-device':
      return 'a device file';
    case 'fifo':
      return 'a FIFO';
    default:
      return `an entry of type ${String(t)}`;
  }
}

function unsafeName(name: string): string | null {
  if (name.startsWith('/')) return 'an absolute path';
  if (name.split('/').some((seg) => seg === '..')) return 'a path with ".."';
  if (name.includes('\0') || name.includes('\\')) return 'a path with NUL or backslash';
  return null;
}

async function readJson(entry: AsyncIterable<Buffer>, size: number): Promise<{ value: unknown; sum: string } | null> {
  const chunks: Buffer[] = [];
  for await (const c of entry) chunks.push(c);
  const buf = Buffer.concat(chunks);
  if (buf.length !== size) return null;
  try {
    return { value: JSON.parse(buf.toString('utf8')), sum: sha256(buf) };
  } catch {
    return { value: undefined, sum: sha256(buf) };
  }
}

/**
 * Reads and verifies an archive. Throws BAD_ARCHIVE naming the first problem. With extractTo,
 * the files are written there (exclusive create, 0600) and every checksum is verified before it
 * returns; on an error the caller removes extractTo.
 */
export async function readArchive(file: string, opts: ReadOptions = {}): Promise<ArchiveContents> {
  const o = opts.extractTo && opts.freeBytes === undefined ? { ...opts, freeBytes: await freeBytes(opts.extractTo) } : opts;
  const src = createReadStream(file);
  const ex = extract();
  src.on('error', (e) => ex.destroy(e));
  src.pipe(ex as unknown as NodeJS.WritableStream);
  const sums = new Map<string, string>();
  const files = new Map<string, string>();
  let manifest: Manifest | null = null;
  let spec: unknown;
  let index = 0;
  let checksums: Record<string, string> | null = null;
  let done = 0;
  try {
    for await (const entry of ex) {
      checkAborted(o.signal);
      const h = entry.header;
      const name = h.name;
      const unsafe = unsafeName(name);
      if (unsafe) throw bad(file, `entry ${JSON.stringify(name)} is ${unsafe}`, { entry: name });
      if (h.type !== 'file') throw bad(file, `entry ${JSON.stringify(name)} is ${describeType(h.type)}; an export holds only regular files`, { entry: name });
      const size = h.size ?? 0;
      if (checksums) throw bad(file, `unexpected entry ${JSON.stringify(name)} after ${CHECKSUMS_ENTRY}`, { entry: name });
      const expected = index === 0 ? MANIFEST_ENTRY : index === 1 ? SPEC_ENTRY : (manifest!.files[index - 2]?.entry ?? CHECKSUMS_ENTRY);
      if (name !== expected) {
        const dup = name === MANIFEST_ENTRY || name === SPEC_ENTRY || sums.has(name);
        throw bad(file, dup ? `entry ${JSON.stringify(name)} appears twice` : index === 0 ? `it is not a Flotilla export (first entry is ${JSON.stringify(name)}, not ${MANIFEST_ENTRY})` : `unexpected entry ${JSON.stringify(name)} (expected ${expected})`, { entry: name });
      }
      index++;
      if (name === MANIFEST_ENTRY || name === SPEC_ENTRY || name === CHECKSUMS_ENTRY) {
        if (size > MAX_JSON_BYTES) throw bad(file, `${name} is ${size} bytes, more than the ${MAX_JSON_BYTES} allowed`, { entry: name });
        const j = await readJson(entry as AsyncIterable<Buffer>, size);
        if (!j) throw bad(file, `the archive is truncated (in ${name})`, { entry: name });
        if (j.value === undefined) throw bad(file, `${name} is not valid JSON`, { entry: name });
        if (name !== CHECKSUMS_ENTRY) sums.set(name, j.sum);
        if (name === MANIFEST_ENTRY) manifest = parseManifest(file, j.value, o);
        else if (name === SPEC_ENTRY) {
          spec = j.value;
          if (!o.extractTo) break;
        } else checksums = parseChecksums(file, j.value);
        continue;
      }
      const meta = manifest!.files.find((f) => f.entry === name)!;
      if (size !== meta.size) throw bad(file, `${name} is ${size} bytes in the archive but ${meta.size} in the manifest`, { entry: name });
      const dest = join(o.extractTo!, name.slice(name.indexOf('/') + 1));
      const hash = createHash('sha256');
      const out = createWriteStream(dest, { flags: 'wx', mode: 0o600 });
      files.set(name, dest);
      let got = 0;
      await pipeline(
        async function* () {
          for await (const c of entry as AsyncIterable<Buffer>) {
            checkAborted(o.signal);
            hash.update(c);
            got += c.length;
            done += c.length;
            o.onProgress?.({ done, total: manifest!.files.reduce((a, f) => a + f.size, 0) });
            yield c;
          }
        },
        out,
      );
      if (got !== size) throw bad(file, `the archive is truncated (in ${name})`, { entry: name });
      const fd = await open(dest, 'r');
      await fd.sync().finally(() => fd.close());
      sums.set(name, hash.digest('hex'));
    }
  } catch (err) {
    if (err instanceof FlotillaError) throw err;
    const msg = (err as Error).message ?? String(err);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new FlotillaError('FILE_NOT_FOUND', `archive not found: ${file}`, { path: file });
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new FlotillaError('FILE_NOT_FOUND', `archive is a directory, not a file: ${file}`, { path: file });
    if (/Unexpected end of data/.test(msg)) throw bad(file, index === 0 ? 'it is not a Flotilla export (empty, or not a tar archive)' : 'the archive is truncated');
    if (/Invalid (tar )?header/.test(msg)) throw bad(file, index === 0 ? 'it is not a Flotilla export (not a tar archive)' : `the archive is corrupt after entry ${index} (${msg})`);
    throw bad(file, msg);
  } finally {
    src.destroy();
    ex.destroy();
  }
  if (!manifest || spec === undefined) throw bad(file, index === 0 ? 'it is not a Flotilla export (no entries)' : 'the archive is truncated');
  if (!o.extractTo) return { manifest, spec, files };
  if (!checksums) throw bad(file, `the archive is truncated (${CHECKSUMS_ENTRY} is missing)`);
  for (const [name, sum] of sums) {
    if (checksums[name] !== sum) throw bad(file, `${name} does not match its checksum (tampered or damaged)`, { entry: name });
  }
  const extra = Object.keys(checksums).find((n) => !sums.has(n));
  if (extra) throw bad(file, `${CHECKSUMS_ENTRY} names ${JSON.stringify(extra)}, which the archive does not hold`);
  return { manifest, spec, files };
}

function parseManifest(file: string, value: unknown, o: ReadOptions): Manifest {
  const v = value as { format?: unknown; version?: unknown } | null;
  if (!v || v.format !== ARCHIVE_FORMAT) throw bad(file, `it is not a Flotilla export (manifest format is ${JSON.stringify(v?.format)})`);
  if (typeof v.version === 'number' && v.version > ARCHIVE_VERSION) {
    throw bad(file, `it was made by a newer Flotilla (archive format ${v.version}; this one reads format ${ARCHIVE_VERSION})`);
  }
  const r = manifestSchema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw bad(file, `${MANIFEST_ENTRY} is invalid (${i.path.join('.') || 'manifest'}: ${i.message})`);
  }
  if (o.extractTo) {
    const need = r.data.files.reduce((a, f) => a + f.size, 0);
    if (o.freeBytes !== undefined && need + FREE_SPACE_MARGIN > o.freeBytes) {
      throw bad(file, `its files need ${need} bytes but only ${o.freeBytes} are free`, { need, free: o.freeBytes });
    }
  }
  return r.data;
}

function parseChecksums(file: string, value: unknown): Record<string, string> {
  const r = z
    .object({ sha256: z.record(z.string().max(200), z.string().regex(/^[0-9a-f]{64}$/)) })
    .strict()
    .safeParse(value);
  if (!r.success) throw bad(file, `${CHECKSUMS_ENTRY} is invalid`);
  return r.data.sha256;
}

/** Free bytes for an unprivileged writer on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
