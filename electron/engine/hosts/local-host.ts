// The `local` host: Flotilla's own engine supervising QEMU on this machine. It owns the spec
// store, the port allocator and one Supervisor per VM; the engine's router reaches it only
// through the Host interface (host.ts), exactly as it will reach a libvirt host.
import { spawn as nodeSpawn } from 'node:child_process';
import { join } from 'node:path';
import { LOCAL_HOST, type HostInfo, type PortEntry, type Progress, type SshInfo, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmConfig, VmSpec } from '../../../shared/spec';
import { canEdit, isActive } from '../../../shared/state';
import { defaultGuestBoot } from '../default-guest-boot';
import { ENGINE_VERSION, qemuBinary, STOP_DEADLINE_MS } from '../defaults';
import { DisplayProxy } from '../display-proxy';
import { namingFullDisk } from '../disk-full';
import { warnBeforeStart } from '../host-memory';
import { qemuImgConvert, qemuImgCreate } from '../images';
import type { HomeLayout } from '../paths';
import { PortAllocator, probePort } from '../port-allocator';
import { OVMF_VARS_FILE, VM_DISK_FILE, type DefaultGuestBoot } from '../qemu-args';
import { ensureRootDisk, sshInfoFor } from '../builtin-vm';
import { ensureOvmfVars } from '../firmware-vars';
import type { BackoffOptions } from '../restart-backoff';
import { StatsSampler } from '../stats';
import { Supervisor, type SpawnFn } from '../supervisor';
import { checkNewVm } from '../vm-checks';
import { VmStore } from '../vm-store';
import { assertNoLinkedClones } from '../lifecycle/clone';
import type { OpsContext } from '../lifecycle/ops-context';
import { TempJournal } from '../lifecycle/temp-journal';
import { ImportJobs } from '../lifecycle/import-jobs';
import { resolveShareDir } from '../lifecycle/shares';
import { brokenVmHandle, localVmHandle } from './local-vm-handle';
import { brokenInfo, killBrokenQemu, liveQemuOf, watchPidExit } from './broken-vm';
import { rebuildForwards } from './rebuild-forwards';
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

