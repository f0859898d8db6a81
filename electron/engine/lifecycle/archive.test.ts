// The export archive's reader against real tar files: a round trip, and every kind of broken or
// hostile archive (made with tar-stream's packer and GNU tar) refused with a clear error, with
// nothing written outside the staging directory.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack, type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../../shared/errors';
import { ARCHIVE_VERSION, MAX_FILE_BYTES, readArchive, writeArchive, type Manifest } from './archive';

let dir: string;
let disk: Buffer;
let vars: Buffer;
const spec = { name: 'web', marker: 'spec' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-archive-'));
  disk = randomBytes(300_000);
  vars = randomBytes(4096);
  await writeFile(join(dir, 'disk.qcow2'), disk);
  await writeFile(join(dir, 'vars.fd'), vars);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function goodArchive(name: string): Promise<string> {
  const out = join(dir, name);
  await writeArchive(
    out,
    {
      spec,
      engineVersion: 'test',
      files: [
        { entry: 'disks/disk.qcow2', role: 'disk', path: join(dir, 'disk.qcow2') },
        { entry: 'nvram/vars.fd', role: 'firmware-vars', path: join(dir, 'vars.fd') },
      ],
    },
    {},
  );
  return out;
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

interface Craft {
  header: Partial<Header> & { name: string };
  body?: Buffer;
}

/** Writes a tar of exactly these entries (tar-stream's packer, so headers are well-formed). */
async function craft(name: string, entries: Craft[]): Promise<string> {
  const out = join(dir, name);
  const p = pack();
  const done = pipeline(p, createWriteStream(out));
  for (const e of entries) {
    await new Promise<void>((res, rej) => p.entry({ mode: 0o644, ...e.header }, e.body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  }
  p.finalize();
  await done;
  return out;
}

function manifestFor(files: Manifest['files']): Manifest {
  return { format: 'flotilla-vm', version: ARCHIVE_VERSION, createdAt: 'now', engineVersion: 'test', files };
}

/** A complete, consistent archive of the given file entries, with optional edits after the fact. */
function wellFormed(files: { entry: string; body: Buffer }[]): Craft[] {
  const m = json(manifestFor(files.map((f) => ({ entry: f.entry, role: f.entry.startsWith('disks/') ? 'disk' : 'firmware-vars', size: f.body.length }))));
  const s = json(spec);
  const sums: Record<string, string> = { 'manifest.json': sha(m), 'vm.json': sha(s) };
  for (const f of files) sums[f.entry] = sha(f.body);
  return [
    { header: { name: 'manifest.json' }, body: m },
    { header: { name: 'vm.json' }, body: s },
    ...files.map((f) => ({ header: { name: f.entry }, body: f.body })),
    { header: { name: 'checksums.json' }, body: json({ sha256: sums }) },
  ];
}

async function staging(): Promise<string> {
  const d = await mkdtemp(join(dir, 'stage-'));
  return d;
}

async function refused(file: string, pattern: RegExp, freeBytes?: number): Promise<void> {
  const to = await staging();
  const before = (await readdir(dir)).sort();
  const err = await readArchive(file, { extractTo: to, ...(freeBytes === undefined ? {} : { freeBytes }) }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, file).toBeInstanceOf(FlotillaError);
  expect((err as FlotillaError).code).toBe('BAD_ARCHIVE');
  expect((err as FlotillaError).message).toMatch(pattern);
  expect((err as FlotillaError).message).toMatch(/nothing was created$/);
  // nothing appeared next to the staging directory (no escaped `../` write)
  expect((await readdir(dir)).sort()).toEqual(before);
  await rm(to, { recursive: true, force: true });
}

// a 60 s budget per case: writes and extractions fsync, which on a loaded shared box took seconds
describe('export archive', { timeout: 60_000 }, () => {
  it('round-trips manifest, spec and files with matching checksums', async () => {
    const file = await goodArchive('good.tar');
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(listing.split('\n').filter(Boolean).map((l) => l.split(/\s+/).at(-1))).toEqual(['manifest.json', 'vm.json', 'disks/disk.qcow2', 'nvram/vars.fd', 'checksums.json']);
    const to = await staging();
    const r = await readArchive(file, { extractTo: to });
    expect(r.spec).toEqual(spec);
    expect(r.manifest.files).toEqual([
      { entry: 'disks/disk.qcow2', role: 'disk', size: disk.length },
      { entry: 'nvram/vars.fd', role: 'firmware-vars', size: vars.length },
    ]);
    expect(await readFile(join(to, 'disk.qcow2'))).toEqual(disk);
    expect(await readFile(join(to, 'vars.fd'))).toEqual(vars);
    expect((await readdir(to)).sort()).toEqual(['disk.qcow2', 'vars.fd']);
    // peek mode reads only the head
    const head = await readArchive(file);
    expect(head.spec).toEqual(spec);
    expect(head.files.size).toBe(0);
  });

  it('never overwrites: the output is created exclusively', async () => {
    const file = await goodArchive('exclusive.tar');
    await expect(goodArchive('exclusive.tar')).rejects.toThrow(/EEXIST/);
    expect((await readArchive(file)).spec).toEqual(spec);
  });

  it('refuses a file that is not an archive, an empty file and a missing one', async () => {
    const text = join(dir, 'notes.txt');
    await writeFile(text, 'hello, this is not a tar archive at all\n'.repeat(40));
    await refused(text, /is not a Flotilla export \(not a tar archive\)/);
    const empty = join(dir, 'empty.tar');
    await writeFile(empty, '');
    await refused(empty, /not a Flotilla export/);
    await expect(readArchive(join(dir, 'missing.tar'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    // a valid tar of something else
    await mkdir(join(dir, 'other'));
    await writeFile(join(dir, 'other', 'a.txt'), 'a');
    const other = join(dir, 'other.tar');
    execFileSync('tar', ['-cf', other, '-C', join(dir, 'other'), 'a.txt']);
    await rm(join(dir, 'other'), { recursive: true });
    await refused(other, /not a Flotilla export \(first entry is "a.txt"/);
  });

  it('refuses truncated archives, cut anywhere', async () => {
    const file = await goodArchive('cut-src.tar');
    const size = (await readFile(file)).length;
    for (const cut of [600, 1500, 200_000, size - 2048, size - 1100]) {
      const copy = join(dir, `cut-${cut}.tar`);
      await writeFile(copy, await readFile(file));
      await truncate(copy, cut);
      await refused(copy, /truncated|not a Flotilla export/);
      await rm(copy);
    }
    await rm(file);
  });

  it('refuses tampered data, manifest or checksums', async () => {
    const file = await goodArchive('tamper-src.tar');
    const buf = await readFile(file);
    const at = buf.indexOf(disk.subarray(1000, 1032));
    buf[at] = buf[at]! ^ 0xff;
    const tampered = join(dir, 'tampered.tar');
    await writeFile(tampered, buf);
    await refused(tampered, /disks\/disk.qcow2 does not match its checksum/);
    await rm(file);
    await rm(tampered);
    const entries = wellFormed([{ entry: 'disks/disk.qcow2', body: Buffer.from('abc') }]);
    entries[1]!.body = json({ ...spec, name: 'evil' });
    await refused(await craft('spec-edit.tar', entries), /vm.json does not match its checksum/);
  });

  it('refuses unsafe names and entry types', async () => {
    const base = wellFormed([{ entry: 'disks/disk.qcow2', body: Buffer.from('abc') }]);
    const cases: [string, Craft, RegExp][] = [
      ['dotdot', { header: { name: '../escape' }, body: Buffer.from('x') }, /"..\/escape" is a path with ".."/],
      ['dotdot-inner', { header: { name: 'disks/../../escape' }, body: Buffer.from('x') }, /is a path with ".."/],
      ['absolute', { header: { name: '/tmp/escape' }, body: Buffer.from('x') }, /"\/tmp\/escape" is an absolute path/],
      ['symlink', { header: { name: 'disks/disk.qcow2', type: 'symlink', linkname: '/etc/passwd' } }, /is a symbolic link/],
      ['hardlink', { header: { name: 'disks/disk.qcow2', type: 'link', linkname: 'vm.json' } }, /is a hard link/],
      ['chardev', { header: { name: 'disks/disk.qcow2', type: 'character-device', devmajor: 1, devminor: 3 } }, /is a device file/],
      ['dir', { header: { name: 'disks/', type: 'directory' } }, /is a directory/],
      ['fifo', { header: { name: 'disks/disk.qcow2', type: 'fifo' } }, /is a FIFO/],
    ];
    for (const [label, bad, re] of cases) {
      await refused(await craft(`${label}.tar`, [base[0]!, base[1]!, bad, ...base.slice(2)]), re);
    }
    expect(await readdir(dir)).not.toContain('escape');
  });

  it('refuses duplicates, extra and missing entries', async () => {
    const base = wellFormed([{ entry: 'disks/disk.qcow2', body: Buffer.from('abc') }]);
    await refused(await craft('dup-manifest.tar', [base[0]!, base[0]!, ...base.slice(1)]), /"manifest.json" appears twice/);
    await refused(await craft('dup-disk.tar', [...base.slice(0, 3), base[2]!, base[3]!]), /"disks\/disk.qcow2" appears twice/);
    await refused(await craft('extra.tar', [...base, { header: { name: 'README' }, body: Buffer.from('x') }]), /unexpected entry "README" after checksums.json/);
    await refused(await craft('no-sums.tar', base.slice(0, 3)), /checksums.json is missing/);
    await refused(await craft('no-disk.tar', [base[0]!, base[1]!, base[3]!]), /unexpected entry "checksums.json" \(expected disks\/disk.qcow2\)/);
  });

  it('refuses absurd or inconsistent sizes before writing anything big', async () => {
    const body = Buffer.from('abc');
    const withManifest = (files: Manifest['files']): Craft[] => {
      const e = wellFormed([{ entry: 'disks/disk.qcow2', body }]);
      e[0]!.body = json(manifestFor(files));
      return e;
    };
    await refused(await craft('huge.tar', withManifest([{ entry: 'disks/disk.qcow2', role: 'disk', size: MAX_FILE_BYTES + 1 }])), /manifest.json is invalid \(files.0.size/);
    await refused(await craft('lying.tar', withManifest([{ entry: 'disks/disk.qcow2', role: 'disk', size: 2 }])), /is 3 bytes in the archive but 2 in the manifest/);
    await refused(await craft('nospace.tar', wellFormed([{ entry: 'disks/disk.qcow2', body }])), /need 3 bytes but only 1000 are free/, 1000);
    const bigJson = wellFormed([{ entry: 'disks/disk.qcow2', body }]);
    bigJson[1]!.body = Buffer.alloc(2 << 20, 0x20);
    await refused(await craft('bigjson.tar', bigJson), /vm.json is 2097152 bytes, more than/);
    const traversalName = withManifest([{ entry: '../x' as string, role: 'disk', size: 3 }]);
    await refused(await craft('badname.tar', traversalName), /manifest.json is invalid/);
  });

  it('refuses an archive from a newer format version with words saying so', async () => {
    const e = wellFormed([]);
    e[0]!.body = json({ ...manifestFor([]), version: ARCHIVE_VERSION + 1 });
    await refused(await craft('newer.tar', e), /made by a newer Flotilla \(archive format 2; this one reads format 1\)/);
  });

  it('keeps an entry from escaping through a symlink planted in the staging directory', async () => {
    // belt and braces: files are created with O_EXCL, so even a pre-existing link is not followed
    const to = await staging();
    await symlink('/tmp/flotilla-should-not-exist', join(to, 'disk.qcow2'));
    const file = await craft('plain.tar', wellFormed([{ entry: 'disks/disk.qcow2', body: Buffer.from('abc') }]));
    await expect(readArchive(file, { extractTo: to })).rejects.toThrow(/EEXIST/);
    await expect(readFile('/tmp/flotilla-should-not-exist')).rejects.toThrow(/ENOENT/);
  });
});
