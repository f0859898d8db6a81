// The `local` host: Flotilla's own engine supervising QEMU on this machine. It owns the spec
// store, the port allocator and one Supervisor per VM; the engine's router reaches it only
// through the Host interface (host.ts), exactly as it will reach a libvirt host.
import { spawn as nodeSpawn } from 'node:child_process';
import { join } from 'node:path';
import { LOCAL_HOST, type HostInfo, type PortEntry, type Progress, type SshInfo, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmConfig, VmPatch, VmSpec } from '../../../shared/spec';
import { isActive } from '../../../shared/state';
import { defaultGuestBoot } from '../default-guest-boot';
import { qemuBinary, STOP_DEADLINE_MS } from '../defaults';
import { DisplayProxy } from '../display-proxy';
import { assertReadableFile, qemuImgConvert, qemuImgCreate } from '../images';
import type { HomeLayout } from '../paths';
import { PortAllocator, probePort } from '../port-allocator';
import { VM_DISK_FILE, type DefaultGuestBoot } from '../qemu-args';
import { ensureRootDisk, sshInfoFor } from '../builtin-vm';
import { ensureOvmfVars } from '../firmware-vars';
import type { BackoffOptions } from '../restart-backoff';
import { StatsSampler } from '../stats';
import { Supervisor, type SpawnFn } from '../supervisor';
import { VmStore } from '../vm-store';
import { capsOf, type Host, type HostListener, type StopAllResult, type VmHandle } from './host';

export interface LocalHostOptions {
  layout: HomeLayout;
  accel: () => 'kvm' | 'tcg' | 'kvm:tcg';
  qemuBinary?: string;
  spawn?: SpawnFn;
  now: () => number;
  stopDeadlineMs?: number;
  agentGraceMs?: number;
  backoff?: BackoffOptions;
  portRange?: [number, number];
  defaultGuest?: (vmName: string) => Promise<DefaultGuestBoot>;
}

/** What a local VM can do today (snapshots, shares, clone and export come with issue 12). */
const LOCAL_CAPS = capsOf(['lifecycle', 'pause', 'edit', 'forwards', 'console', 'exec', 'files', 'stats', 'logs']);

export class LocalHost implements Host {
  readonly id = LOCAL_HOST;
  readonly kind = 'local';
  readonly store: VmStore;
  readonly allocator: PortAllocator;
  private readonly sups = new Map<string, Supervisor>();
  private readonly listeners = new Set<HostListener>();
  private readonly changedCbs = new Set<() => void>();
  private readonly sampler = new StatsSampler();
  private readonly display: DisplayProxy;
  private readonly lastAgent = new Map<string, string>();
  private closed = false;

  constructor(private readonly opts: LocalHostOptions) {
    this.store = new VmStore(opts.layout);
    this.allocator = new PortAllocator({ file: opts.layout.portsFile, ...(opts.portRange ? { range: opts.portRange } : {}) });
    this.display = new DisplayProxy((id) => this.sups.get(id)?.vncSocket() ?? null, opts.now);
  }

  info(): HostInfo {
    return { id: this.id, name: 'This computer', kind: this.kind, state: 'connected', reason: null, vmCount: this.sups.size };
  }

  onChanged(cb: () => void): () => void {
    this.changedCbs.add(cb);
    return () => this.changedCbs.delete(cb);
  }

  private hostChanged(): void {
    for (const cb of [...this.changedCbs]) cb();
  }

  async start(): Promise<void> {
    await this.allocator.load();
    const specs = await this.store.load();
    // one VM that cannot be settled must not keep the engine (and every other VM) down
    await Promise.all(
      specs.map((s) => {
        const sup = this.addSupervisor(s.id);
        return sup.init().catch((err: unknown) => sup.lifecycle(`could not settle this VM at engine start: ${(err as Error).message}`));
      }),
    );
  }

  async close(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (opts.stopVms) await this.stopAll({ deadlineMs: this.opts.stopDeadlineMs ?? STOP_DEADLINE_MS, includeKeepRunning: true });
    this.closed = true;
    await this.display.close();
    await Promise.all([...this.sups.values()].map((s) => s.detach()));
    this.listeners.clear();
  }

