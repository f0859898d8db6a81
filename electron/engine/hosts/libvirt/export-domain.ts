// A shut-off libvirt domain written to an export archive on this computer, the same format a local
// VM's export has (lifecycle/archive.ts): imported here or on another host, the VM moves. Each of
// its own disks is read out of its storage pool with `vol-download` (through the host's one ssh
// connection when it is remote), into a scratch directory of the data directory that the next
// engine sweeps if this one is killed; a raw one becomes a qcow2 on the way. A UEFI domain's
// variable store comes too (from libvirt's nvram directory, as clone-nvram.ts reaches it). The
// archive's vm.json is the VM's spec as the tile shows it, its disks named as a local VM's are:
// the first one disk.qcow2, an added one extra-<n>.qcow2 (n from its target: vdb is 1), so the
// built-in Linux mounts them where it did. A domain made outside Flotilla is exported as a VM made
// from a copy of its first disk.
//
// Refused, saying why: a running domain (its disks are changing), a disk outside every storage
// pool (libvirt cannot read it out), a disk backed by another image (its base is on that host), a
// domain that boots a kernel file of its host (other than the built-in Linux).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExportResult, VmInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import type { VmSpec } from '../../../../shared/spec';
import { assertSelfContainedImage, qemuImgConvert, qemuImgInfo } from '../../images';
import type { ArchiveSource } from '../../lifecycle/archive';
import type { TempJournal } from '../../lifecycle/temp-journal';
import { writeArchiveAt } from '../../lifecycle/transfer';
import { HomeLayout } from '../../paths';
import { OVMF_VARS_FILE, VM_DISK_FILE } from '../../qemu-args';
import { makeScratchDir } from '../../vm-store';
import { onSystemConnection, SYSTEM_NVRAM_DIR, varsName, withDirPool } from './clone-nvram';
import { extraNumber } from './domain-disks';
import { bootsUefi, diskElements, ownDiskTargets } from './domain-xml';
import { volumeAt, volumeBytes } from './storage';
import type { Virsh } from './virsh';

export interface ExportSide {
  virsh: Virsh;
  hostId: string;
  home: string;
  /** this computer's journal of temp files outside the data directory (the partial archive) */
  journal: TempJournal;
  engineVersion: string;
}

/** The archive's names for the domain's own disks, by target: the first disk.qcow2, vd<x> extra-<n>. */
export function archiveDiskNames(targets: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<number>();
  targets.forEach((t, i) => {
    if (i === 0) return void names.set(t, VM_DISK_FILE);
    let n = extraNumber(t) ?? 1;
    while (taken.has(n)) n++;
    taken.add(n);
    names.set(t, `extra-${n}.qcow2`);
  });
  return names;
}

export async function exportDomain(x: ExportSide, vm: { uuid: string; info: VmInfo }, dest: string, force: boolean, signal: AbortSignal, report: (pct: number, message: string) => void): Promise<ExportResult> {
  const { virsh, hostId } = x;
  const name = vm.info.name;
  const xml = (await virsh.run(['dumpxml', '--inactive', '--domain', vm.uuid])).stdout;
  const spec: VmSpec = { ...vm.info.spec };
  const builtIn = spec.source.kind === 'default';
  if (!builtIn && /<kernel>/.test(xml)) throw new FlotillaError('UNSUPPORTED', `${name} boots a kernel file of ${hostId}, which an export does not carry; only its disks would go`);
  const targets = ownDiskTargets(xml);
  if (targets.length === 0) throw new FlotillaError('UNSUPPORTED', `${name} has no disk of its own to export`);
  const elements = diskElements(xml);
  const names = archiveDiskNames(targets);
  const scratch = await makeScratchDir(new HomeLayout(x.home));
  try {
    const files: ArchiveSource[] = [];
    for (const [i, t] of targets.entries()) {
      const el = elements.find((e) => e.target === t);
      const vol = el?.source ? await volumeAt(virsh, el.source) : null;
      if (!el?.source || !vol) throw new FlotillaError('UNSUPPORTED', `${name}'s disk ${t}${el?.source ? ` (${el.source})` : ''} is not a volume of a storage pool on ${hostId}, so libvirt cannot read it out`);
      const entry = names.get(t)!;
      const got = join(scratch, `${entry}.download`);
      // each disk's share of the first half of the bar: downloading it, then (a raw disk) converting it
      const disk = (frac: number, what: string): void => report(Math.floor(((i + Math.min(frac, 1)) / targets.length) * 50), `${what} ${t}${what === 'downloading' ? ` from ${hostId}` : ''}`);
      disk(0, 'downloading');
      const size = await volumeBytes(virsh, vol);
      await virsh.run(['vol-download', '--pool', vol.pool, '--vol', vol.name, '--file', got, '--sparse'], { timeoutMs: 3_600_000, signal, watch: { path: got, onBytes: (n) => size && disk((n / size) * 0.5, 'downloading') } });
      // what came is the host's: judged here before anything reads it as a disk
      const info = await qemuImgInfo(got);
      if (info.backingFile !== undefined) throw new FlotillaError('UNSUPPORTED', `${name}'s disk ${t} is an overlay backed by ${info.backingFile} on ${hostId}; an export holds standalone disks (flatten it there first, e.g. virsh blockpull)`);
      if (info.format !== 'qcow2' && info.format !== 'raw') throw new FlotillaError('UNSUPPORTED', `${name}'s disk ${t} is a ${info.format} image; an export takes qcow2 or raw disks`);
      await assertSelfContainedImage(got, info.format);
      let path = got;
      if (info.format === 'raw') {
        path = join(scratch, entry);
        await qemuImgConvert(got, path, { srcFormat: 'raw', outFormat: 'qcow2', signal, onProgress: (p) => disk(0.5 + p / 200, 'converting') });
        await rm(got, { force: true });
      }
      files.push({ entry: `disks/${entry}`, role: 'disk', path });
    }
    spec.disks = targets.map((t) => names.get(t)!);
    // a domain made outside Flotilla: a VM made from a copy of its first disk
    if (spec.source.kind === 'disk' && spec.source.mode === 'reference') spec.source = { kind: 'disk', mode: 'copy', path: elements.find((e) => e.target === targets[0])!.source! };
    if (bootsUefi(xml) && onSystemConnection(virsh)) {
      const raw = join(scratch, 'vars.fd');
      const have = await withDirPool(virsh, SYSTEM_NVRAM_DIR, (pool) =>
        virsh.run(['vol-download', '--pool', pool, '--vol', varsName(name), '--file', raw]).then(
          () => true,
          () => false,
        ),
      );
      if (have) {
        await qemuImgConvert(raw, join(scratch, OVMF_VARS_FILE), { srcFormat: 'raw', outFormat: 'qcow2', signal });
        files.push({ entry: `nvram/${OVMF_VARS_FILE}`, role: 'firmware-vars', path: join(scratch, OVMF_VARS_FILE) });
      }
    }
    return await writeArchiveAt(x.journal, dest, force, { spec, files, engineVersion: x.engineVersion }, { signal, report: (pct, m) => report(50 + Math.floor(pct / 2), m) });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
