// The engine: Flotilla's concierge. It serves the one contract (shared/contract.ts) through a
// handler table (router.ts) over a registry of hosts (hosts/host.ts): `local` is this
// machine's QEMU supervision (hosts/local-host.ts), and other kinds register beside it. Stream
// subscriptions live in one place (streams.ts). Every shell (Electron, `flotilla serve`, the
// CLI socket) is a thin forward to `handle()`. Dependencies come in through the constructor so
// tests can swap the clock, the spawner, the QEMU binary or the deadlines without monkey-patching.
import { execFile } from 'node:child_process';
import { cpus as hostCpus, freemem, totalmem } from 'node:os';
import type { CallContext, ContractHandler, EngineInfo, EventName, EventPayloads, Method, MethodParams, MethodResult, Progress } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { detectAccel } from './accel';
import { ENGINE_VERSION, qemuBinary, STOP_DEADLINE_MS } from './defaults';
import { diskFullError, isNoSpace } from './disk-full';
import { buildDefaultGuest, readDefaultGuest } from './guest/build-default';
import { HostRegistry, type Host } from './hosts/host';
import { LibvirtHosts } from './hosts/libvirt/libvirt-hosts';
import { LocalHost } from './hosts/local-host';
import type { HomeLayout } from './paths';
import type { PortAllocator } from './port-allocator';
import type { DefaultGuestBoot } from './qemu-args';
import type { BackoffOptions } from './restart-backoff';
import { makeHandlers, type Handler, type HandlerTable } from './router';
import { EngineStreams } from './streams';
import type { Supervisor, SpawnFn } from './supervisor';
import type { VmStore } from './vm-store';

export { ENGINE_VERSION };

export interface EngineOptions {
  layout: HomeLayout;
  /** which shell runs this engine: shown in engine.info */
  shell?: string;
  qemuBinary?: string;
  accel?: 'kvm' | 'tcg' | 'kvm:tcg';
  spawn?: SpawnFn;
  now?: () => number;
  stopDeadlineMs?: number;
  /** a graceful stop presses the power button again this often (stop-ladder.ts) */
  powerdownRepeatMs?: number;
  agentGraceMs?: number;
  statsIntervalMs?: number;
  backoff?: BackoffOptions;
  portRange?: [number, number];
  defaultGuest?: (vmName: string) => Promise<DefaultGuestBoot>;
  /** this computer's boot id, for autostart (tests point it at a file of their own) */
  bootIdPath?: string;
  buildDefaultGuest?: (onProgress: (p: Progress) => void) => Promise<{ kernelVersion: string; dir: string }>;
}

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

export class Engine implements ContractHandler {
  readonly layout: HomeLayout;
  readonly hosts = new HostRegistry();
  readonly local: LocalHost;
  /** the user's libvirt hosts, each registered beside `local` */
  readonly libvirt: LibvirtHosts;
  private readonly listeners = new Set<Listener>();
  private readonly streams: EngineStreams;
  private readonly handlers: HandlerTable;
  private readonly hostOffs = new Map<string, () => void>();
  private readonly now: () => number;
  private readyPromise: Promise<void> | null = null;
  private accel: 'kvm' | 'tcg' | 'kvm:tcg' | null;
  /** why VMs are emulated (accel.ts); null with KVM */
  private accelWhy: string | null = null;
  private qemuVersion: string | null | undefined;
  private closed = false;
  /** creates and imports under way, by host/id (trackMaking) */
  private readonly making = new Map<string, MethodResult<'vm.making'>[number]>();

