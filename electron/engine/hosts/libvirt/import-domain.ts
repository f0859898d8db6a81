// An export archive (lifecycle/archive.ts) made into a new domain on a libvirt host: a VM moves
// from this computer, or from another host, to that one. The archive is read and verified here,
// as a local import verifies it (every checksum, each disk a self-contained qcow2 that passes
// qemu-img check), in a scratch directory of the data directory that the next engine sweeps if
// this one is killed. Then each disk goes into Flotilla's pool (`vol-create-as` + `vol-upload`,
// through the host's one ssh connection when it is remote; the bar follows virsh's place in the
// file, file-position.ts), the UEFI variables where libvirt looks for the domain's, and the
// domain is defined as a create defines it (create-domain.ts), on those volumes. Every volume is
// in the volume journal until the definition names it, so a failure, a Cancel or a killed engine
// leaves none behind.
//
// What the archive names of the computer it came from does not come along, and the result says
// so: shared folders (as for a local import), port forwards (libvirt hosts have none), and an ISO
// in the CD drive that is not an image in one of the host's pools (the drive is left empty). A VM
// that boots a kernel file of that computer is refused.
import { randomUUID } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImportResult, Progress, VmInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { qemuImgConvert } from '../../images';
import { badSpec, extractChecked, readImportHead } from '../../lifecycle/transfer';
import { HomeLayout } from '../../paths';
import { OVMF_VARS_FILE } from '../../qemu-args';
import { makeScratchDir } from '../../vm-store';
import type { BootContext } from './boot-update';
import { uploadNvram } from './clone-nvram';
import { createDomain, type ImportedDisks } from './create-domain';
import { ensurePool, POOL, volPath, volumeAt } from './storage';
import { uuidToId } from './virsh-parse';

const EXTRA_RE = /^extra-([1-9][0-9]?)\.qcow2$/;

/** What the import needs of its host. */
export interface ImportSide {
  ctx: BootContext;
  nameTaken(name: string): boolean;
  /** the new domain, once its definition's event is in, started if asked */
  defined(uuid: string, start: boolean): Promise<VmInfo>;
}

/** The root disk and the added ones (extra-<n>, vdb… by n) of an archive's disk list. */
function diskPlaces(file: string, disks: readonly string[]): { root: string; extras: { name: string; n: number }[] } {
  const [root, ...rest] = disks;
  if (!root) throw badSpec(file, 'the VM has no disk');
  const extras = rest.map((name) => {
    const n = Number(EXTRA_RE.exec(name)?.[1]);
    if (!n || n > 25) throw badSpec(file, `the disk ${name} is not one Flotilla adds (extra-<n>.qcow2, n from 1 to 25)`);
    return { name, n };
  });
  return { root, extras };
}

