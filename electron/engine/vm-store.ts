// The VM specs on disk: vms/<id>/vm.json, one directory per VM holding its disks and logs.
// Writes are atomic and serialized per VM. A create is built in a staging directory and renamed
// into place only once vm.json is written, and a delete renames the directory away before
// removing it, so a crash at any point leaves either a whole VM or nothing (leftovers are swept
// by load()).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlotillaError, invalidArgument } from '../../shared/errors';
import {
  vmConfigSchema,
  vmPatchSchema,
  vmIdSchema,
  vmName,
  vmSpecSchema,
  type Share,
  type VmConfigInput,
  type VmPatch,
  type VmSpec,
} from '../../shared/spec';
import { cleanupTempFiles, writeFileAtomic } from './atomic-file';
import { settleDiskIntents } from './disk-intents';
import { namingFullDisk } from './disk-full';
import type { HomeLayout } from './paths';
import { KeyedMutex } from './mutex';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const STAGING_PREFIX = '.creating-';
const TRASH_PREFIX = '.deleting-';

/**
 * A fresh private directory among the VMs for files on their way elsewhere (a libvirt host's
 * import or export): it carries the staging prefix, so the next engine's load removes it when
 * this one is killed before it does. The caller removes it when done.
 */
export async function makeScratchDir(layout: HomeLayout): Promise<string> {
  await mkdir(layout.vmsDir, { recursive: true, mode: 0o700 });
  return mkdtemp(join(layout.vmsDir, `${STAGING_PREFIX}scratch-`));
}
const NAMES_KEY = '\0names';

export interface SkippedSpec {
  file: string;
  error: string;
}

/** A VM directory whose vm.json cannot be used: listed by id so the user can repair or delete it. */
export interface BrokenSpec {
  id: string;
  file: string;
  reason: string;
  /** the name the file still gives, when it parses that far: kept reserved */
  name: string | null;
}

export interface VmStoreOptions {
  /** called for each vm.json that load() had to skip */
  onSkip?: (skipped: SkippedSpec) => void;
}

