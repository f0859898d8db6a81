// A libvirt domain's disks, with libvirt's own commands, as Cockpit's and virt-manager's disk
// pages do: list (`domblklist --details`, sizes from `domblkinfo`), add a blank qcow2 volume in
// Flotilla's pool (`vol-create-as` + `attach-disk --config`, shut off), grow one (`blockresize`
// while it runs, `vol-resize` of its pool volume when shut off; never shrink) and remove an added
// one (`detach-disk --config`; its volume is deleted only when it is one Flotilla made, in its own
// pool: an image of the user's stays on the host). The CD: `change-media`, live and in the
// definition while it runs. What virsh prints is the host's text: targets are matched against a
// strict pattern before they are used, paths are only shown.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { DiskInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { assertGrows, madeWith, snapshotsNeedIt } from '../../disk-words';
import type { CdDrive } from './domain-xml';
import { createDiskVolume, deleteVolume, ensurePool, listPoolVolumes, POOL, volumeAt } from './storage';
import type { Virsh } from './virsh';
import type { VolumeJournal } from './volume-journal';

const GiB = 2 ** 30;
const TARGET_RE = /^[a-z]{2,3}[a-z0-9]{1,8}$/;
/** how many disks Flotilla attaches to a domain at most, as to a local VM */
const MAX_DISKS = 8;

export interface BlockDevice {
  device: string;
  target: string;
  /** the image's path on the host; null for an empty drive */
  source: string | null;
}

/** `virsh domblklist --details`: type, device, target, source (the rest of the line: a path may hold spaces). */
export function parseBlkList(text: string): BlockDevice[] {
  const out: BlockDevice[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(disk|cdrom|floppy|lun)\s+(\S+)\s+(.*?)\s*$/.exec(line);
    if (!m || !TARGET_RE.test(m[3]!)) continue;
    const src = m[4]!;
    // eslint-disable-next-line no-control-regex
    out.push({ device: m[2]!, target: m[3]!, source: src === '-' || !src.startsWith('/') || /[\u0000-\u001f]/.test(src) ? null : src });
  }
  return out;
}

/** `virsh domblkinfo`: capacity and allocation in bytes, or null when it printed neither. */
export function parseBlkInfo(text: string): { capacity: number; allocation: number | null } | null {
  const cap = /^Capacity:\s+(\d+)\s*$/m.exec(text);
  if (!cap) return null;
  const alloc = /^Allocation:\s+(\d+)\s*$/m.exec(text);
  return { capacity: Number(cap[1]), allocation: alloc ? Number(alloc[1]) : null };
}

/** The number of an added disk by its target (vdb → 1, vdc → 2, …): its serial is flotilla-extra-<n>. */
export function extraNumber(target: string): number | null {
  const m = /^vd([b-z])$/.exec(target);
  return m ? m[1]!.charCodeAt(0) - 'a'.charCodeAt(0) : null;
}

/** Added disk number n's target (1 → vdb) and serial (flotilla-extra-<n>), the inverse of extraNumber. */
export function extraDisk(n: number): { target: string; serial: string } {
  return { target: `vd${String.fromCharCode('a'.charCodeAt(0) + n)}`, serial: `flotilla-extra-${n}` };
}

/** The next free virtio target (vdb, vdc, …) among those in use. */
export function nextTarget(used: readonly string[]): string {
  for (let c = 'b'.charCodeAt(0); c <= 'z'.charCodeAt(0); c++) {
    const t = `vd${String.fromCharCode(c)}`;
    if (!used.includes(t)) return t;
  }
  throw new FlotillaError('BAD_REQUEST', 'no free virtio disk name (vdb … vdz) is left on this domain');
}


/** What a domain's disk operations need: its host's virsh, its UUID and name, its state and its snapshots. */
export interface DomainRef {
  virsh: Virsh;
  uuid: string;
  name: string;
  host: string;
  /** the host is this computer: paths can be checked here too */
  local: boolean;
  running: boolean;
  /** the built-in Linux, which mounts the disks Flotilla adds (serial flotilla-extra-<n>) at /mnt/extra-<n> */
  builtIn: boolean;
  snapshots: () => Promise<string[]>;
  /** serializes work on Flotilla's pool with the host's other users of it */
  storageLock: <T>(fn: () => Promise<T>) => Promise<T>;
  /** records a new volume until the definition names it */
  journal: VolumeJournal;
}

