// The host seam. Every VM lives on a host: `local` is Flotilla's own engine supervising QEMU
// directly (local-host.ts); other kinds (libvirt) register beside it. The engine's router
// reaches VMs only through this interface, so a new kind of host is one class and one
// `registry.add()`. A host that lacks an operation throws `unsupported()`, never half-works
// (as Multipass's backends and lima's drivers do), and says so up front in each VmInfo.caps.
import type { DiskInfo, ShareInfo, SnapshotInfo, EventName, EventPayloads, ExecResult, ExportResult, HostInfo, ImportResult, HostVolume, LogEntry, PortEntry, SshInfo, VmInfo } from '../../../shared/contract';
import { capsOf } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmConfig, VmPatch } from '../../../shared/spec';
import type { WriteFileOptions } from '../agent-files';

/** Events a host emits; the engine passes them on to every client. Stream data goes through VmHandle subscriptions instead. */
export type HostEventName = Exclude<EventName, 'ui.newVm' | 'console.data' | 'vm.thumbnail' | 'vm.statsBatch' | 'host.changed' | 'engine.progress'>;
export type HostListener = <E extends HostEventName>(event: E, payload: EventPayloads[E]) => void;

export interface StopAllResult {
  stopped: string[];
  keptRunning: string[];
}

/** One VM on a host: lifecycle, console, display, exec, stats. */
export interface VmHandle {
  start(opts: { waitAgent: boolean }): Promise<void>;
  /**
   * What the user should know about a start (e.g. host memory running short); never refuses and
   * never rejects. Called right before start() without awaiting: it must read the state it
   * judges synchronously.
   */
  startWarnings?(): Promise<string[]>;
  stop(opts: { force: boolean }): Promise<void>;
  restart(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  update(patch: VmPatch): Promise<void>;
  exec(command: string[], opts: { stdin?: string | Buffer; timeoutMs: number }): Promise<ExecResult>;
  /** all of a guest file, or (range) up to `length` bytes from `offset` */
  readFile(path: string, range?: { offset: number; length: number }): Promise<Buffer>;
  writeFile(path: string, data: Buffer, opts?: WriteFileOptions): Promise<number>;
  logs(tail: number): Promise<LogEntry[]>;
  /** scrollback so far; `cb` gets what follows until unsubscribed (subscribers survive a QEMU restart) */
  consoleSubscribe(key: string, cb: (data: string) => void): string;
  consoleUnsubscribe(key: string): void;
  /** false when the console is not connected */
  consoleInput(data: string): boolean;
  /** how `flotilla ssh` reaches the built-in guest; the local host answers for its VMs itself, backends without it leave it out */
  sshInfo?(): Promise<SshInfo>;
  /** latest PNG (base64) if any; `cb` gets new ones, also across a QEMU restart */
  thumbnailSubscribe(key: string, cb: (pngBase64: string) => void): string | null;
  thumbnailUnsubscribe(key: string): void;
  /** a single-use loopback WebSocket URL for noVNC */
  displayUrl(): Promise<string>;
  /** one sample, or null when the VM has no process */
  stats(): Promise<{ cpuPercent: number; rssBytes: number } | null>;
  // optional: a backend without them leaves them out (and its caps say so); the router answers UNSUPPORTED
  /** write the stopped VM to one archive file (caps.export) */
  exportTo?(path: string, force: boolean): Promise<ExportResult>;
  /** a new VM copied from this stopped one (caps.clone) */
  clone?(name: string, opts: { linked: boolean; start: boolean }): Promise<VmInfo>;
  /** the VM's own disks (caps.disks) */
  disks?(): Promise<DiskInfo[]>;
  /** grow a disk, running or stopped; never shrinks (caps.disks) */
  resizeDisk?(disk: string | undefined, sizeGiB: number): Promise<DiskInfo>;
  /** add a blank disk to the stopped VM (caps.disks) */
  addDisk?(sizeGiB: number): Promise<void>;
  /** detach an added disk from the stopped VM and delete its file (caps.disks) */
  removeDisk?(disk: string): Promise<void>;
  /** put an ISO in the CD drive, or eject it (null); running or stopped (caps.media) */
  changeMedia?(iso: string | null): Promise<void>;
  /** snapshots (caps.snapshots): list, create (with RAM when running, unless diskOnly), revert, delete */
  snapshots?(): Promise<SnapshotInfo[]>;
  snapshotCreate?(name: string | undefined, opts: { diskOnly: boolean }): Promise<SnapshotInfo>;
  snapshotRevert?(name: string): Promise<void>;
  snapshotDelete?(name: string): Promise<void>;
  /** shared folders (caps.shares): list with their helpers' state; add/remove on a stopped VM */
  shares?(): Promise<ShareInfo[]>;
  shareAdd?(share: { hostPath: string; tag?: string; readOnly: boolean }): Promise<ShareInfo>;
  shareRemove?(tag: string): Promise<void>;
  /** cancel the VM's running long job; false when there is none */
  cancelJob?(): boolean;
}

export interface Host {
  readonly id: string;
  readonly kind: string;
  info(): HostInfo;
  /** load, connect, adopt; errors are reported through info().state = 'failed', not thrown */
  start(): Promise<void>;
  /** let go (VMs keep running unless stopVms) */
  close(opts?: { stopVms?: boolean }): Promise<void>;
  list(): VmInfo[];
  /** NOT_FOUND when there is no such VM */
  get(id: string): VmInfo;
  find(nameOrId: string): VmInfo | undefined;
  /** with start: the start's warnings too */
  create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo & { warnings?: string[] }>;
  /** `storage`: also delete the VM's disks where the host keeps them apart (libvirt); local VMs always lose theirs */
  delete(id: string, opts?: { storage?: boolean }): Promise<void>;
  /** a new VM from an export archive; hosts without it leave it out */
  importVm?(path: string, opts: { name?: string; start: boolean }): Promise<ImportResult>;
  /** cancel an import in flight, named by the id its vm.progress events carry; false when none */
  cancelImport?(id: string): boolean;
  /** NOT_FOUND when there is no such VM */
  vm(id: string): VmHandle;
  stopAll(opts: { deadlineMs: number; includeKeepRunning: boolean }): Promise<StopAllResult>;
  /** ISO or disk images in the host's storage pools (libvirt); hosts without pools omit it */
  volumes?(kind: 'iso' | 'disk'): Promise<HostVolume[]>;
  /** every running VM's stats from one read, by VM id (the stats sampler's tick); hosts without it are asked per VM */
  statsAll?(): Promise<Map<string, { cpuPercent: number; rssBytes: number }>>;
  /** host ports this host's VMs hold on this machine (local forwards); hosts without any omit it */
  ports?(id?: string): PortEntry[];
  onEvent(listener: HostListener): () => void;
  /** the host's info changed (state, VM count) */
  onChanged(cb: () => void): () => void;
}

/** The error for an operation a host or a VM's backend does not have. */
export function unsupported(what: string, hostId: string): FlotillaError {
  return new FlotillaError('UNSUPPORTED', `${what} is not available on this host (${hostId})`, { host: hostId, what });
}

export { capsOf };

/** The hosts an engine serves, by id; `local` first. */
export class HostRegistry {
  private readonly hosts = new Map<string, Host>();

  add(host: Host): void {
    if (this.hosts.has(host.id)) throw new FlotillaError('BAD_REQUEST', `a host with id ${host.id} is already registered`);
    this.hosts.set(host.id, host);
  }

  remove(id: string): Host | undefined {
    const h = this.hosts.get(id);
    this.hosts.delete(id);
    return h;
  }

  get(id: string): Host {
    const h = this.hosts.get(id);
    if (!h) throw new FlotillaError('NOT_FOUND', `no host with id ${id}`, { host: id });
    return h;
  }

  has(id: string): boolean {
    return this.hosts.has(id);
  }

  all(): Host[] {
    return [...this.hosts.values()];
  }
}
