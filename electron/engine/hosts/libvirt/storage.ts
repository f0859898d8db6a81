// Storage on a libvirt host, through libvirt's storage API: the "flotilla" directory pool
// (defined, built and started when missing), the built-in guest's kernel and initrd uploaded
// into it once per content hash (`vol-upload`) and reused by every VM, and per-VM disk volumes.
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlotillaError } from '../../../../shared/errors';
import type { HostVolume } from '../../../../shared/contract';
import type { Virsh } from './virsh';
import { parseVolDetails } from './virsh-parse';
import { xmlUnescape } from './domain-xml';

export const POOL = 'flotilla';
export const POOL_TARGET = '/var/lib/libvirt/flotilla';

/** The pool exists, is built and active (created when missing): one pool-info when it is. */
export async function ensurePool(virsh: Virsh): Promise<void> {
  let info = await virsh.run(['pool-info', '--pool', POOL], { timeoutMs: 30_000 }).catch((err: unknown) => {
    if (err instanceof FlotillaError && (err.code === 'DISCONNECTED' || err.code === 'TIMEOUT')) throw err;
    return null;
  });
  if (!info) {
    await virsh.run(['pool-define-as', '--name', POOL, '--type', 'dir', '--target', POOL_TARGET]);
    await virsh.run(['pool-build', '--pool', POOL]);
    await virsh.run(['pool-autostart', '--pool', POOL]).catch(() => undefined);
    info = await virsh.run(['pool-info', '--pool', POOL]);
  }
  if (!/^State:\s+running/m.test(info.stdout)) await virsh.run(['pool-start', '--pool', POOL]);
}

/** A volume's path on the host. */
export async function volPath(virsh: Virsh, vol: string): Promise<string> {
  const r = await virsh.run(['vol-path', '--pool', POOL, '--vol', vol]);
  const p = r.stdout.trim();
  if (!p.startsWith('/') || p.includes('\n')) throw new FlotillaError('INTERNAL', `libvirt gave an odd path for volume ${vol}`);
  return p;
}

/**
 * Whether volume `vol` holds the end of `localFile` (`size` bytes): the last 4 KiB that are not all
 * zeros, read back with `vol-download`. The volume is made at its full size before `vol-upload`
 * writes it front to back, so an upload cut short (its engine killed) has the right size and a
 * zero tail; only this tells it from a whole one.
 */
async function holdsTheEnd(virsh: Virsh, vol: string, localFile: string, size: number): Promise<boolean> {
  const fd = await open(localFile, 'r');
  let want: Buffer | null = null;
  let at = 0;
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (let end = size; end > 0 && !want; end -= buf.length) {
      const from = Math.max(0, end - buf.length);
      const { bytesRead } = await fd.read(buf, 0, end - from, from);
      let last = bytesRead - 1;
      while (last >= 0 && buf[last] === 0) last--;
      if (last < 0) continue;
      at = Math.max(0, from + last + 1 - 4096);
      want = Buffer.alloc(from + last + 1 - at);
      await fd.read(want, 0, want.length, at);
    }
  } finally {
    await fd.close();
  }
  if (!want) return true; // all zeros: a new volume reads as that too
  const dir = await mkdtemp(join(tmpdir(), 'flt-vol-'));
  try {
    const got = join(dir, 'tail');
    await virsh.run(['vol-download', '--pool', POOL, '--vol', vol, '--file', got, '--offset', String(at), '--length', String(want.length)]);
    return (await readFile(got)).equals(want);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Uploads a local file as volume `vol` unless a whole one of that name is there already (names
 * carry the content hash, so the same name means the same bytes; whole: its size, and its end
 * read back). A half-done upload is deleted, so the next attempt starts over instead of reusing
 * it; one whose engine was killed mid-way is found by its end and uploaded again.
 */
export async function ensureUploaded(virsh: Virsh, vol: string, localFile: string, onBytes?: (bytes: number) => void): Promise<string> {
  const size = (await stat(localFile)).size;
  // its size and path in one call (a start of a built-in VM asks this for its kernel and its initrd)
  const xml = await virsh.run(['vol-dumpxml', '--pool', POOL, '--vol', vol]).then((r) => r.stdout, () => null);
  const capacity = xml && /<capacity unit='bytes'>(\d+)<\/capacity>/.exec(xml)?.[1];
  const path = xml && xmlUnescape(/<target>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1] ?? '');
  if (capacity === String(size) && path && path.startsWith('/') && !path.includes('\n') && (await holdsTheEnd(virsh, vol, localFile, size))) return path;
  if (xml !== null) await virsh.run(['vol-delete', '--pool', POOL, '--vol', vol]);
  await virsh.run(['vol-create-as', '--pool', POOL, '--name', vol, '--capacity', `${size}b`, '--format', 'raw']);
  try {
    onBytes?.(0);
    await virsh.run(['vol-upload', '--pool', POOL, '--vol', vol, '--file', localFile], { timeoutMs: 600_000, ...(onBytes ? { watch: { path: localFile, onBytes } } : {}) });
  } catch (err) {
    await virsh.run(['vol-delete', '--pool', POOL, '--vol', vol]).catch(() => undefined);
    throw err;
  }
  return volPath(virsh, vol);
}