async function blockDisks(d: DomainRef): Promise<BlockDevice[]> {
  return parseBlkList((await d.virsh.run(['domblklist', '--domain', d.uuid, '--details'])).stdout).filter((b) => b.device === 'disk');
}

function find(d: DomainRef, disks: BlockDevice[], target: string | undefined): BlockDevice {
  if (disks.length === 0) throw new FlotillaError('INVALID_STATE', `${d.name} has no disk`);
  const want = target ?? disks[0]!.target;
  const disk = disks.find((b) => b.target === want);
  if (!disk) throw new FlotillaError('NOT_FOUND', `${d.name} has no disk ${want}; its disks are ${disks.map((b) => b.target).join(', ')}`);
  return disk;
}

/** Why `disk` must stay (a clause about "it"), or null; `first`: the disk the domain was made with. */
function keptBecause(d: DomainRef, first: boolean, snapshots: readonly string[]): string | null {
  return first ? madeWith(d.name) : snapshotsNeedIt(snapshots);
}

export async function listDomainDisks(d: DomainRef): Promise<DiskInfo[]> {
  const disks = await blockDisks(d);
  const snapshots = disks.length > 1 ? await d.snapshots() : [];
  return Promise.all(
    disks.map(async (b, i) => {
      const info = await d.virsh.run(['domblkinfo', '--domain', d.uuid, '--device', b.target]).then((r) => parseBlkInfo(r.stdout), () => null);
      const kept = keptBecause(d, i === 0, snapshots);
      const own = i > 0 && b.source ? (await volumeAt(d.virsh, b.source))?.pool === POOL : false;
      const n = extraNumber(b.target);
      return {
        name: b.target,
        virtualSize: info?.capacity ?? 0,
        actualSize: info?.allocation ?? null,
        ...(b.source ? { path: b.source } : {}),
        added: i > 0,
        ...(i > 0 && !own ? { removeKeepsFile: true } : {}),
        ...(own && d.builtIn && n !== null ? { guestMount: `/mnt/extra-${n}` } : {}),
        ...(kept ? { keptBecause: kept } : {}),
      };
    }),
  );
}

/** Grows a disk (default: the first): online while the domain runs, its pool volume when shut off. */
export async function resizeDomainDisk(d: DomainRef, target: string | undefined, sizeGiB: number): Promise<DiskInfo> {
  const disk = find(d, await blockDisks(d), target);
  const want = sizeGiB * GiB;
  const now = parseBlkInfo((await d.virsh.run(['domblkinfo', '--domain', d.uuid, '--device', disk.target])).stdout)?.capacity;
  if (now === undefined) throw new FlotillaError('INTERNAL', `libvirt did not say how large ${disk.target} of ${d.name} is`);
  assertGrows(disk.target, d.name, now, want);
  if (d.running) {
    await d.virsh.run(['blockresize', '--domain', d.uuid, '--path', disk.target, '--size', `${want}b`]);
  } else {
    const vol = disk.source ? await volumeAt(d.virsh, disk.source) : null;
    if (!vol) throw new FlotillaError('UNSUPPORTED', `${disk.source ?? disk.target} is not a volume of a storage pool on ${d.host}, so it cannot be grown while ${d.name} is shut off; start ${d.name} to grow it online`);
    await d.virsh.run(['vol-resize', '--pool', vol.pool, '--vol', vol.name, '--capacity', `${want}b`]);
  }
  const after = parseBlkInfo((await d.virsh.run(['domblkinfo', '--domain', d.uuid, '--device', disk.target])).stdout);
  return { name: disk.target, virtualSize: after?.capacity ?? want, actualSize: after?.allocation ?? null, ...(disk.source ? { path: disk.source } : {}), online: d.running };
}