/** What a local VM can do. */
const LOCAL_CAPS = capsOf(['lifecycle', 'pause', 'edit', 'forwards', 'console', 'exec', 'files', 'stats', 'logs', 'clone', 'export', 'disks', 'media', 'snapshots', 'shares']);

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
  private readonly imports = new ImportJobs();
  /** broken VMs (unreadable vm.json) and the pid of a QEMU one left running */
  private readonly brokenPids = new Map<string, { pid: number | null; since: string; unwatch?: () => void }>();
  private closed = false;
  private readonly journal: TempJournal;
  /** what export/import/clone/disks (lifecycle/) use of this host */
  private readonly ops: OpsContext;

  constructor(private readonly opts: LocalHostOptions) {
    this.store = new VmStore(opts.layout);
    this.allocator = new PortAllocator({ file: opts.layout.portsFile, ...(opts.portRange ? { range: opts.portRange } : {}) });
    this.display = new DisplayProxy((id) => this.sups.get(id)?.vncSocket() ?? null, opts.now);
    this.journal = new TempJournal(opts.layout.tempJournalDir);
    this.ops = {
      layout: opts.layout,
      store: this.store,
      journal: this.journal,
      engineVersion: ENGINE_VERSION,
      // every long job is cancellable (vm.cancelJob), and its progress says so for the UI's Cancel
      runJob: (id, kind, fn) =>
        this.supervisor(id).job({ kind, async: true, cancellable: true }, (signal, progress) => fn(signal, (p) => progress(p && { ...p, cancellable: true }))),
      requireStopped: (id, doing) => {
        const sup = this.supervisor(id);
        if (!canEdit(sup)) throw new FlotillaError('INVALID_STATE', `stop ${sup.spec.name} before ${doing} (it is ${sup.state})`);
      },
      progress: (id, progress) => this.emit('vm.progress', { host: this.id, id, progress }),
      state: (id) => this.supervisor(id).state,
      qmp: (id, command, args, o) => this.supervisor(id).requireQmp().execute(command, args, o),
      changed: (id) => this.vmChanged(id),
      info: (id) => this.get(id),
      agentExec: async (id, command) => (await this.supervisor(id).agentClient(5000)).exec(command, { timeoutMs: 10_000 }),
      added: async (spec, start) => {
        const sup = this.addSupervisor(spec.id);
        await sup.init();
        this.vmChanged(spec.id);
        if (start) await sup.start();
        return this.get(spec.id);
      },
    };
  }

  info(): HostInfo {
    return { id: this.id, name: 'This computer', kind: this.kind, state: 'connected', reason: null, vmCount: this.sups.size + this.brokenPids.size };
  }

  onChanged(cb: () => void): () => void {
    this.changedCbs.add(cb);
    return () => this.changedCbs.delete(cb);
  }

  private hostChanged(): void {
    for (const cb of [...this.changedCbs]) cb();
  }

  async start(): Promise<void> {
    const table = await this.allocator.load();
    const specs = await this.store.load();
    // partial archives of exports a killed engine left next to their destinations
    await this.journal.sweep();
    const since = new Date(this.opts.now()).toISOString();
    for (const id of this.store.broken.keys()) this.setBrokenPid(id, await liveQemuOf(this.opts.layout, id), since);
    // one VM that cannot be settled must not keep the engine (and every other VM) down
    await Promise.all(
      specs.map((s) => {
        const sup = this.addSupervisor(s.id);
        return rebuildForwards(this.opts.layout, this.allocator, sup, table.problem)
          .then(() => sup.init())
          .catch((err: unknown) => sup.lifecycle(`could not settle this VM at engine start: ${(err as Error).message}`));
      }),
    );
  }

  async close(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (opts.stopVms) await this.stopAll({ deadlineMs: this.opts.stopDeadlineMs ?? STOP_DEADLINE_MS, includeKeepRunning: true });
    this.closed = true;
    for (const b of this.brokenPids.values()) b.unwatch?.();
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
        launchGuard: (vmId) => assertNoLinkedClones(this.store, vmId, 'start'),
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
    if (this.brokenPids.has(id) && !this.closed) {
      this.emit('vm.changed', this.brokenVm(id));
      return;
    }
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
    return [...[...this.sups.values()].map((s) => this.toInfo(s)), ...[...this.brokenPids.keys()].map((id) => this.brokenVm(id))];
  }

  get(id: string): VmInfo {
    if (this.brokenPids.has(id)) return this.brokenVm(id);
    return this.toInfo(this.supervisor(id));
  }

  find(nameOrId: string): VmInfo | undefined {
    const byId = this.sups.get(nameOrId);
    if (byId) return this.toInfo(byId);
    const spec = this.store.findByName(nameOrId);
    if (spec) return this.get(spec.id);
    const broken = [...this.store.broken.values()].find((b) => b.id === nameOrId || b.name === nameOrId);
    return broken && this.brokenPids.has(broken.id) ? this.brokenVm(broken.id) : undefined;
  }

  private brokenVm(id: string): VmInfo {
    const b = this.store.broken.get(id);
    const live = this.brokenPids.get(id);
    if (!b || !live) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return brokenInfo(b, live.pid, this.allocator.entries(id), live.since);
  }

  /** The user repaired a broken vm.json: read it again and supervise the VM (adopting a QEMU it left running). */
  private async repair(id: string): Promise<Supervisor> {
    const spec = await this.store.retryBroken(id);
    if (!spec) {
      this.vmChanged(id);
      throw new FlotillaError('INVALID_STATE', this.brokenVm(id).reason, { broken: true });
    }
    this.dropBroken(id);
    const sup = this.addSupervisor(id);
    await sup.init();
    this.vmChanged(id);
    return sup;
  }

  /** Record a broken VM's QEMU (or none), watching it so that its own exit shows as stopped. */
  private setBrokenPid(id: string, pid: number | null, since: string): void {
    this.brokenPids.get(id)?.unwatch?.();
    const entry: { pid: number | null; since: string; unwatch?: () => void } = { pid, since };
    if (pid !== null) {
      entry.unwatch = watchPidExit(pid, () => {
        if (this.brokenPids.get(id) !== entry) return;
        this.setBrokenPid(id, null, new Date(this.opts.now()).toISOString());
        this.vmChanged(id);
      });
    }
    this.brokenPids.set(id, entry);
  }

  private dropBroken(id: string): void {
    this.brokenPids.get(id)?.unwatch?.();
    this.brokenPids.delete(id);
  }

  private brokenHandle(id: string): VmHandle {
    return brokenVmHandle({
      info: () => this.brokenVm(id),
      repair: () => this.repair(id),
      forceStop: async () => {
        await killBrokenQemu(this.opts.layout, id);
        if (this.brokenPids.has(id)) this.setBrokenPid(id, null, new Date(this.opts.now()).toISOString());
        this.vmChanged(id);
      },
    });
  }

  ports(id?: string): PortEntry[] {
    if (id !== undefined) this.supervisor(id);
    return this.allocator.entries(id);
  }

  vm(id: string): VmHandle {
    if (this.brokenPids.has(id)) return this.brokenHandle(id);
    return localVmHandle(this.supervisor(id), {
      id,
      ops: this.ops,
      display: this.display,
      sampler: this.sampler,
      updateSpec: (patch) => this.store.update(id, patch),
      setShares: (vmId, shares) => this.store.setShares(vmId, shares),
      startWarnings: () => this.startWarnings(id),
      changed: () => this.vmChanged(id),
    });
  }

  // ------------------------------------------------------------------ create / delete

  /** Check every user path first, then make the VM's own files; a failure leaves nothing behind. */
  async create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo & { warnings?: string[] }> {
    const src = config.source;
    // each shared folder resolved once, here: the stored path is the directory itself, not a symlink to it
    if (config.shares) config = { ...config, shares: await Promise.all(config.shares.map(async (s, i) => ({ ...s, hostPath: await resolveShareDir(s.hostPath, `config.shares.${i}.hostPath`) }))) };
    await checkNewVm(config, {
      heldBy: (proto, hostPort) => {
        const owner = this.allocator.entries().find((e) => e.hostPort === hostPort && e.proto === proto);
        return owner ? (this.sups.get(owner.vmId)?.spec.name ?? owner.vmId) : null;
      },
      probe: (proto, hostPort) => this.checkPort(proto, hostPort),
    });
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
        if (config.firmware === 'uefi') await namingFullDisk(join(dir, OVMF_VARS_FILE), () => ensureOvmfVars(dir));
        s.disks.push(...disks);
        progress(null);
      },
    });
    const sup = this.addSupervisor(spec.id);
    await sup.init();
    this.vmChanged(spec.id);
    if (!opts.start) return this.get(spec.id);
    const warnings = await this.startWarnings(spec.id);
    await sup.start();
    return { ...this.get(spec.id), warnings };
  }

  /**
   * Memory warnings for starting VM `id` next to the VMs running now (shown, never refused). The
   * running set is taken before the first await, so a caller can start the VM right after
   * calling this without waiting, and the start keeps its place in the VM's queue.
   */
  private async startWarnings(id: string): Promise<string[]> {
    const sup = this.supervisor(id);
    if (isActive(sup)) return []; // start refuses it with its own message
    const running = [...this.sups.values()].filter((s) => s.id !== id && isActive(s) && s.pid !== null);
    try {
      return await warnBeforeStart(
        { name: sup.spec.name, memoryMiB: sup.spec.memoryMiB },
        running.map((s) => ({ name: s.spec.name, memoryMiB: s.spec.memoryMiB, pid: s.pid! })),
      );
    } catch {
      return []; // no /proc/meminfo: nothing to weigh against
    }
  }

  /** A new VM from an export archive (lifecycle/transfer.ts verifies it before anything appears). */
  importVm(path: string, opts: { name?: string; start: boolean }): Promise<VmInfo> {
    return this.imports.run(this.ops, path, opts);
  }

  cancelImport(id: string): boolean {
    return this.imports.cancel(id);
  }

  async delete(id: string): Promise<void> {
    if (this.brokenPids.has(id)) return this.deleteBroken(id);
    const sup = this.supervisor(id);
    await sup.delete(async () => {
      assertNoLinkedClones(this.store, id, 'delete');
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

  private async deleteBroken(id: string): Promise<void> {
    const pid = await liveQemuOf(this.opts.layout, id);
    if (pid !== null) throw new FlotillaError('INVALID_STATE', `its QEMU (pid ${pid}) is still running: force-stop it before deleting it`, { broken: true });
    await this.store.delete(id);
    await this.allocator.forget(id);
    this.dropBroken(id);
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
      const name = this.sups.get(owner.vmId)?.spec.name ?? this.store.broken.get(owner.vmId)?.name ?? owner.vmId;
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
