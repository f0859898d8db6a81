// The host seam. Every VM lives on a host: `local` is Flotilla's own engine supervising QEMU
// directly (local-host.ts); other kinds (libvirt) register beside it. The engine's router
// reaches VMs only through this interface, so a new kind of host is one class and one
// `registry.add()`. A host that lacks an operation throws `unsupported()`, never half-works
// (as Multipass's backends and lima's drivers do), and says so up front in each VmInfo.caps.
import type { EventName, EventPayloads, ExecResult, HostInfo, LogEntry, PortEntry, VmInfo } from '../../../shared/contract';
import { capsOf } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmConfig, VmPatch } from '../../../shared/spec';

/** Events a host emits; the engine passes them on to every client. Stream data goes through VmHandle subscriptions instead. */
export type HostEventName = Exclude<EventName, 'ui.newVm' | 'console.data' | 'vm.thumbnail' | 'vm.stats' | 'host.changed' | 'engine.progress'>;
export type HostListener = <E extends HostEventName>(event: E, payload: EventPayloads[E]) => void;

export interface StopAllResult {
  stopped: string[];
  keptRunning: string[];
}

/** One VM on a host: lifecycle, console, display, exec, stats. */
export interface VmHandle {
  start(opts: { waitAgent: boolean }): Promise<void>;
  stop(opts: { force: boolean }): Promise<void>;
  restart(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  update(patch: VmPatch): Promise<void>;
  exec(command: string[], opts: { stdin?: string; timeoutMs: number }): Promise<ExecResult>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: Buffer): Promise<number>;
  logs(tail: number): Promise<LogEntry[]>;
  /** scrollback so far; `cb` gets what follows until unsubscribed (subscribers survive a QEMU restart) */
  consoleSubscribe(key: string, cb: (data: string) => void): string;
  consoleUnsubscribe(key: string): void;
  /** false when the console is not connected */
  consoleInput(data: string): boolean;
  /** latest PNG (base64) if any; `cb` gets new ones, also across a QEMU restart */
  thumbnailSubscribe(key: string, cb: (pngBase64: string) => void): string | null;
  thumbnailUnsubscribe(key: string): void;
  /** a single-use loopback WebSocket URL for noVNC */
  displayUrl(): Promise<string>;
  /** one sample, or null when the VM has no process */
  stats(): Promise<{ cpuPercent: number; rssBytes: number } | null>;
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
  create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo>;
  /** `storage`: also delete the VM's disks where the host keeps them apart (libvirt); local VMs always lose theirs */
  delete(id: string, opts?: { storage?: boolean }): Promise<void>;
  /** NOT_FOUND when there is no such VM */
  vm(id: string): VmHandle;
  stopAll(opts: { deadlineMs: number; includeKeepRunning: boolean }): Promise<StopAllResult>;
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