  constructor(private readonly opts: EngineOptions) {
    this.layout = opts.layout;
    this.now = opts.now ?? Date.now;
    this.accel = opts.accel ?? null;
    if (this.accel === 'tcg') this.accelWhy = 'this engine was started for emulation (its accel option)';
    this.local = new LocalHost({
      layout: opts.layout,
      accel: () => this.accel ?? 'tcg',
      now: this.now,
      ...(opts.qemuBinary !== undefined ? { qemuBinary: opts.qemuBinary } : {}),
      ...(opts.spawn ? { spawn: opts.spawn } : {}),
      ...(opts.stopDeadlineMs !== undefined ? { stopDeadlineMs: opts.stopDeadlineMs } : {}),
      ...(opts.powerdownRepeatMs !== undefined ? { powerdownRepeatMs: opts.powerdownRepeatMs } : {}),
      ...(opts.agentGraceMs !== undefined ? { agentGraceMs: opts.agentGraceMs } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.portRange ? { portRange: opts.portRange } : {}),
      ...(opts.defaultGuest ? { defaultGuest: opts.defaultGuest } : {}),
      ...(opts.bootIdPath ? { bootIdPath: opts.bootIdPath } : {}),
    });
    this.streams = new EngineStreams(this.hosts, opts.statsIntervalMs ?? 1000, this.now);
    this.libvirt = new LibvirtHosts({
      home: opts.layout.home,
      onAdded: (h) => this.addHost(h),
      onRemoved: (h) => void this.removeHost(h.id),
    });
    this.handlers = makeHandlers({
      hosts: this.hosts,
      local: this.local,
      streams: this.streams,
      engineInfo: () => this.engineInfo(),
      buildDefault: () => this.buildDefault(),
      stopAll: (p) => this.stopAll(p),
      making: () => [...this.making.values()],
      libvirt: this.libvirt,
    });
    this.addHost(this.local);
  }

  /** The local host's spec store (tests, shells). */
  get store(): VmStore {
    return this.local.store;
  }

  /** The local host's port allocator (tests, shells). */
  get ports(): PortAllocator {
    return this.local.allocator;
  }

  /**
   * Register a host: its events reach every client from then on. The engine starts it when
   * the engine starts (or at once if the engine already runs); a host that fails to connect
   * says so in host.list instead of failing the engine.
   */
  addHost(host: Host): void {
    this.hosts.add(host);
    const offEvents = host.onEvent((event, payload) => {
      if (event === 'vm.removed') this.streams.vmRemoved(payload as EventPayloads['vm.removed']);
      if (event === 'vm.changed') this.streams.vmChanged(payload as EventPayloads['vm.changed']);
      if (event === 'vm.progress') this.trackMaking(payload as EventPayloads['vm.progress']);
      this.emit(event, payload);
    });
    const offChanged = host.onChanged(() => this.emit('host.changed', host.info()));
    this.hostOffs.set(host.id, () => (offEvents(), offChanged()));
    if (this.readyPromise && host.id !== this.local.id) void this.readyPromise.then(() => host.start());
  }

  /** Unregister a host (its VMs vanish from the lists); the host is closed, its VMs keep running. */
  async removeHost(id: string): Promise<void> {
    if (id === this.local.id) throw new FlotillaError('BAD_REQUEST', 'the local host cannot be removed');
    const host = this.hosts.remove(id);
    if (!host) return;
    this.hostOffs.get(id)?.();
    this.hostOffs.delete(id);
    for (const vm of host.list()) this.emit('vm.removed', { host: id, id: vm.id });
    for (const [key, m] of this.making) if (m.host === id) this.making.delete(key);
    this.emit('host.removed', { id });
    await host.close();
  }

  /** Load specs and the port table, adopt live QEMUs, connect other hosts. Idempotent. */
  start(): Promise<void> {
    this.readyPromise ??= (async () => {
      if (this.accel === null) ({ accel: this.accel, why: this.accelWhy } = await detectAccel());
      // a broken hosts.json does not stop the engine: local VMs still work, and the file is named
      const loaded = await this.libvirt.load();
      if (loaded.error) process.emitWarning(`flotilla: libvirt hosts not loaded: ${loaded.error}`);
      await Promise.all(this.hosts.all().map((h) => h.start()));
    })();
    return this.readyPromise;
  }