/** A blank qcow2 volume in Flotilla's pool, attached to the shut-off domain as the next virtio disk. */
export async function addDomainDisk(d: DomainRef, sizeGiB: number): Promise<string> {
  const disks = await blockDisks(d);
  if (disks.length >= MAX_DISKS) throw new FlotillaError('BAD_REQUEST', `${d.name} already has ${disks.length} disks; 8 is the most Flotilla attaches`);
  const all = parseBlkList((await d.virsh.run(['domblklist', '--domain', d.uuid, '--details'])).stdout).map((b) => b.target);
  const target = nextTarget(all);
  const vol = `${d.uuid.slice(0, 8)}-${target}-${randomBytes(3).toString('hex')}.qcow2`;
  // a killed engine leaves a record, and the next one deletes the volume unless the definition names it
  const forget = await d.journal.track(POOL, vol, d.uuid);
  try {
    const path = await d.storageLock(async () => {
      await ensurePool(d.virsh);
      return createDiskVolume(d.virsh, vol, sizeGiB);
    });
    try {
      // the serial by which the built-in Linux mounts it at /mnt/extra-<n>, as for a local VM
      await d.virsh.run(['attach-disk', '--domain', d.uuid, '--source', path, '--target', target, '--driver', 'qemu', '--subdriver', 'qcow2', '--targetbus', 'virtio', '--serial', extraDisk(extraNumber(target)!).serial, '--config']);
    } catch (err) {
      await deleteVolume(d.virsh, vol).catch(() => undefined);
      throw err;
    }
  } finally {
    await forget();
  }
  return target;
}

/** Detaches an added disk from the shut-off domain; deletes its volume if Flotilla made it (in its pool). */
export async function removeDomainDisk(d: DomainRef, target: string): Promise<void> {
  const disks = await blockDisks(d);
  const disk = find(d, disks, target);
  const kept = keptBecause(d, disk === disks[0], await d.snapshots());
  if (kept) throw new FlotillaError('INVALID_STATE', `cannot remove ${disk.target} from ${d.name}: ${kept}`);
  const vol = disk.source ? await volumeAt(d.virsh, disk.source) : null;
  // the definition first: a failure after it leaves a volume nothing names, never a domain naming none
  await d.virsh.run(['detach-disk', '--domain', d.uuid, '--target', disk.target, '--config']);
  if (vol?.pool === POOL) {
    await deleteVolume(d.virsh, vol.name).catch((err: unknown) => {
      throw new FlotillaError('INTERNAL', `${disk.target} was detached from ${d.name}, but its volume ${vol.name} in pool ${POOL} on ${d.host} could not be deleted (${(err as Error).message}); delete it with virsh vol-delete`);
    });
  }
}

/**
 * Puts an image (a path on the host) in the domain's CD drive, or empties it (null): the live drive
 * and the definition while it runs, the definition when it is shut off, as virt-manager does.
 * False when there was nothing to do.
 */
export async function changeDomainMedia(d: DomainRef, drive: CdDrive, iso: string | null): Promise<boolean> {
  if (iso === null && drive.medium === null) return false;
  // QEMU opens a running domain's new image at once; a definition takes any path, which would
  // fail only at the next start, so it is looked for first where that is possible
  if (iso !== null && !d.running) await checkImage(d, iso, d.local);
  const where = d.running ? ['--live', '--config'] : ['--config'];
  const what = iso === null ? ['--eject'] : ['--update', '--source', iso];
  await d.virsh.run(['change-media', '--domain', d.uuid, '--path', drive.target, ...what, ...where]);
  return true;
}

/**
 * Refuses an image that is not on the host. Found: a volume of one of its pools (refreshed, so a
 * file just copied there shows), or on a host that is this computer a file here. Missing: not in
 * the directory of the ISO pool it names, or not here. A remote path outside every pool cannot be
 * looked at without a shell there, so libvirt's own check at the next start stands for it.
 */
async function checkImage(d: DomainRef, path: string, local: boolean): Promise<void> {
  const isVolume = (): Promise<boolean> => d.virsh.run(['vol-info', '--vol', path]).then(() => true, () => false);
  if (await isVolume()) return;
  const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/'));
  const poolDirs = new Set((await listPoolVolumes(d.virsh, 'iso')).map((v) => dirOf(v.path)));
  let missing = poolDirs.has(dirOf(path)) && !(await isVolume());
  if (!missing && local) missing = await stat(path).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOENT' || err.code === 'ENOTDIR');
  if (missing) {
    const message = `${path} is not on ${d.host}; pick an ISO image from its storage pools (flotilla host volumes ${d.host} --kind iso)`;
    throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'path', message }] });
  }
}
