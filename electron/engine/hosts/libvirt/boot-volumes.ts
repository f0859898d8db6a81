// The built-in guest's kernel and initrd volumes in the "flotilla" pool are named by content hash
// (create-domain.ts), so each new guest build uploads new ones and the old ones would stay for
// ever (13 MiB an initrd, 53 MiB a kernel). After a create, the old ones that nothing on the host
// can boot any more are deleted.
//
// "Nothing can boot it" is checked against everything libvirt keeps a definition in: every
// domain's persistent and live XML (a domain may also be one made outside Flotilla, or by another
// computer's Flotilla), every snapshot's saved domain (a revert brings that one back) and every
// managed-save image. A volume written in the last hour is left alone: another client may have just
// uploaded it and not yet defined the domain that uses it. The hour is on the host's clock (read
// from a marker volume written for the purpose), not this computer's, which may be set differently.
import { randomBytes } from 'node:crypto';
import { FlotillaError } from '../../../../shared/errors';
import { POOL } from './storage';
import type { Virsh } from './virsh';
import { parseUuidList } from './virsh-parse';

/** the names create-domain.ts gives the built-in guest's boot files */
export const BOOT_VOLUME_RE = /^default-(?:vmlinuz|initrd)-[0-9a-f]{16}$/;
/** the empty volumes hostNowMs writes to read the host's clock (one left by a killed engine goes at the next prune) */
const CLOCK_VOLUME_RE = /^flotilla-clock-[0-9a-f]{12}$/;
export const BOOT_VOLUME_MIN_AGE_MS = 3600_000;

export interface PruneResult {
  deleted: string[];
  /** stale by name but still named in a definition, or too young */
  kept: string[];
}

/** name → path of the pool's volumes (`vol-list` rows: NAME PATH) */
export function parseVolList(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+(\/\S.*?)\s*$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** a volume's mtime from `vol-dumpxml` (seconds since the epoch, with a fraction), in ms */
export function volMtimeMs(xml: string): number | null {
  const m = /<mtime>(\d+)(?:\.\d+)?<\/mtime>/.exec(xml);
  return m ? Number(m[1]) * 1000 : null;
}

/**
 * The host's clock, in ms: the mtime of an empty volume written now in the pool (libvirt has no
 * call that tells a host's time without a guest agent). Null when it cannot be read.
 */
export async function hostNowMs(virsh: Virsh): Promise<number | null> {
  const name = `flotilla-clock-${randomBytes(6).toString('hex')}`;
  try {
    await virsh.run(['vol-create-as', '--pool', POOL, '--name', name, '--capacity', '0', '--format', 'raw']);
  } catch {
    return null;
  }
  try {
    return volMtimeMs((await virsh.run(['vol-dumpxml', '--pool', POOL, '--vol', name])).stdout);
  } catch {
    return null;
  } finally {
    await virsh.run(['vol-delete', '--pool', POOL, '--vol', name]).catch(() => undefined);
  }
}

/** Every domain definition libvirt holds on the host, as XML text (see the header). */
async function definitions(virsh: Virsh): Promise<string[]> {
  const read = async (args: string[]): Promise<string | null> =>
    virsh.run(args, { timeoutMs: 60_000 }).then(
      (r) => r.stdout,
      (err: unknown) => {
        // a domain undefined meanwhile has nothing left to keep; anything else stops the prune
        if (err instanceof FlotillaError && err.code === 'NOT_FOUND') return null;
        throw err;
      },
    );
  const uuids = parseUuidList((await virsh.run(['list', '--all', '--uuid'])).stdout);
  const saved = new Set(parseUuidList((await virsh.run(['list', '--all', '--with-managed-save', '--uuid'])).stdout));
  const texts: (string | null)[] = [];
  for (const u of uuids) {
    texts.push(await read(['dumpxml', '--domain', u]), await read(['dumpxml', '--inactive', '--domain', u]));
    if (saved.has(u)) texts.push(await read(['managedsave-dumpxml', '--domain', u]));
    const snaps = (await read(['snapshot-list', '--domain', u, '--name'])) ?? '';
    for (const s of snaps.split('\n').map((l) => l.trim()).filter(Boolean)) texts.push(await read(['snapshot-dumpxml', '--domain', u, '--snapshotname', s]));
  }
  return texts.filter((t): t is string => t !== null);
}

/**
 * Deletes the pool's boot volumes other than `keep` that no definition names and that are older
 * than minAgeMs. Run under the host's storage lock, after the create that uploaded `keep`.
 */
export async function pruneBootVolumes(virsh: Virsh, keep: readonly string[], opts: { minAgeMs?: number; now?: number } = {}): Promise<PruneResult> {
  const minAgeMs = opts.minAgeMs ?? BOOT_VOLUME_MIN_AGE_MS;
  const vols = parseVolList((await virsh.run(['vol-list', '--pool', POOL])).stdout);
  const result: PruneResult = { deleted: [], kept: [] };
  // a clock marker of an engine killed between its create and delete: empty, named by no one
  for (const name of vols.keys()) if (CLOCK_VOLUME_RE.test(name)) await virsh.run(['vol-delete', '--pool', POOL, '--vol', name]).catch(() => undefined);
  const candidates = [...vols].filter(([name]) => BOOT_VOLUME_RE.test(name) && !keep.includes(name));
  if (candidates.length === 0) return result;
  const now = opts.now ?? (await hostNowMs(virsh));
  // without the host's time no volume's age is known: none goes
  if (now === null) return { deleted: [], kept: candidates.map(([name]) => name) };
  const defs = await definitions(virsh);
  for (const [name, path] of candidates) {
    const mtime = volMtimeMs((await virsh.run(['vol-dumpxml', '--pool', POOL, '--vol', name])).stdout);
    // a path is named in XML as an attribute value or element text: quote or '>' before, quote or '<' after
    const named = defs.some((x) => x.includes(`'${path}'`) || x.includes(`"${path}"`) || x.includes(`>${path}<`));
    if (named || mtime === null || now - mtime < minAgeMs) {
      result.kept.push(name);
      continue;
    }
    await virsh.run(['vol-delete', '--pool', POOL, '--vol', name]);
    result.deleted.push(name);
  }
  return result;
}