export async function importDomain(h: ImportSide, file: string, opts: { name?: string; start: boolean }, report: (id: string, p: Progress | null) => void, signal: AbortSignal): Promise<ImportResult> {
  const { virsh, journal, hostId } = h.ctx;
  const { head, config, disks, warnings } = await readImportHead(file, opts.name, signal);
  const src = config.source;
  if (src.kind === 'kernel') throw badSpec(file, `the VM boots the kernel ${src.kernel} of the computer it came from, and a VM on a libvirt host boots a kernel file of that host; import it on this computer instead`);
  if (config.firmware === 'uefi' && src.kind === 'default') throw badSpec(file, 'the built-in Linux boots with BIOS on libvirt hosts (qboot), and this one was set to UEFI');
  const places = diskPlaces(file, disks);
  if (config.forwards.length) {
    warnings.push(`its port forwards were not imported (${config.forwards.map((f) => `${f.proto}/${f.guestPort}`).join(', ')}): libvirt hosts have none; reach the guest at its address`);
    config.forwards = [];
  }
  if (h.nameTaken(config.name)) throw new FlotillaError('NAME_TAKEN', `a domain named ${config.name} exists on host ${hostId}; import it under another name (--name)`, { field: 'name' });

  const uuid = randomUUID();
  const id = uuidToId(uuid);
  const progress = (percent: number, message: string): void => report(id, { op: 'import', percent, message, newVm: config.name });
  const scratch = await makeScratchDir(new HomeLayout(h.ctx.home));
  /** the volumes made so far, and the journal records to drop once the definition names them */
  const made: string[] = [];
  const forget: (() => Promise<void>)[] = [];
  let nvram: Awaited<ReturnType<typeof uploadNvram>> = null;
  try {
    // reading and checking the archive: the first half of the bar; the uploads the second
    const { vars } = await extractChecked(file, head, scratch, { disks, uefi: config.firmware === 'uefi', signal, report: (pct, m) => progress(Math.floor(pct / 2), m) });
    await h.ctx.lock.run('storage', () => ensurePool(virsh));
    const sizes = await Promise.all(disks.map(async (d) => (await stat(join(scratch, d))).size));
    const total = sizes.reduce((a, b) => a + b, 0);
    let sent = 0;
    const paths = new Map<string, string>();
    for (const [i, d] of disks.entries()) {
      const vol = `${config.name}-${uuid.slice(0, 8)}-${d}`;
      const uploaded = (bytes: number): void => progress(50 + Math.floor(((sent + bytes) / Math.max(total, 1)) * 50), `uploading ${d} to ${hostId}`);
      uploaded(0);
      forget.push(await journal.track(POOL, vol, uuid));
      // made at the file's size as raw, written byte for byte, then read again by the pool refresh
      // below, which finds it is a qcow2 (the definition says so too)
      await virsh.run(['vol-create-as', '--pool', POOL, '--name', vol, '--capacity', `${sizes[i]}b`, '--format', 'raw'], { signal });
      made.push(vol);
      await virsh.run(['vol-upload', '--pool', POOL, '--vol', vol, '--file', join(scratch, d)], { timeoutMs: 3_600_000, signal, watch: { path: join(scratch, d), onBytes: uploaded } });
      sent += sizes[i]!;
      paths.set(d, await volPath(virsh, vol));
    }
    await h.ctx.lock.run('storage', () => virsh.run(['pool-refresh', '--pool', POOL]));
    if (vars) {
      // the archive's store is a local VM's (a qcow2 of OVMF's 4 MiB variables); libvirt's is the raw file
      const raw = join(scratch, 'vars.fd');
      await qemuImgConvert(join(scratch, OVMF_VARS_FILE), raw, { outFormat: 'raw', signal });
      nvram = await uploadNvram(virsh, journal, config.name, uuid, raw, (await stat(raw)).size);
      if (!nvram) warnings.push(`its UEFI variables (boot entries) were not imported: ${hostId} is not a system connection, whose directory for them Flotilla knows; the firmware starts from its blank template`);
    }
    const imported: ImportedDisks = { root: paths.get(places.root)!, extras: places.extras.map((x) => ({ path: paths.get(x.name)!, n: x.n })), volumes: made };
    if (src.kind === 'iso') {
      imported.cd = (await volumeAt(virsh, src.path)) ? src.path : null;
      if (!imported.cd) warnings.push(`its CD drive is empty: ${src.path} is not an image in a storage pool of ${hostId}; insert one with Insert CD`);
    }
    progress(100, `defining ${config.name} on ${hostId}`);
    await createDomain(h.ctx, config, uuid, imported);
    // defined: the volumes are the domain's now, whatever happens next
    made.length = 0;
    for (const f of forget.splice(0)) await f();
    await nvram?.forget();
    nvram = null;
    return { ...(await h.defined(uuid, opts.start)), warnings };
  } catch (err) {
    for (const v of made) await virsh.run(['vol-delete', '--pool', POOL, '--vol', v]).catch(() => undefined);
    await nvram?.undo().catch(() => undefined);
    throw err;
  } finally {
    for (const f of forget) await f();
    await nvram?.forget();
    await rm(scratch, { recursive: true, force: true });
    report(id, null);
  }
}