  /** Let go of everything. VMs keep running (detached) unless stopVms; the next engine adopts them. */
  async close(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (this.readyPromise) await this.readyPromise.catch(() => undefined);
    if (opts.stopVms) await this.stopAll({ deadlineMs: this.opts.stopDeadlineMs ?? STOP_DEADLINE_MS, includeKeepRunning: true });
    this.closed = true;
    this.streams.close();
    await Promise.all(this.hosts.all().map((h) => h.close()));
    this.listeners.clear();
  }

  /**
   * A create's or an import's latest progress, for a window that connects while it runs
   * (vm.making): it names the VM it makes, which no list holds until the job ends. Its last
   * progress (null) ends it, committed or not.
   */
  private trackMaking(p: EventPayloads['vm.progress']): void {
    const key = `${p.host}/${p.id}`;
    if (p.progress?.newVm) this.making.set(key, { host: p.host, id: p.id, progress: p.progress });
    else if (!p.progress) this.making.delete(key);
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    if (this.closed) return;
    for (const l of [...this.listeners]) {
      try {
        l(event, payload);
      } catch {
        /* a failing transport must not break the engine */
      }
    }
  }

  // ------------------------------------------------------------------ the contract

  async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    if (this.closed) throw new FlotillaError('DISCONNECTED', 'the engine is shutting down');
    await this.start();
    const handler = this.handlers[method] as Handler<M> | undefined;
    if (!handler) throw new FlotillaError('UNKNOWN_METHOD', `unknown method: ${String(method)}`);
    try {
      return await handler(params, ctx);
    } catch (err) {
      // a write that named no file (the writers that know theirs already said so)
      if (isNoSpace(err)) throw diskFullError(this.layout.home, { dataDir: true });
      throw err;
    }
  }

  private async engineInfo(): Promise<EngineInfo> {
    if (this.qemuVersion === undefined) {
      const bin = qemuBinary(this.opts.qemuBinary);
      this.qemuVersion = await new Promise<string | null>((resolve) =>
        execFile(bin, ['--version'], { timeout: 5000 }, (err, out) => resolve(err ? null : (/version ([^\s]+)/.exec(out)?.[1] ?? null))),
      );
    }
    const g = await readDefaultGuest(this.layout.home);
    return {
      version: ENGINE_VERSION,
      home: this.layout.home,
      pid: process.pid,
      qemuVersion: this.qemuVersion,
      kvm: this.accel !== 'tcg',
      noKvmReason: this.accelWhy,
      defaultImage: { ready: g.ready, stale: g.ready && g.stale, kernelVersion: g.manifest?.kernelVersion ?? null, path: g.dir },
      shell: this.opts.shell ?? 'engine',
      hostTotals: { cpus: hostCpus().length, memoryBytes: totalmem(), freeMemoryBytes: freemem() },
    };
  }

  private async buildDefault(): Promise<{ kernelVersion: string; dir: string }> {
    const progress = (p: Progress): void => this.emit('engine.progress', p);
    if (this.opts.buildDefaultGuest) return this.opts.buildDefaultGuest(progress);
    const r = await buildDefaultGuest({
      home: this.layout.home,
      onProgress: (message, percent) => progress({ op: 'image-build', percent, message }),
    });
    return { kernelVersion: r.manifest.kernelVersion, dir: r.dir };
  }

  /** Stop VMs on every host in parallel, gracefully with a deadline each. */
  async stopAll(opts: { deadlineMs: number; includeKeepRunning: boolean }): Promise<{ stopped: string[]; keptRunning: string[] }> {
    const results = await Promise.all(this.hosts.all().map((h) => h.stopAll(opts)));
    return { stopped: results.flatMap((r) => r.stopped), keptRunning: results.flatMap((r) => r.keptRunning) };
  }

  /** For tests and shells: the supervisor of a local VM. */
  supervisor(id: string): Supervisor {
    return this.local.supervisor(id);
  }
}
