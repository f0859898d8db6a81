// The engine: Flotilla's concierge. It implements the one contract (shared/contract.ts)
// over the store, the port allocator, one Supervisor per VM, consoles, stats, thumbnails
// and the display proxy. Every shell (Electron, `flotilla serve`, the CLI socket) is a thin
// forward to `handle()`. Dependencies come in through the constructor so tests can swap
// the clock, the spawner, the QEMU binary or the deadlines without monkey-patching.
import { spawn as nodeSpawn, execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { access, constants as fsConstants, copyFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type {
  CallContext,
  ContractHandler,
  EngineInfo,
  EventName,
  EventPayloads,
  Method,
  MethodParams,
  MethodResult,
  PathInfo,
  Progress,
  VmInfo,
} from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import type { VmConfig, VmPatch, VmSpec } from '../../shared/spec';
import { canDelete, canEdit, isActive } from '../../shared/state';
import { defaultGuestBoot } from './default-guest-boot';
import { DisplayProxy } from './display-proxy';
import { buildDefaultGuest, readDefaultGuest } from './guest/build-default';
import { diskFullError, isNoSpace, namingFullDisk } from './disk-full';
import { assertMemoryFits, readHostMemory, warnBeforeStart } from './host-memory';
import { inspectPath, qemuImgConvert, qemuImgCreate } from './images';
import { KeyedMutex } from './mutex';
import type { HomeLayout } from './paths';
import { PortAllocator } from './port-allocator';
import { OVMF_VARS_FILE, OVMF_VARS_TEMPLATE, VM_DISK_FILE, type DefaultGuestBoot } from './qemu-args';
import type { BackoffOptions } from './restart-backoff';
import { StatsSampler } from './stats';
import { Supervisor, type SpawnFn } from './supervisor';
import { checkNewVm } from './vm-checks';
import { VmStore } from './vm-store';

export const ENGINE_VERSION = '0.1.0';

export interface EngineOptions {
  layout: HomeLayout;
  /** which shell runs this engine: shown in engine.info */
  shell?: string;
  qemuBinary?: string;
  accel?: 'kvm' | 'tcg' | 'kvm:tcg';
  spawn?: SpawnFn;
  now?: () => number;
  stopDeadlineMs?: number;
  agentGraceMs?: number;
  statsIntervalMs?: number;
  backoff?: BackoffOptions;
  portRange?: [number, number];
  defaultGuest?: (vmName: string) => Promise<DefaultGuestBoot>;
  buildDefaultGuest?: (onProgress: (p: Progress) => void) => Promise<{ kernelVersion: string; dir: string }>;
}

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

/**
 * KVM is used when /dev/kvm opens read-write AND the CPU advertises hardware virtualization
 * (vmx/svm). Some sandboxes expose a /dev/kvm whose vCPUs then fail ("failed to set MSR"), and
 * QEMU's `-accel kvm -accel tcg` fallback only covers a failing KVM *init*, so the CPU flag check
 * keeps those hosts on TCG. FLOTILLA_ACCEL=kvm|tcg overrides the choice.
 */
export async function detectAccel(env: NodeJS.ProcessEnv = process.env, cpuinfoPath = '/proc/cpuinfo'): Promise<'kvm:tcg' | 'tcg'> {
  if (env.FLOTILLA_ACCEL === 'tcg') return 'tcg';
  if (env.FLOTILLA_ACCEL === 'kvm') return 'kvm:tcg';
  try {
    await access('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
    const cpuinfo = await readFile(cpuinfoPath, 'utf8');
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo) ? 'kvm:tcg' : 'tcg';
  } catch {
    return 'tcg';
  }
}

export class Engine implements ContractHandler {
  readonly layout: HomeLayout;
  readonly store: VmStore;
  readonly ports: PortAllocator;
  private readonly mutex = new KeyedMutex();
  private readonly sups = new Map<string, Supervisor>();
  private readonly listeners = new Set<Listener>();
  private readonly sampler = new StatsSampler();
  private readonly display: DisplayProxy;
  private readonly now: () => number;
  private statsTimer: NodeJS.Timeout | null = null;
  private readyPromise: Promise<void> | null = null;
  private accel: 'kvm' | 'tcg' | 'kvm:tcg' | null;
  private qemuVersion: string | null | undefined;
  private closed = false;
  private lastAgent = new Map<string, string>();

  constructor(private readonly opts: EngineOptions) {
    this.layout = opts.layout;
    this.now = opts.now ?? Date.now;
    this.store = new VmStore(opts.layout);
    this.ports = new PortAllocator({ file: opts.layout.portsFile, ...(opts.portRange ? { range: opts.portRange } : {}) });
    this.accel = opts.accel ?? null;
    this.display = new DisplayProxy((id) => this.sups.get(id)?.vncSocket() ?? null, this.now);
  }

  /** Load specs and the port table, adopt live QEMUs, start the stats clock. Idempotent. */
  start(): Promise<void> {
    this.readyPromise ??= (async () => {
      this.accel ??= await detectAccel();
      await this.ports.load();
      const specs = await this.store.load();
      // one VM that cannot be settled must not keep the engine (and every other VM) down
      await Promise.all(
        specs.map((s) => {
          const sup = this.addSupervisor(s.id);
          return sup.init().catch((err: unknown) => sup.lifecycle(`could not settle this VM at engine start: ${(err as Error).message}`));
        }),
      );
      this.statsTimer = setInterval(() => void this.sampleStats(), this.opts.statsIntervalMs ?? 1000);
      this.statsTimer.unref();
    })();
    return this.readyPromise;
  }

  /** Let go of everything. VMs keep running (detached) unless stopVms; the next engine adopts them. */
  async close(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (this.readyPromise) await this.readyPromise.catch(() => undefined);
    if (opts.stopVms) await this.stopAll({ deadlineMs: this.opts.stopDeadlineMs ?? 30_000, includeKeepRunning: true });
    this.closed = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    await this.display.close();
    await Promise.all([...this.sups.values()].map((s) => s.detach()));
    this.listeners.clear();
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, payload);
      } catch {
        /* a failing transport must not break the engine */
      }
    }
  }

  private addSupervisor(id: string): Supervisor {
    const sup = new Supervisor(
      id,
      () => this.store.get(id),
      {
        layout: this.layout,
        ports: this.ports,
        mutex: this.mutex,
        spawn: this.opts.spawn ?? ((cmd, args, o) => nodeSpawn(cmd, args, o)),
        qemuBinary: this.opts.qemuBinary ?? process.env.FLOTILLA_QEMU ?? 'qemu-system-x86_64',
        accel: this.accel ?? 'tcg',
        defaultGuest: this.opts.defaultGuest ?? ((name) => defaultGuestBoot(this.layout.home, name)),
        stopDeadlineMs: this.opts.stopDeadlineMs ?? 30_000,
        agentGraceMs: this.opts.agentGraceMs ?? 60_000,
        ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
        now: this.now,
      },
      {
        changed: () => this.vmChanged(id),
        log: (entry) => this.emit('vm.log', { id, entry }),
        progress: (progress) => this.emit('vm.progress', { id, progress }),
      },
    );
    this.sups.set(id, sup);
    return sup;
  }

  private vmChanged(id: string): void {
    const sup = this.sups.get(id);
    if (!sup || this.closed) return;
    let info: VmInfo;
    try {
      info = this.toInfo(sup);
    } catch {
      return; // deleted meanwhile
    }
    this.emit('vm.changed', info);
    const agentKey = `${info.agent}|${info.ips.join(',')}`;
    if (this.lastAgent.get(id) !== agentKey) {
      this.lastAgent.set(id, agentKey);
      this.emit('vm.agent', { id, agent: info.agent, ips: info.ips });
    }
  }

  /** Plain data for one VM: what crosses every transport. */
  toInfo(sup: Supervisor): VmInfo {
    const spec = this.store.get(sup.id);
    return structuredClone({
      id: spec.id,
      name: spec.name,
      spec,
      state: sup.state,
      reason: sup.reason,
      stateSince: sup.stateSince,
      pid: sup.pid,
      agent: sup.agentState,
      ips: sup.ips,
      ports: this.ports.entries(sup.id),
      hasDisplay: spec.display === 'vnc',
      progress: sup.progress,
      lastExit: sup.lastExit,
      lastDiskCheck: sup.lastDiskCheck,
      adopted: sup.adopted,
      qmpHealthy: sup.qmpHealthy,
    });
  }

  private sup(id: string): Supervisor {
    const s = this.sups.get(id);
    if (!s) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return s;
  }

  private info(id: string): VmInfo {
    return this.toInfo(this.sup(id));
  }

  private async sampleStats(): Promise<void> {
    const t = this.now();
    await Promise.all(
      [...this.sups.values()].map(async (s) => {
        if (s.pid === null || !isActive(s)) return;
        const r = await this.sampler.sample(s.pid);
        if (r && !this.closed) this.emit('vm.stats', { id: s.id, t, cpuPercent: r.cpuPercent, rssBytes: r.rssBytes });
      }),
    );
  }

  // ------------------------------------------------------------------ the contract

  async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    if (this.closed) throw new FlotillaError('DISCONNECTED', 'the engine is shutting down');
    await this.start();
    try {
      return (await this.route(method, params as never, ctx)) as MethodResult<M>;
    } catch (err) {
      // a write that named no file (the callers that know theirs already said so)
      if (isNoSpace(err)) throw diskFullError(this.layout.home, { dataDir: true });
      throw err;
    }
  }

  private async route(method: Method, p: Record<string, unknown>, ctx: CallContext): Promise<unknown> {
    const id = p.id as string;
    switch (method) {
      case 'engine.info':
        return this.engineInfo();
      case 'vm.list':
        return [...this.sups.values()].map((s) => this.toInfo(s));
      case 'vm.get':
        return this.info(id);
      case 'vm.find':
        return this.find(p.nameOrId as string);
      case 'vm.create':
        return this.createVm(p.config as VmConfig, p.start as boolean);
      case 'vm.update': {
        const sup = this.sup(id);
        if (!canEdit(sup)) throw new FlotillaError('INVALID_STATE', `stop ${sup.spec.name} before changing its settings`);
        const memoryMiB = (p.patch as VmPatch).memoryMiB;
        if (memoryMiB !== undefined) assertMemoryFits(memoryMiB, await readHostMemory(), ['patch', 'memoryMiB']);
        await this.mutex.run(id, () => this.store.update(id, p.patch as never));
        this.vmChanged(id);
        return this.info(id);
      }
      case 'vm.delete':
        return this.deleteVm(id);
      case 'vm.start': {
        const warnings = await this.startWarnings(id);
        await this.sup(id).start({ waitAgent: p.waitAgent as boolean });
        return { ...this.info(id), warnings };
      }
      case 'vm.stop':
        await this.sup(id).stop({ force: p.force as boolean });
        return this.info(id);
      case 'vm.restart':
        await this.sup(id).restart();
        return this.info(id);
      case 'vm.pause':
        await this.sup(id).pause();
        return this.info(id);
      case 'vm.resume':
        await this.sup(id).resume();
        return this.info(id);
      case 'vm.exec': {
        const agent = await this.sup(id).agentClient();
        return agent.exec(p.command as string[], { ...(p.stdin !== undefined ? { stdin: p.stdin as string } : {}), timeoutMs: p.timeoutMs as number });
      }
      case 'vm.readFile': {
        const agent = await this.sup(id).agentClient();
        return { dataBase64: (await agent.readFile(p.path as string)).toString('base64') };
      }
      case 'vm.writeFile': {
        const agent = await this.sup(id).agentClient();
        return { bytes: await agent.writeFile(p.path as string, Buffer.from(p.dataBase64 as string, 'base64')) };
      }
      case 'vm.logs':
        return { entries: await this.sup(id).logs(p.tail as number) };
      case 'vm.ports':
        if (id !== undefined) this.sup(id);
        return this.ports.entries(id);
      case 'vm.checkPort':
        return this.checkPort(p.proto as 'tcp' | 'udp', p.hostPort as number);
      case 'console.subscribe': {
        const sup = this.sup(id);
        const key = ctx.clientId;
        const scrollback = sup.console.subscribe(key, (data) => ctx.emit('console.data', { id, data }));
        ctx.onClose(() => this.sups.get(id)?.console.unsubscribe(key));
        return { scrollback };
      }
      case 'console.unsubscribe':
        this.sup(id).console.unsubscribe(ctx.clientId);
        return { ok: true };
      case 'console.input': {
        const sup = this.sup(id);
        if (!sup.console.write(p.data as string)) throw new FlotillaError('INVALID_STATE', `the serial console of ${sup.spec.name} is not connected (is it running?)`);
        return { ok: true };
      }
      case 'thumbnail.subscribe': {
        const sup = this.sup(id);
        if (sup.spec.display !== 'vnc') throw new FlotillaError('INVALID_STATE', `${sup.spec.name} has no display`);
        const key = ctx.clientId;
        const pngBase64 = sup.thumbnails.subscribe(key, (png) => ctx.emit('vm.thumbnail', { id, pngBase64: png }));
        ctx.onClose(() => this.sups.get(id)?.thumbnails.unsubscribe(key));
        return { pngBase64 };
      }
      case 'thumbnail.unsubscribe':
        this.sup(id).thumbnails.unsubscribe(ctx.clientId);
        return { ok: true };
      case 'display.open':
        this.sup(id);
        return { url: await this.display.open(id) };
      case 'host.pickFile':
        throw new FlotillaError('UNSUPPORTED', 'file pickers exist only in the desktop app; type the path instead');
      case 'path.inspect':
        return inspectPath(p.path as string, p.expect as never) as Promise<PathInfo>;
      case 'image.buildDefault':
        return this.buildDefault();
      case 'engine.stopAll':
        return this.stopAll({ deadlineMs: p.deadlineMs as number, includeKeepRunning: p.includeKeepRunning as boolean });
    }
    throw new FlotillaError('UNKNOWN_METHOD', `unknown method: ${String(method)}`);
  }

  private find(nameOrId: string): VmInfo {
    const byId = this.sups.get(nameOrId);
    if (byId) return this.toInfo(byId);
    const spec = this.store.findByName(nameOrId);
    if (!spec) throw new FlotillaError('NOT_FOUND', `no VM named ${JSON.stringify(nameOrId)}`);
    return this.info(spec.id);
  }

  private async engineInfo(): Promise<EngineInfo> {
    if (this.qemuVersion === undefined) {
      const bin = this.opts.qemuBinary ?? process.env.FLOTILLA_QEMU ?? 'qemu-system-x86_64';
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
      defaultImage: { ready: g.ready, kernelVersion: g.manifest?.kernelVersion ?? null, path: g.dir },
      shell: this.opts.shell ?? 'engine',
    };
  }

  // ------------------------------------------------------------------ create / delete

  /** Check every user path first, then make the VM's own files; a failure leaves nothing behind. */
  private async createVm(config: VmConfig, start: boolean): Promise<VmInfo & { warnings?: string[] }> {
    const src = config.source;
    await checkNewVm(config, {
      heldBy: (proto, hostPort) => {
        const owner = this.ports.entries().find((e) => e.hostPort === hostPort && e.proto === proto);
        return owner ? (this.sups.get(owner.vmId)?.spec.name ?? owner.vmId) : null;
      },
      probe: (proto, hostPort) => this.checkPort(proto, hostPort),
    });
    let disks: string[] = [];
    const spec = await this.store.create(config, {
      beforeCommit: async (s: VmSpec, dir: string) => {
        const progress = (p: Progress | null): void => this.emit('vm.progress', { id: s.id, progress: p });
        if (src.kind === 'iso') {
          progress({ op: 'disk-create', percent: null, message: `creating a ${src.diskSizeGiB} GiB disk` });
          await qemuImgCreate(join(dir, VM_DISK_FILE), src.diskSizeGiB, 'qcow2');
          disks = [VM_DISK_FILE];
        } else if (src.kind === 'disk' && src.mode === 'copy') {
          progress({ op: 'disk-import', percent: 0, message: `copying ${src.path}` });
          await qemuImgConvert(src.path, join(dir, VM_DISK_FILE), {
            outFormat: 'qcow2',
            onProgress: (pct: number) => progress({ op: 'disk-import', percent: pct, message: `copying ${src.path}` }),
          });
          disks = [VM_DISK_FILE];
        }
        if (config.firmware === 'uefi') await namingFullDisk(join(dir, OVMF_VARS_FILE), () => copyFile(OVMF_VARS_TEMPLATE, join(dir, OVMF_VARS_FILE)));
        s.disks.push(...disks);
        progress(null);
      },
    });
    const sup = this.addSupervisor(spec.id);
    await sup.init();
    this.vmChanged(spec.id);
    if (!start) return this.info(spec.id);
    const warnings = await this.startWarnings(spec.id);
    await sup.start();
    return { ...this.info(spec.id), warnings };
  }

  private async deleteVm(id: string): Promise<{ id: string }> {
    const sup = this.sup(id);
    await this.mutex.run(id, async () => {
      if (!canDelete(sup)) throw new FlotillaError('INVALID_STATE', `stop ${sup.spec.name} before deleting it`);
      await sup.detach();
      await this.store.delete(id);
      await this.ports.forget(id);
      await sup.removeRunDir();
      this.sups.delete(id);
      this.lastAgent.delete(id);
    });
    this.emit('vm.removed', { id });
    return { id };
  }

  // ------------------------------------------------------------------ misc

  /** Memory warnings for starting VM `id` next to the VMs running now (shown, never refused). */
  private async startWarnings(id: string): Promise<string[]> {
    const sup = this.sup(id);
    if (isActive(sup)) return []; // start will refuse it with its own message
    const running = [...this.sups.values()].filter((s) => s.id !== id && isActive(s) && s.pid !== null);
    try {
      return await warnBeforeStart(
        { name: sup.spec.name, memoryMiB: sup.spec.memoryMiB },
        running.map((s) => ({ name: s.spec.name, memoryMiB: s.spec.memoryMiB, pid: s.pid! })),
      );
    } catch {
      return []; // no /proc/meminfo: nothing to warn with
    }
  }

  /** Free on 127.0.0.1 and not handed to any VM? Probed by binding, then released at once. */
  async checkPort(proto: 'tcp' | 'udp', hostPort: number): Promise<{ free: boolean; reason?: string }> {
    const owner = this.ports.entries().find((e) => e.hostPort === hostPort && e.proto === proto);
    if (owner) {
      const name = this.sups.get(owner.vmId)?.spec.name ?? owner.vmId;
      return { free: false, reason: `used by VM ${name}` };
    }
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      if (proto === 'udp') {
        const s = createSocket('udp4');
        s.once('error', (e) => {
          s.close();
          resolve(e);
        });
        s.bind(hostPort, '127.0.0.1', () => s.close(() => resolve(null)));
      } else {
        const s = createServer();
        s.once('error', (e) => resolve(e));
        s.listen({ port: hostPort, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(null)));
      }
    });
    if (!err) return { free: true };
    return { free: false, reason: err.code === 'EADDRINUSE' ? 'in use by another program' : (err.message ?? String(err)) };
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

  /** Stop VMs in parallel, gracefully with a deadline each. */
  async stopAll(opts: { deadlineMs: number; includeKeepRunning: boolean }): Promise<{ stopped: string[]; keptRunning: string[] }> {
    const stopped: string[] = [];
    const keptRunning: string[] = [];
    await Promise.all(
      [...this.sups.values()].map(async (s) => {
        if (!isActive(s)) return;
        if (s.spec.keepRunningOnQuit && !opts.includeKeepRunning) {
          keptRunning.push(s.id);
          return;
        }
        try {
          await s.stop({ deadlineMs: opts.deadlineMs, reason: 'stopped with all VMs' });
          stopped.push(s.id);
        } catch (err) {
          s.lifecycle(`stop-all: ${(err as Error).message}`);
        }
      }),
    );
    return { stopped, keptRunning };
  }

  /** For tests and shells: the supervisor of a VM. */
  supervisor(id: string): Supervisor {
    return this.sup(id);
  }
}
