// Volumes a job makes on a libvirt host before a definition names them: a new domain's disk, an
// added disk, a clone's copies. libvirt keeps no record of what a volume was for, so an engine
// killed between making one and the definition naming it would leave it in the pool for good,
// and a later look at the pool could not tell it from a disk the user kept on purpose (deleting a
// domain can keep its disks). So each is recorded here, in the engine's data directory, before it
// is made, and forgotten once the definition names it or the job has removed it. When the host
// connects, settle() looks at each record left by a killed engine: a volume its domain's
// definition names stays (the job got that far), any other is deleted. A UEFI variable store is
// named by no definition (libvirt keeps it as NAME_VARS.fd): it stays while its domain exists, and
// is reached through a transient pool over its directory (clone-nvram.ts).
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlotillaError } from '../../../../shared/errors';
import { writeFileAtomic } from '../../atomic-file';
import type { KeyedMutex } from '../../mutex';
import { parseBlkList } from './domain-disks';
import { withDirPool } from './clone-nvram';
import { libvirtStateDir } from './state-dir';
import type { Virsh } from './virsh';

const VOL_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;
/** a directory on the host: absolute, plain, no `..` */
const DIR_RE = /^(?!.*(^|\/)\.\.(\/|$))\/[A-Za-z0-9._/-]{1,4095}$/;
/** what a record with a directory may name there: a UEFI variable store, nothing else */
const VARS_RE = /_VARS\.fd$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface VolumeRecord {
  pool: string;
  vol: string;
  /** the UUID of the domain whose definition is to name it */
  domain: string;
  /** a UEFI variable store's directory: its pool was transient, and the domain's existence is what names it */
  dir?: string;
}

/** A virsh failure's value when libvirt says the thing is not there; any other failure is thrown. */
const orNotFound =
  <T>(value: T) =>
  (err: unknown): T => {
    if (err instanceof FlotillaError && err.code === 'NOT_FOUND') return value;
    throw err;
  };

function isRecord(r: Partial<VolumeRecord> | null): r is VolumeRecord {
  if (!r || typeof r.pool !== 'string' || typeof r.vol !== 'string' || typeof r.domain !== 'string') return false;
  if (!VOL_RE.test(r.pool) || !VOL_RE.test(r.vol) || !UUID_RE.test(r.domain)) return false;
  return r.dir === undefined || (typeof r.dir === 'string' && DIR_RE.test(r.dir) && VARS_RE.test(r.vol));
}

/** One record: the volume deleted unless its domain names it (or it is not there); what went, or null. */
async function settleOne(virsh: Virsh, r: VolumeRecord): Promise<string | null> {
  if (r.dir) {
    const dir = r.dir;
    // a UEFI variable store: named by its domain's existence, reached through a pool over its directory
    if (await virsh.run(['dominfo', '--domain', r.domain]).then(() => true, orNotFound(false))) return null;
    return (await withDirPool(virsh, dir, (p) => virsh.run(['vol-delete', '--pool', p, '--vol', r.vol]).then(() => true, orNotFound(false)))) ? `${dir}/${r.vol}` : null;
  }
  // not there (never made, or its pool is gone), or named by nothing because its domain is gone or
  // was never defined; any other failure keeps the record for the next connect
  const path = await virsh.run(['vol-path', '--pool', r.pool, '--vol', r.vol]).then((x) => x.stdout.trim(), orNotFound(null));
  if (!path) return null;
  const listed = await virsh.run(['domblklist', '--domain', r.domain, '--details', '--inactive']).then((x) => parseBlkList(x.stdout), orNotFound([]));
  if (listed.some((b) => b.source === path)) return null;
  await virsh.run(['vol-delete', '--pool', r.pool, '--vol', r.vol]);
  return `${r.pool}/${r.vol}`;
}

export class VolumeJournal {
  /** the records of this engine's jobs under way, which settle() leaves to them */
  private readonly mine = new Set<string>();

  constructor(private readonly dir: string) {}

  /** The journal of one libvirt host's volumes, beside the host's other state in the data directory. */
  static ofHost(home: string, hostId: string): VolumeJournal {
    return new VolumeJournal(join(libvirtStateDir(home, hostId), 'volumes-in-flight'));
  }

  /** Records that `vol` in `pool` is about to be made for `domain`; the returned function forgets it. */
  async track(pool: string, vol: string, domain: string, dir?: string): Promise<() => Promise<void>> {
    if (!VOL_RE.test(pool) || !VOL_RE.test(vol) || !UUID_RE.test(domain) || (dir !== undefined && (!DIR_RE.test(dir) || !VARS_RE.test(vol)))) throw new Error(`a volume record needs plain names: ${pool}/${vol} for ${domain}`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${randomBytes(8).toString('hex')}.json`;
    this.mine.add(name);
    await writeFileAtomic(join(this.dir, name), JSON.stringify({ pool, vol, domain, ...(dir ? { dir } : {}) } satisfies VolumeRecord) + '\n');
    return async () => {
      await rm(join(this.dir, name), { force: true });
      this.mine.delete(name);
    };
  }

  /**
   * Settles what killed engines' jobs left: deletes each recorded volume that its domain does not
   * name and forgets the record (this engine's own jobs under way are theirs). A record that
   * cannot be settled now (the host failed, libvirt still copies that volume) stays for the next
   * connect, and the others are settled all the same. Returns what went, and why records stayed.
   */
  async settle(virsh: Virsh): Promise<{ deleted: string[]; failed: string[] }> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const deleted: string[] = [];
    const failed: string[] = [];
    for (const n of names.filter((x) => x.endsWith('.json') && !this.mine.has(x))) {
      const file = join(this.dir, n);
      const r = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Partial<VolumeRecord>, () => null);
      try {
        const gone = isRecord(r) ? await settleOne(virsh, r) : null; // a record damaged by hand names nothing this engine made
        if (gone) deleted.push(gone);
        await rm(file, { force: true });
      } catch (err) {
        failed.push(`${r?.pool ?? '?'}/${r?.vol ?? '?'}: ${(err as Error).message}`);
      }
    }
    return { deleted, failed };
  }

  /** settle() under the host's storage lock, in the background; what it did is a line for the host's log */
  settleInBackground(lock: KeyedMutex, virsh: Virsh, note: (line: string) => void): void {
    void lock.run('storage', () => this.settle(virsh)).then(
      ({ deleted, failed }) => {
        if (deleted.length) note(`deleted ${deleted.length} volume(s) that jobs of a killed engine made and no domain names: ${deleted.join(', ')}`);
        if (failed.length) note(`settling volumes of a killed engine's jobs failed, tried again at the next connect: ${failed.join('; ')}`);
      },
      (err: unknown) => note(`settling the volumes of a killed engine's jobs failed (tried again at the next connect): ${(err as Error).message}`),
    );
  }
}