/** A locally administered MAC in QEMU's 52:54:00 range that none of `taken` has. */
export function newMac(taken: ReadonlySet<string>): string {
  for (;;) {
    const mac = `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    // 52:54:00:12:34:56 is what QEMU gives a NIC without mac=: never hand it out
    if (!taken.has(mac) && mac !== '52:54:00:12:34:56') return mac;
  }
}

export function newVmId(): string {
  return Array.from(randomBytes(12), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}


function serialize(spec: VmSpec): string {
  return JSON.stringify(spec, null, 2) + '\n';
}

export class VmStore {
  private readonly specs = new Map<string, VmSpec>();
  /** names held by creates still in flight, so two creates cannot take one name */
  private readonly reservedNames = new Set<string>();
  private readonly mutex = new KeyedMutex();
  /** vm.json files load() skipped, with why */
  readonly skipped: SkippedSpec[] = [];
  /** VM directories whose vm.json is unusable, by id */
  readonly broken = new Map<string, BrokenSpec>();

  constructor(
    private readonly layout: HomeLayout,
    private readonly opts: VmStoreOptions = {},
  ) {}

  /** Reads every vm.json; skips (and reports) malformed ones; sweeps temp files and half-made or half-deleted dirs. */
  async load(): Promise<VmSpec[]> {
    await mkdir(this.layout.vmsDir, { recursive: true, mode: 0o700 });
    this.specs.clear();
    this.skipped.length = 0;
    this.broken.clear();
    for (const entry of await readdir(this.layout.vmsDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.layout.vmsDir, entry.name);
      if (entry.name.startsWith(STAGING_PREFIX) || entry.name.startsWith(TRASH_PREFIX)) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      await cleanupTempFiles(dir);
      const spec = await this.readSpec(join(dir, 'vm.json'), entry.name);
      if (spec) {
        this.specs.set(spec.id, spec);
        const settled = await settleDiskIntents(dir, spec.disks);
        if (settled.changed) await this.commit(this.validSpec({ ...spec, disks: settled.disks }));
      }
    }
    await this.giveIdentities();
    return this.list();
  }

  list(): VmSpec[] {
    return [...this.specs.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  has(id: string): boolean {
    return this.specs.has(id);
  }

  get(id: string): VmSpec {
    const spec = this.specs.get(id);
    if (!spec) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return spec;
  }

  findByName(name: string): VmSpec | undefined {
    for (const s of this.specs.values()) if (s.name === name) return s;
    return undefined;
  }

  /**
   * Validates, reserves the name, builds the VM directory in staging (beforeCommit may create disks
   * there and push their file names onto spec.disks), writes vm.json, then renames it into place.
   * On any error nothing is left behind.
   */
  async create(config: VmConfigInput, opts: { beforeCommit?: (spec: VmSpec, dir: string) => Promise<void> } = {}): Promise<VmSpec> {
    const parsed = vmConfigSchema.safeParse(config);
    if (!parsed.success) throw invalidArgument(parsed.error.issues);
    const name = parsed.data.name;
    await this.reserveName(name);
    const id = newVmId();
    const staging = join(this.layout.vmsDir, `${STAGING_PREFIX}${id}`);
    try {
      // every new VM (created, cloned or imported) gets its own MAC and SMBIOS UUID
      const spec: VmSpec = { ...parsed.data, id, createdAt: new Date().toISOString(), disks: [], mac: newMac(this.macs()), uuid: randomUUID() };
      await namingFullDisk(staging, async () => {
        await mkdir(this.layout.vmsDir, { recursive: true, mode: 0o700 });
        await mkdir(staging, { mode: 0o700 });
      });
      await opts.beforeCommit?.(spec, staging);
      const final = this.validSpec(spec);
      await writeFileAtomic(join(staging, 'vm.json'), serialize(final));
      await rename(staging, this.layout.vmDir(id));
      this.specs.set(id, final);
      return final;
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    } finally {
      this.reservedNames.delete(name);
    }
  }

  update(id: string, patch: VmPatch): Promise<VmSpec> {
    const parsed = vmPatchSchema.safeParse(patch);
    if (!parsed.success) return Promise.reject(invalidArgument(parsed.error.issues));
    return this.mutex.run(id, async () => {
      const current = this.get(id);
      const next = this.validSpec({ ...current, ...parsed.data });
      if (next.name === current.name) return this.commit(next);
      return this.mutex.run(NAMES_KEY, async () => {
        this.assertNameFree(next.name);
        return this.commit(next);
      });
    });
  }

  /** The CD drive's medium (an ISO path, or null for an empty drive). */
  setMedia(id: string, cdrom: string | null): Promise<VmSpec> {
    return this.mutex.run(id, () => this.commit(this.validSpec({ ...this.get(id), cdrom })));
  }

  /** The VM's shared folders (share.add / share.remove on a stopped VM). */
  setShares(id: string, shares: Share[]): Promise<VmSpec> {
    return this.mutex.run(id, () => this.commit(this.validSpec({ ...this.get(id), shares })));
  }

  /** The VM's own disks (the built-in guest's root disk is made at its first start). */
  setDisks(id: string, disks: string[]): Promise<VmSpec> {
    return this.mutex.run(id, () => this.commit(this.validSpec({ ...this.get(id), disks })));
  }

  /** Re-read a broken VM's vm.json (the user repaired it): its spec, or still broken (with the new reason). */
  async retryBroken(id: string): Promise<VmSpec | undefined> {
    const b = this.broken.get(id);
    if (!b) return this.specs.get(id);
    return this.mutex.run(id, async () => {
      this.broken.delete(id);
      const spec = await this.readSpec(b.file, id);
      if (!spec) return undefined;
      this.specs.set(id, spec);
      await this.giveIdentities();
      return this.specs.get(id);
    });
  }

  /** Removes the VM's directory (its disks and logs too) and its run directory. The caller ensures it is stopped. */
  delete(id: string): Promise<void> {
    return this.mutex.run(id, async () => {
      if (this.broken.has(id)) {
        const trash = join(this.layout.vmsDir, `${TRASH_PREFIX}${id}`);
        await rename(this.layout.vmDir(id), trash);
        this.broken.delete(id);
        await rm(trash, { recursive: true, force: true });
        await rm(this.layout.runDir(id), { recursive: true, force: true });
        return;
      }
      this.get(id);
      const trash = join(this.layout.vmsDir, `${TRASH_PREFIX}${id}`);
      await rename(this.layout.vmDir(id), trash);
      this.specs.delete(id);
      await rm(trash, { recursive: true, force: true });
      await rm(this.layout.runDir(id), { recursive: true, force: true });
    });
  }

  private async commit(spec: VmSpec): Promise<VmSpec> {
    await writeFileAtomic(this.layout.vmSpecFile(spec.id), serialize(spec));
    this.specs.set(spec.id, spec);
    return spec;
  }

  private validSpec(spec: VmSpec): VmSpec {
    const r = vmSpecSchema.safeParse(spec);
    if (!r.success) throw invalidArgument(r.error.issues);
    return r.data;
  }

  private reserveName(name: string): Promise<void> {
    return this.mutex.run(NAMES_KEY, async () => {
      this.assertNameFree(name);
      this.reservedNames.add(name);
    });
  }

  private macs(): Set<string> {
    return new Set([...this.specs.values()].flatMap((s) => (s.mac ? [s.mac] : [])));
  }

  /**
   * Specs written before VMs had an identity get a MAC and a UUID now, and a MAC two specs share
   * (a directory copied by hand) is replaced on the younger one; each change is written back atomically.
   */
  private async giveIdentities(): Promise<void> {
    const seen = new Set<string>();
    for (const spec of this.list()) {
      const dupMac = spec.mac !== undefined && seen.has(spec.mac);
      if (spec.mac && !dupMac) seen.add(spec.mac);
      if (spec.mac && !dupMac && spec.uuid) continue;
      const mac = spec.mac && !dupMac ? spec.mac : newMac(new Set([...seen, ...this.macs()]));
      seen.add(mac);
      await this.mutex.run(spec.id, () => this.commit(this.validSpec({ ...spec, mac, uuid: spec.uuid ?? randomUUID() })));
    }
  }

  private assertNameFree(name: string): void {
    const brokenName = [...this.broken.values()].some((b) => b.name === name);
    if (this.findByName(name) || this.reservedNames.has(name) || brokenName) {
      throw new FlotillaError('NAME_TAKEN', `a VM named "${name}" already exists; choose another name`, { field: 'name', name });
    }
  }

  private async readSpec(file: string, dirName: string): Promise<VmSpec | undefined> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
      const r = vmSpecSchema.safeParse(raw);
      if (!r.success) {
        const { fields } = invalidArgument(r.error.issues).details;
        throw new Error(`invalid settings (${fields.map((f) => `${f.path}: ${f.message}`).join('; ')})`);
      }
      const spec = r.data;
      if (spec.id !== dirName) throw new Error(`id ${spec.id} does not match its directory ${dirName}`);
      if (this.findByName(spec.name)) throw new Error(`name ${spec.name} is used by another VM`);
      return spec;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const skipped = { file, error };
      this.skipped.push(skipped);
      this.opts.onSkip?.(skipped);
      // a directory named like a VM id is a VM the user must see: listed as broken, by id
      if (vmIdSchema.safeParse(dirName).success) {
        const name = (raw as { name?: unknown } | undefined)?.name;
        this.broken.set(dirName, {
          id: dirName,
          file,
          reason: `${file} is unreadable: ${error}. Repair the file, or delete the VM`,
          name: typeof name === 'string' && vmName.safeParse(name).success && !this.findByName(name) ? name : null,
        });
      }
      return undefined;
    }
  }
}
