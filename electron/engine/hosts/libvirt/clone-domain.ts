// A full clone of a shut-off libvirt domain, as virt-clone makes one, with libvirt's own storage
// API: each disk's pool volume copied with `vol-clone` (into the same pool), then the source's
// definition (`dumpxml --inactive`, untrusted) defined again with a new name and UUID, no MAC
// addresses (libvirt gives new ones), no fixed channel socket paths, the copies' paths, and for a
// built-in guest its new hostname. CDs and read-only or shareable disks are shared, not copied; a
// UEFI domain's variable store (libvirt's own NAME_VARS.fd) is copied too (clone-nvram.ts).
// Refused, saying why: a disk outside every storage pool (libvirt cannot copy it), a variable
// store at a path of the definition's own, a linked clone (the base would have to stay unchanged,
// which nothing on that host enforces). A failure removes the copies made so far, and the volume
// journal those a killed engine made (volume-journal.ts).
import { randomUUID } from 'node:crypto';
import { FlotillaError } from '../../../../shared/errors';
import { guestHostname } from '../../guest/boot-profile';
import { defineXml } from './define-xml';
import { withGuestHostname } from './domain-edit';
import { bootsUefi, diskTargets, ownDiskTargets, parseFlotillaMetadata, xmlEscape, xmlUnescape } from './domain-xml';
import { volumeAt } from './storage';
import type { Virsh } from './virsh';
import type { VolumeJournal } from './volume-journal';
import { copyNvram } from './clone-nvram';

const DISK_BLOCK_RE = /<disk\b[^>]*>[\s\S]*?<\/disk>/g;

/** The file a disk block reads, and its target; null for a disk that is not a file. */
function diskFile(block: string): { file: string; target: string } | null {
  const target = /<target\b[^>]*\bdev\s*=\s*(['"])([a-z0-9]{1,32})\1/.exec(block)?.[2];
  const file = /<source\b[^>]*\bfile\s*=\s*(['"])([^'"<>]{1,4096})\1/.exec(block)?.[2];
  return target && file ? { file: xmlUnescape(file), target } : null;
}

/**
 * The definition of the copy: `xml` (the source's inactive definition) with `name`, `uuid`, the
 * disks in `copies` (target → new file) pointing at their copies, no MACs and no fixed channel
 * paths. Flotilla's metadata (if any) names the copy. Pure, for the unit tests.
 */
export function clonedXml(xml: string, o: { name: string; uuid: string; copies: ReadonlyMap<string, string>; volumes: string[]; builtIn: boolean }): string {
  let out = xml.replace(/<name>[^<]*<\/name>/, `<name>${xmlEscape(o.name)}</name>`).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${o.uuid}</uuid>`);
  if (!/<uuid>/.test(out)) out = out.replace(/(<name>[^<]*<\/name>)/, `$1\n  <uuid>${o.uuid}</uuid>`);
  out = out.replace(/[ \t]*<mac\b[^>]*\/>\n?/g, '');
  out = out.replace(DISK_BLOCK_RE, (block) => {
    const f = diskFile(block);
    const copy = f && o.copies.get(f.target);
    return copy ? block.replace(/(<source\b[^>]*\bfile\s*=\s*)(['"])[^'"<>]*\2/, `$1'${xmlEscape(copy)}'`) : block;
  });
  // a socket path the source's channels named would be the source's: libvirt picks one per domain without it
  out = out.replace(/<channel\b[^>]*type\s*=\s*(['"])unix\1[^>]*>[\s\S]*?<\/channel>/g, (block) => block.replace(/(<source\b[^>]*?)\s+path\s*=\s*(['"])[^'"]*\2/, '$1'));
  out = out.replace(/(<flotilla:vm\b[^>]*>)([^<]*)(<\/flotilla:vm>)/, (whole, open: string, text: string, close: string) => {
    const meta = parseFlotillaMetadata(`${open}${text}${close}`);
    if (!meta) return whole;
    const spec = meta.spec && typeof meta.spec === 'object' ? { ...(meta.spec as Record<string, unknown>), name: o.name, id: o.uuid.replace(/-/g, ''), createdAt: new Date().toISOString() } : meta.spec;
    return `${open}${xmlEscape(JSON.stringify({ ...meta, spec, volumes: o.volumes }))}${close}`;
  });
  if (o.builtIn) out = withGuestHostname(out, guestHostname(o.name)) ?? out;
  return out;
}

/** Copies the shut-off domain `uuid` as `name`; returns the copy's UUID. */
export async function cloneDomain(virsh: Virsh, journal: VolumeJournal, src: { uuid: string; name: string; builtIn: boolean }, name: string): Promise<string> {
  const xml = (await virsh.run(['dumpxml', '--inactive', '--domain', src.uuid])).stdout;
  // a store the definition names by path (not libvirt's own NAME_VARS.fd) is not Flotilla's to copy
  if (/<nvram\b/.test(xml)) throw new FlotillaError('UNSUPPORTED', `${src.name} boots UEFI with a variable store at a path of its own, which Flotilla does not copy; clone it with virt-clone on its host`);
  const uuid = randomUUID();
  const short = uuid.slice(0, 8);
  const own = new Set(ownDiskTargets(xml));
  const blocks = [...xml.matchAll(DISK_BLOCK_RE)].map((m) => m[0]);
  const toCopy: { target: string; pool: string; vol: string; newVol: string }[] = [];
  for (const target of diskTargets(xml).filter((t) => own.has(t))) {
    const f = blocks.map(diskFile).find((x) => x?.target === target);
    const vol = f ? await volumeAt(virsh, f.file) : null;
    if (!f || !vol) throw new FlotillaError('UNSUPPORTED', `${src.name}'s disk ${target}${f ? ` (${f.file})` : ''} is not a volume of a storage pool on its host, so libvirt cannot copy it`);
    // the copy keeps the source's format, and its file name's ending with it
    toCopy.push({ target, pool: vol.pool, vol: vol.name, newVol: `${name}-${short}-${target}${/\.[a-z0-9]{1,8}$/.exec(vol.name)?.[0] ?? ''}` });
  }
  const made: { pool: string; vol: string }[] = [];
  const forget: (() => Promise<void>)[] = [];
  let nvram: Awaited<ReturnType<typeof copyNvram>> = null;
  try {
    const copies = new Map<string, string>();
    for (const c of toCopy) {
      forget.push(await journal.track(c.pool, c.newVol, uuid));
      await virsh.run(['vol-clone', '--pool', c.pool, '--vol', c.vol, '--newname', c.newVol], { timeoutMs: 3_600_000 });
      made.push({ pool: c.pool, vol: c.newVol });
      const path = (await virsh.run(['vol-path', '--pool', c.pool, '--vol', c.newVol])).stdout.trim();
      if (!path.startsWith('/') || path.includes('\n')) throw new FlotillaError('INTERNAL', `libvirt gave an odd path for volume ${c.newVol}`);
      copies.set(c.target, path);
    }
    if (bootsUefi(xml)) nvram = await copyNvram(virsh, journal, src.name, name, uuid);
    await defineXml(virsh, clonedXml(xml, { name, uuid, copies, volumes: made.map((m) => m.vol), builtIn: src.builtIn }));
    return uuid;
  } catch (err) {
    for (const m of made) await virsh.run(['vol-delete', '--pool', m.pool, '--vol', m.vol]).catch(() => undefined);
    await nvram?.undo().catch(() => undefined);
    throw err;
  } finally {
    for (const f of forget) await f();
    await nvram?.forget();
  }
}
