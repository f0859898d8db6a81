// `flotilla export` and `flotilla import`: a stopped VM to one archive file and back (archive.ts
// has the format). Export writes a journaled temp file next to the destination and links or
// renames it into place only when complete, so a reader never sees half an archive and a killed
// engine's leftover is swept at the next start. Import verifies the whole archive inside the store's
// staging directory (invisible, swept after a crash) before the new VM's directory appears.
import { randomBytes } from 'node:crypto';
import { link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ExportResult, ImportResult } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { referencedDisk, vmConfigSchema, vmSpecSchema, type VmConfig } from '../../../shared/spec';
import { fsyncDir, TMP_SUFFIX } from '../atomic-file';
import { assertReadableFile, assertSelfContainedImage, inspectPath, qemuImgCheck, qemuImgConvert, qemuImgInfo } from '../images';
import { OVMF_VARS_FILE } from '../qemu-args';
import { ARCHIVE_VERSION, readArchive, writeArchive, type ArchiveContents, type ArchiveSource } from './archive';
import { percentOf, type OpsContext } from './ops-context';
import { partialNameFor, type TempJournal } from './temp-journal';

/** The destination's directory must exist; the destination must not be a directory, nor exist without force. */
export async function checkDestination(dest: string, force: boolean): Promise<void> {
  const dir = dirname(dest);
  const d = await stat(dir).catch(() => null);
  if (!d) throw new FlotillaError('FILE_NOT_FOUND', `the directory ${dir} does not exist; create it first or export elsewhere`, { path: dir });
  if (!d.isDirectory()) throw new FlotillaError('FILE_NOT_FOUND', `${dir} is not a directory`, { path: dir });
  const f = await stat(dest).catch(() => null);
  if (f?.isDirectory()) throw new FlotillaError('FILE_EXISTS', `${dest} is a directory; name the archive file to write`, { path: dest });
  if (f && !force) throw new FlotillaError('FILE_EXISTS', `${dest} already exists; pass --force to overwrite it`, { path: dest });
}


export async function exportVm(ctx: OpsContext, id: string, dest: string, force: boolean): Promise<ExportResult> {
  await checkDestination(dest, force);
  return ctx.runJob(id, 'export', async (signal, progress) => {
    ctx.requireStopped(id, 'exporting it');
    const spec = ctx.store.get(id);
    const ref = referencedDisk(spec);
    if (ref) {
      throw new FlotillaError('INVALID_STATE', `${spec.name} uses the disk ${ref} in place (by reference); an export holds only disks the VM owns. Create a VM that copies it (--disk-mode copy) to export it`, { path: ref });
    }
    const vmDir = ctx.layout.vmDir(id);
    const temps: string[] = [];
    const report = (pct: number, message: string): void => progress({ op: 'export', percent: pct, message });
    try {
      const files: ArchiveSource[] = [];
      for (const d of spec.disks) {
        let path = join(vmDir, d);
        // a linked clone's disk is an overlay: the archive gets it flattened, standalone
        if ((await qemuImgInfo(path)).backingFile !== undefined) {
          const flat = join(vmDir, `.export-${randomBytes(4).toString('hex')}-${d}${TMP_SUFFIX}`);
          temps.push(flat);
          report(0, `flattening ${d}`);
          await qemuImgConvert(path, flat, { outFormat: 'qcow2', signal, onProgress: (p) => report(p, `flattening ${d}`) });
          path = flat;
        }
        files.push({ entry: `disks/${d}`, role: 'disk', path });
      }
      const vars = join(vmDir, OVMF_VARS_FILE);
      if (spec.firmware === 'uefi' && (await stat(vars).catch(() => null))) files.push({ entry: `nvram/${OVMF_VARS_FILE}`, role: 'firmware-vars', path: vars });
      return await writeArchiveAt(ctx.journal, dest, force, { spec, files, engineVersion: ctx.engineVersion }, { signal, report });
    } finally {
      for (const t of temps) await rm(t, { force: true });
    }
  });
}

/**
 * Writes the archive of `content` to `dest`: into a journaled temp file beside it (a killed
 * engine's is swept by the next), then linked into place, or renamed over an existing file with
 * `force`. A reader never sees half an archive, and without `force` a file that appeared
 * meanwhile is never overwritten.
 */