/** The pool and volume name of a file on the host (`vol-pool`, `vol-name`), or null outside every pool. */
export async function volumeAt(virsh: Virsh, path: string): Promise<{ pool: string; name: string } | null> {
  const pool = await virsh.run(['vol-pool', '--vol', path]).then((r) => r.stdout.trim(), () => '');
  const name = await virsh.run(['vol-name', '--vol', path]).then((r) => r.stdout.trim(), () => '');
  return pool && name && !/\s/.test(pool) && !name.includes('/') ? { pool, name } : null;
}

/** The size of a volume's file on its host (what vol-download reads), or null if libvirt does not say. */
export async function volumeBytes(virsh: Virsh, vol: { pool: string; name: string }): Promise<number | null> {
  const out = await virsh.run(['vol-info', '--pool', vol.pool, '--vol', vol.name, '--bytes', '--physical']).then((r) => r.stdout, () => '');
  const n = Number(/^Physical:\s+(\d+) bytes$/m.exec(out)?.[1] ?? NaN);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

export async function createDiskVolume(virsh: Virsh, vol: string, sizeGiB: number): Promise<string> {
  await virsh.run(['vol-create-as', '--pool', POOL, '--name', vol, '--capacity', `${sizeGiB}G`, '--format', 'qcow2']);
  return volPath(virsh, vol);
}

export async function deleteVolume(virsh: Virsh, vol: string): Promise<void> {
  await virsh.run(['vol-delete', '--pool', POOL, '--vol', vol]).catch((err: unknown) => {
    if (!(err instanceof FlotillaError && /not found|no storage vol/i.test(err.message))) throw err;
  });
}

const KIND_RE = { iso: /\.iso$/i, disk: /\.(?:qcow2|img|raw|vmdk|vdi|vhdx?)$/i } as const;

/**
 * ISO or disk images in the host's active storage pools, each pool refreshed first (a file just
 * copied into its directory shows), as virt-manager's volume browser lists them. Flotilla's own
 * pool is left out: its disks belong to domains. A pool that cannot be read is skipped.
 */
export async function listPoolVolumes(virsh: Virsh, kind: 'iso' | 'disk'): Promise<HostVolume[]> {
  // a pool name with control characters is skipped: it would reach a terminal as they are
  // eslint-disable-next-line no-control-regex
  const pools = (await virsh.run(['pool-list', '--name'])).stdout.split('\n').map((l) => l.trim()).filter((p) => p && p !== POOL && !/[\u0000-\u001f\u007f-\u009f]/.test(p));
  const out: HostVolume[] = [];
  for (const pool of pools) {
    await virsh.run(['pool-refresh', '--pool', pool]).catch(() => undefined);
    const r = await virsh.run(['vol-list', '--pool', pool, '--details']).catch(() => null);
    for (const v of r ? parseVolDetails(r.stdout) : []) if (KIND_RE[kind].test(v.path)) out.push({ pool, ...v });
  }
  return out.sort((a, b) => a.pool.localeCompare(b.pool) || a.name.localeCompare(b.name));
}