  onEvent(listener: HostListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit: HostListener = (event, payload) => {
    for (const l of [...this.listeners]) {
      try {
        l(event, payload);
      } catch {
        /* a failing transport must not break the engine */
      }
    }
  };

  private addSupervisor(id: string): Supervisor {
    const o = this.opts;
    const sup = new Supervisor(
      id,
      () => this.store.get(id),
      {
        layout: o.layout,
        ports: this.allocator,
        spawn: o.spawn ?? ((cmd, args, so) => nodeSpawn(cmd, args, so)),
        qemuBinary: qemuBinary(o.qemuBinary),
        accel: o.accel(),
        defaultGuest: o.defaultGuest ?? ((name) => defaultGuestBoot(o.layout.home, name)),
        stopDeadlineMs: o.stopDeadlineMs ?? STOP_DEADLINE_MS,
        setDisks: (vmId, disks) => this.store.setDisks(vmId, disks),
        agentGraceMs: o.agentGraceMs ?? 60_000,
        ...(o.backoff ? { backoff: o.backoff } : {}),
        now: o.now,
      },
      {
        changed: () => this.vmChanged(id),
        log: (entry) => this.emit('vm.log', { host: this.id, id, entry }),
        progress: (progress) => this.emit('vm.progress', { host: this.id, id, progress }),
      },
    );
    this.sups.set(id, sup);
    this.hostChanged();
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
      this.emit('vm.agent', { host: this.id, id, agent: info.agent, ips: info.ips });
    }
  }

  /** Plain data for one VM: what crosses every transport. */
  toInfo(sup: Supervisor): VmInfo {
    const spec = this.store.get(sup.id);
    return structuredClone({
      id: spec.id,
      host: this.id,
      caps: { ...LOCAL_CAPS, display: spec.display === 'vnc' },
      broken: null,
      name: spec.name,
      spec,
      state: sup.state,
      reason: sup.reason,
      stateSince: sup.stateSince,
      pid: sup.pid,
      agent: sup.agentState,
      ips: sup.ips,
      ports: this.allocator.entries(sup.id),
      hasDisplay: spec.display === 'vnc',
      progress: sup.progress,
      lastExit: sup.lastExit,
      lastDiskCheck: sup.lastDiskCheck,
      adopted: sup.adopted,
      qmpHealthy: sup.qmpHealthy,
      stopDeadline: sup.stopDeadline,
      agentLastSeen: sup.agentLastSeen,
    });
  }

  /** The supervisor of a VM (tests and the engine's own stop-all). */
  supervisor(id: string): Supervisor {
    const s = this.sups.get(id);
    if (!s) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return s;
  }

  list(): VmInfo[] {
    return [...this.sups.values()].map((s) => this.toInfo(s));
  }

  get(id: string): VmInfo {
    return this.toInfo(this.supervisor(id));
  }

  find(nameOrId: string): VmInfo | undefined {
    const byId = this.sups.get(nameOrId);
    if (byId) return this.toInfo(byId);
    const spec = this.store.findByName(nameOrId);
    return spec ? this.get(spec.id) : undefined;
  }

  ports(id?: string): PortEntry[] {
    if (id !== undefined) this.supervisor(id);
    return this.allocator.entries(id);
  }

  vm(id: string): VmHandle {
    const sup = this.supervisor(id);
    const name = (): string => sup.spec.name;
    return {
      start: (o) => sup.start(o),
      stop: (o) => sup.stop(o),
      restart: () => sup.restart(),
      pause: () => sup.pause(),
      resume: () => sup.resume(),
      update: async (patch: VmPatch) => {
        await sup.update(() => this.store.update(id, patch));
        this.vmChanged(id);
      },
      exec: async (command, o) => (await sup.agentClient()).exec(command, o),
      readFile: async (path) => (await sup.agentClient()).readFile(path),
      writeFile: async (path, data) => (await sup.agentClient()).writeFile(path, data),
      logs: (tail) => sup.logs(tail),
      consoleSubscribe: (key, cb) => sup.console.subscribe(key, cb),
      consoleUnsubscribe: (key) => sup.console.unsubscribe(key),
      consoleInput: (data) => sup.console.write(data),
      thumbnailSubscribe: (key, cb) => {
        if (sup.spec.display !== 'vnc') throw new FlotillaError('INVALID_STATE', `${name()} has no display`);
        return sup.thumbnails.subscribe(key, cb);
      },
      thumbnailUnsubscribe: (key) => sup.thumbnails.unsubscribe(key),
      displayUrl: () => this.display.open(id),
      stats: async () => (sup.pid !== null && isActive(sup) ? this.sampler.sample(sup.pid) : null),
    };
  }