export async function writeArchiveAt(
  journal: TempJournal,
  dest: string,
  force: boolean,
  content: { spec: unknown; files: ArchiveSource[]; engineVersion: string },
  o: { signal: AbortSignal; report: (pct: number, message: string) => void },
): Promise<ExportResult> {
  const tmp = join(dirname(dest), partialNameFor(dest));
  const untrack = await journal.track(tmp);
  try {
    o.report(0, `exporting to ${basename(dest)}`);
    const bytes = await writeArchive(tmp, content, { signal: o.signal, onProgress: (p) => o.report(percentOf(p.done, p.total), `exporting to ${basename(dest)}`) });
    if (force) await rename(tmp, dest);
    else {
      await link(tmp, dest).catch((e: NodeJS.ErrnoException) => {
        throw e.code === 'EEXIST' ? new FlotillaError('FILE_EXISTS', `${dest} already exists; pass --force to overwrite it`, { path: dest }) : e;
      });
      await rm(tmp, { force: true });
    }
    await fsyncDir(dirname(dest));
    return { path: dest, bytes, formatVersion: ARCHIVE_VERSION };
  } finally {
    await rm(tmp, { force: true });
    await untrack();
  }
}

export function badSpec(file: string, why: string): FlotillaError {
  return new FlotillaError('BAD_ARCHIVE', `${file} cannot be imported: ${why}; nothing was created`, { path: file });
}

/**
 * The archive's spec, checked and turned into a config for a new VM, on any host: its disks are
 * the archive's, it attaches no disk of the host by reference, and it shares no folder of the
 * host (those it named are left out, said in `warnings`). Where the VM boots from a file of the
 * host (ISO, kernel) is each host's to check.
 */
export function archiveConfig(file: string, raw: unknown, name: string | undefined, fileRoles: readonly { entry: string; role: string }[]): { config: VmConfig; disks: string[]; warnings: string[] } {
  const r = vmSpecSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw badSpec(file, `vm.json is not a valid VM spec (${i.path.join('.') || 'spec'}: ${i.message})`);
  }
  const spec = r.data;
  const disks = fileRoles.filter((f) => f.role === 'disk').map((f) => f.entry.slice('disks/'.length));
  if (JSON.stringify(disks) !== JSON.stringify(spec.disks)) throw badSpec(file, `vm.json lists disks ${JSON.stringify(spec.disks)} but the archive holds ${JSON.stringify(disks)}`);
  for (const f of fileRoles) {
    if (f.role === 'firmware-vars' && (f.entry !== `nvram/${OVMF_VARS_FILE}` || spec.firmware !== 'uefi')) throw badSpec(file, `unexpected firmware file ${f.entry}`);
  }
  const src = spec.source;
  // an archive may come from anyone: it must not make a VM that reads host files it names
  if (src.kind === 'disk' && src.mode === 'reference') throw badSpec(file, `the VM uses the host disk ${src.path} in place; an import cannot attach host disks`);
  if (src.kind === 'disk' && spec.disks.length === 0) throw badSpec(file, 'the VM has no disk');
  if (src.kind === 'kernel' && src.disk) throw badSpec(file, `the VM uses the host disk ${src.disk} in place; an import cannot attach host disks`);
  const keys = Object.keys(vmConfigSchema.shape) as (keyof VmConfig)[];
  const config = Object.fromEntries(keys.filter((k) => spec[k] !== undefined).map((k) => [k, spec[k]])) as VmConfig;
  if (name) config.name = name;
  // nor share folders of the host it names: the user shares them again, knowingly
  const warnings: string[] = [];
  if (config.shares?.length) {
    const list = config.shares.map((s) => `${s.hostPath} (${s.tag}${s.readOnly ? ', read-only' : ''})`).join(', ');
    warnings.push(`the shared folders of the exported VM were not imported: ${list}. An archive does not choose which folders of this computer a VM sees; share them again in Settings → Shared folders (flotilla share add)`);
    delete config.shares;
  }
  return { config, disks: spec.disks, warnings };
}

/**
 * The kernel and initrd the VM boots from must be what they claim to be, on this computer (else
 * refused). The ISO of a VM made from one is what its CD drive holds: one that is not an ISO here
 * leaves the drive empty, saying so (the installed system is on the disk). Returns whether the
 * drive is to be empty.
 */
