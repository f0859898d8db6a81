// The VM specs on disk: vms/<id>/vm.json, one directory per VM holding its disks and logs.
// Writes are atomic and serialized per VM. A create is built in a staging directory and renamed
// into place only once vm.json is written, and a delete renames the directory away before
// removing it, so a crash at any point leaves either a whole VM or nothing (leftovers are swept
// by load()).
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FlotillaError, invalidArgument } from '../../shared/errors';
import {
  vmConfigSchema,
  vmPatchSchema,
  vmSpecSchema,
  type VmConfigInput,
  type VmPatch,
  type VmSpec,
} from '../../shared/spec';
import { cleanupTempFiles, writeFileAtomic } from './atomic-file';
import { namingFullDisk } from './disk-full';
import type { HomeLayout } from './paths';
import { newMac, newUuid } from './lifecycle/ops-context';
import { KeyedMutex } from './mutex';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const STAGING_PREFIX = '.creating-';
const TRASH_PREFIX = '.deleting-';
const NAMES_KEY = '\0names';

export interface SkippedSpec {
  file: string;
  error: string;
}

export interface VmStoreOptions {
  /** called for each vm.json that load() had to skip */
  onSkip?: (skipped: SkippedSpec) => void;
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

  constructor(
    private readonly layout: HomeLayout,
    private readonly opts: VmStoreOptions = {},
  ) {}

  /** Reads every vm.json; skips (and reports) malformed ones; sweeps temp files and half-made or half-deleted dirs. */
  async load(): Promise<VmSpec[]> {
    await mkdir(this.layout.vmsDir, { recursive: true, mode: 0o700 });
    this.specs.clear();
    this.skipped.length = 0;
    for (const entry of await readdir(this.layout.vmsDir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(this.layout.vmsDir, entry.name);
      if (entry.name.startsWith(STAGING_PREFIX) || entry.name.startsWith(TRASH_PREFIX)) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      await cleanupTempFiles(dir);
      const spec = await this.readSpec(join(dir, 'vm.json'), entry.name);
      if (spec) this.specs.set(spec.id, spec);
    }
    return this.list();
  }

  list(): VmSpec[] {
    return [...this.specs.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
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
      const spec: VmSpec = { ...parsed.data, id, createdAt: new Date().toISOString(), disks: [], mac: newMac(), uuid: newUuid() };
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

  setDisks(id: string, disks: string[]): Promise<VmSpec> {
    return this.mutex.run(id, () => this.commit(this.validSpec({ ...this.get(id), disks })));
  }

  /** Removes the VM's directory (its disks and logs too) and its run directory. The caller ensures it is stopped. */
  delete(id: string): Promise<void> {
    return this.mutex.run(id, async () => {
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

  private assertNameFree(name: string): void {
    if (this.findByName(name) || this.reservedNames.has(name)) {
      throw new FlotillaError('NAME_TAKEN', `a VM named "${name}" already exists; choose another name`, { name });
    }
  }

  private async readSpec(file: string, dirName: string): Promise<VmSpec | undefined> {
    try {
      const spec = vmSpecSchema.parse(JSON.parse(await readFile(file, 'utf8')));
      if (spec.id !== dirName) throw new Error(`id ${spec.id} does not match its directory ${dirName}`);
      if (this.findByName(spec.name)) throw new Error(`name ${spec.name} is used by another VM`);
      return spec;
    } catch (err) {
      const skipped = { file, error: err instanceof Error ? err.message : String(err) };
      this.skipped.push(skipped);
      this.opts.onSkip?.(skipped);
      return undefined;
    }
  }
}