  // ------------------------------------------------------------------ create / delete

  /** Check every user path first, then make the VM's own files; a failure leaves nothing behind. */
  async create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo> {
    const src = config.source;
    if (src.kind === 'iso') await assertReadableFile(src.path, 'iso');
    if (src.kind === 'disk') await assertReadableFile(src.path, 'disk');
    if (src.kind === 'kernel') {
      await assertReadableFile(src.kernel, 'kernel');
      if (src.initrd) await assertReadableFile(src.initrd, 'initrd');
      if (src.disk) await assertReadableFile(src.disk, 'disk');
    }
    for (const f of config.forwards) {
      if (f.hostPort === undefined) continue;
      const taken = this.allocator.entries().find((e) => e.hostPort === f.hostPort && e.proto === f.proto);
      if (taken) throw new FlotillaError('PORT_TAKEN', `host port ${f.hostPort}/${f.proto} is already used by another VM; choose another`, { hostPort: f.hostPort });
      const probe = await this.checkPort(f.proto, f.hostPort);
      if (!probe.free) throw new FlotillaError('PORT_TAKEN', `host port ${f.hostPort}/${f.proto} is in use on 127.0.0.1; choose another`, { hostPort: f.hostPort });
    }
    let disks: string[] = [];
    const spec = await this.store.create(config, {
      beforeCommit: async (s: VmSpec, dir: string) => {
        const progress = (p: Progress | null): void => this.emit('vm.progress', { host: this.id, id: s.id, progress: p });
        if (src.kind === 'default') {
          progress({ op: 'disk-create', percent: null, message: `creating a ${src.diskSizeGiB} GiB disk` });
          await ensureRootDisk(dir, s);
          disks = [VM_DISK_FILE];
        } else if (src.kind === 'iso') {
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
        if (config.firmware === 'uefi') await ensureOvmfVars(dir);
        s.disks.push(...disks);
        progress(null);
      },
    });
    const sup = this.addSupervisor(spec.id);
    await sup.init();
    this.vmChanged(spec.id);
    if (opts.start) await sup.start();
    return this.get(spec.id);
  }

  async delete(id: string): Promise<void> {
    const sup = this.supervisor(id);
    await sup.delete(async () => {
      await sup.detach();
      await this.store.delete(id);
      await this.allocator.forget(id);
      await sup.removeRunDir();
      this.sups.delete(id);
      this.lastAgent.delete(id);
    });
    this.emit('vm.removed', { host: this.id, id });
    this.hostChanged();
  }

  /** Free on 127.0.0.1 and not handed to any VM? Probed by binding (the allocator's own probe), then released at once. */
  /** How to ssh into a built-in VM, its host key read through the agent into its own known_hosts. */
  sshInfo(id: string): Promise<SshInfo> {
    const vm = this.vm(id);
    return sshInfoFor({ id, name: this.get(id).name, vmDir: this.opts.layout.vmDir(id), ports: this.ports(id), readGuestFile: (path) => vm.readFile(path) });
  }

  async checkPort(proto: 'tcp' | 'udp', hostPort: number): Promise<{ free: boolean; reason?: string }> {
    const owner = this.allocator.entries().find((e) => e.hostPort === hostPort && e.proto === proto);
    if (owner) {
      const name = this.sups.get(owner.vmId)?.spec.name ?? owner.vmId;
      return { free: false, reason: `used by VM ${name}` };
    }
    return (await probePort(hostPort, proto)) ? { free: true } : { free: false, reason: 'in use by another program' };
  }

  /** Stop VMs in parallel, gracefully with a deadline each. */
  async stopAll(opts: { deadlineMs: number; includeKeepRunning: boolean }): Promise<StopAllResult> {
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
}