async function checkLocalBootFiles(file: string, config: VmConfig, warnings: string[]): Promise<{ emptyCd: boolean }> {
  const src = config.source;
  const isA = async (path: string, kinds: string[], expect: 'iso' | 'kernel'): Promise<{ ok: boolean; exists: boolean }> => {
    const info = await inspectPath(path, expect);
    return { ok: info.readable && !!info.format && kinds.includes(info.format), exists: info.exists };
  };
  const mustBe = async (path: string, kinds: string[], what: string): Promise<void> => {
    const r = await isA(path, kinds, 'kernel');
    if (!r.ok) throw badSpec(file, `the VM boots from the ${what} ${path}, which ${r.exists ? `is not a ${what} on this host` : 'is not on this host'}; put it there first`);
  };
  if (src.kind === 'iso' && !(await isA(src.path, ['iso'], 'iso')).ok) {
    warnings.push(`its CD drive is empty: ${src.path} is not an ISO image on this computer; insert one with Insert CD`);
    return { emptyCd: true };
  }
  if (src.kind === 'kernel') {
    await mustBe(src.kernel, ['kernel', 'elf'], 'kernel');
    if (src.initrd) await mustBe(src.initrd, ['cpio', 'gzip', 'xz', 'zstd'], 'initrd');
  }
  return { emptyCd: false };
}

/**
 * Extracts the archive whose head was read as `head` into `dir` (disks/<name> → <name>, the UEFI
 * variables → OVMF_VARS_FILE) and checks what landed: the same head (the file may have changed
 * since), each disk a self-contained qcow2 that passes `qemu-img check`, a plain variable store.
 * Returns whether the variable store came with it.
 */
export async function extractChecked(
  file: string,
  head: ArchiveContents,
  dir: string,
  o: { disks: readonly string[]; uefi: boolean; signal?: AbortSignal; report: (pct: number, message: string) => void },
): Promise<{ vars: boolean }> {
  o.report(0, `importing ${basename(file)}`);
  const got = await readArchive(file, { extractTo: dir, ...(o.signal ? { signal: o.signal } : {}), onProgress: (p) => o.report(percentOf(p.done, p.total), `importing ${basename(file)}`) });
  if (JSON.stringify(got.spec) !== JSON.stringify(head.spec) || JSON.stringify(got.manifest) !== JSON.stringify(head.manifest)) {
    throw badSpec(file, 'the file changed while it was being imported');
  }
  for (const d of o.disks) {
    const path = join(dir, d);
    await assertSelfContainedImage(path, 'qcow2').catch((e: FlotillaError) => {
      throw badSpec(file, e.message);
    });
    o.report(100, `checking ${d}`);
    const check = await qemuImgCheck(path, o.signal);
    if (check.exitCode !== 0) throw badSpec(file, `disk ${d} fails qemu-img check (exit ${check.exitCode}): ${check.summary.split('\n').at(-1)}`);
  }
  const vars = o.uefi && got.files.has(`nvram/${OVMF_VARS_FILE}`);
  if (vars) {
    await assertSelfContainedImage(join(dir, OVMF_VARS_FILE), OVMF_VARS_FILE.endsWith('.qcow2') ? 'qcow2' : 'raw').catch((e: FlotillaError) => {
      throw badSpec(file, e.message);
    });
  }
  // a Cancel during a step that does not watch the signal still ends the import here, before anything is committed
  o.signal?.throwIfAborted();
  return { vars };
}

/** An import's first step on any host: the archive's head read and verified, and its spec made a config (archiveConfig). */
export async function readImportHead(file: string, name: string | undefined, signal?: AbortSignal): Promise<{ head: ArchiveContents } & ReturnType<typeof archiveConfig>> {
  await assertReadableFile(file);
  const head = await readArchive(file, signal ? { signal } : {});
  return { head, ...archiveConfig(file, head.spec, name, head.manifest.files) };
}

/** Not a job of any VM (there is none yet): it runs to the end or fails; a killed engine's staging dir is swept. */
export async function importVm(ctx: OpsContext, file: string, name: string | undefined, start: boolean, signal?: AbortSignal): Promise<ImportResult> {
  const { head, config, disks, warnings } = await readImportHead(file, name, signal);
  const { emptyCd } = await checkLocalBootFiles(file, config, warnings);
  const spec = await ctx.store.create(config, {
    beforeCommit: async (s, staging) => {
      const report = (pct: number, message: string): void => ctx.progress(s.id, { op: 'import', percent: pct, message, newVm: s.name });
      await extractChecked(file, head, staging, { disks, uefi: config.firmware === 'uefi', report, ...(signal ? { signal } : {}) });
      s.disks.push(...disks);
      if (emptyCd) s.cdrom = null;
    },
  });
  ctx.progress(spec.id, null);
  return { ...(await ctx.added(spec, start)), warnings };
}
