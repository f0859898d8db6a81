// The `local` host: Flotilla's own engine supervising QEMU on this machine. It owns the spec
// store, the port allocator and one Supervisor per VM; the engine's router reaches it only
// through the Host interface (host.ts), exactly as it will reach a libvirt host. Beside it:
//   broken-vm.ts      VMs whose vm.json cannot be read      new-vm-files.ts  a new VM's disk and firmware
//   local-vm-info.ts  a VM's VmInfo                         local-vm-handle.ts a VM's VmHandle
//   local-host-options.ts  its options, and each Supervisor's deps made from them
import { LOCAL_HOST, type HostInfo, type ImportResult, type PortEntry, type SshInfo, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { VmConfig, VmSpec } from '../../../shared/spec';
import { canEdit, isActive } from '../../../shared/state';
import { ENGINE_VERSION, STOP_DEADLINE_MS } from '../defaults';
import { DisplayProxy } from '../display-proxy';
import { runningImageProcs, waitForLeftoverImageJobs } from '../leftover-image-jobs';
import { warnBeforeStart } from '../host-memory';
import { PortAllocator, probePort } from '../port-allocator';
import { autostartOnce } from '../autostart';
import { sshInfoFor } from '../builtin-vm';
import { readOwnKey } from '../own-ssh-key';
import { StatsSampler } from '../stats';
import { Supervisor } from '../supervisor';
import { checkNewVm } from '../vm-checks';
import { VmStore } from '../vm-store';
import { assertNoLinkedClones } from '../lifecycle/clone';
import type { OpsContext } from '../lifecycle/ops-context';
import { TempJournal } from '../lifecycle/temp-journal';
import { ImportJobs } from '../lifecycle/import-jobs';
import { importVm } from '../lifecycle/transfer';
import { resolveShareDir } from '../lifecycle/shares';
import { brokenVmHandle, localVmHandle } from './local-vm-handle';
import { BrokenVms } from './broken-vm';
import { supervisorDeps, type LocalHostOptions } from './local-host-options';
import { makeNewVmFiles } from './new-vm-files';
import { localVmInfo } from './local-vm-info';
import { finishLiveForwards, type LiveForwardDeps } from '../lifecycle/live-forwards';
import { rebuildForwards } from './rebuild-forwards';
import { type Host, type HostListener, type StopAllResult, type VmHandle } from './host';

export type { LocalHostOptions };

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
  private readonly broken: BrokenVms;
  private closed = false;
  private readonly journal: TempJournal;
  /** what export/import/clone/disks (lifecycle/) use of this host */
  private readonly ops: OpsContext;

  constructor(private readonly opts: LocalHostOptions) {
    this.store = new VmStore(opts.layout);
    this.allocator = new PortAllocator({ file: opts.layout.portsFile, ...(opts.portRange ? { range: opts.portRange } : {}) });
    this.display = new DisplayProxy((id) => this.sups.get(id)?.vncSocket() ?? null, opts.now);
    this.journal = new TempJournal(opts.layout.tempJournalDir);
    this.broken = new BrokenVms({
      layout: opts.layout,
      specs: () => this.store.broken,
      ports: (id) => this.allocator.entries(id),
      now: opts.now,
      changed: (id) => this.vmChanged(id),
    });
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
      syncClock: (id) => this.supervisor(id).setGuestClock(5000),
      agentReset: (id) => this.supervisor(id).agentWatch.reset(),
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
    return { id: this.id, name: 'This computer', kind: this.kind, state: 'connected', reason: null, vmCount: this.sups.size + this.broken.size };
  }

  onChanged(cb: () => void): () => void {
    this.changedCbs.add(cb);
    return () => this.changedCbs.delete(cb);
  }

  private hostChanged(): void {
    for (const cb of [...this.changedCbs]) cb();
  }

  async start(): Promise<void> {
    // qemu-img runs a killed engine left working on disks (none is this engine's yet)
    const imageProcs = runningImageProcs();
    const table = await this.allocator.load();
    const specs = await this.store.load();
    const leftovers = await imageProcs;
    // partial archives of exports a killed engine left next to their destinations
    await this.journal.sweep();
    await this.broken.load(new Date(this.opts.now()).toISOString());
    // one VM that cannot be settled must not keep the engine (and every other VM) down
    await Promise.all(
      specs.map((s) => {
        const sup = this.addSupervisor(s.id);
        return rebuildForwards(this.opts.layout, this.allocator, sup, table.problem)
          .then(() => {
            // then a forward change a killed engine left half done (live-forwards.ts)
            const settled = sup.init().then(() => {
              if (sup.state === 'running' || sup.state === 'paused') return sup.job({ kind: 'update' }, () => finishLiveForwards(this.liveForwards(sup.id), sup.spec.forwards));
            });
            // queued right behind init, so no start or job of this VM can come before it
            waitForLeftoverImageJobs(sup, this.opts.layout.vmDir(sup.id), leftovers);
            return settled;
          })
          .catch((err: unknown) => sup.lifecycle(`could not settle this VM at engine start: ${(err as Error).message}`));
      }),
    );
    const auto = await autostartOnce(
      this.opts.layout.home,
      () =>
        [...this.sups.values()]
          .filter((sup) => this.store.has(sup.id))
          .map((sup) => ({
            name: sup.spec.name,
            due: sup.spec.autostart && !isActive(sup),
            start: (reason) => sup.start({ reason }),
            log: (text) => sup.lifecycle(text),
          })),
      this.opts.bootIdPath,
    );
    if (auto.failed.length) process.emitWarning(`flotilla: autostart: ${auto.failed.map((f) => `${f.name}: ${f.message}`).join('; ')}`);
  }

  async close(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    if (opts.stopVms) await this.stopAll({ deadlineMs: this.opts.stopDeadlineMs ?? STOP_DEADLINE_MS, includeKeepRunning: true });
    this.closed = true;
    this.broken.close();
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
    const sup = new Supervisor(
      id,
      () => this.store.get(id),
      supervisorDeps(this.opts, this.store, this.allocator),
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
    if (this.broken.has(id) && !this.closed) {
      this.emit('vm.changed', this.broken.info(id));
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
    return localVmInfo(sup, this.store.get(sup.id), this.allocator.entries(sup.id));
  }

  /** The supervisor of a VM (tests and the engine's own stop-all). */
  supervisor(id: string): Supervisor {
    const s = this.sups.get(id);
    if (!s) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return s;
  }

  list(): VmInfo[] {
    // a VM whose delete has removed its spec but not yet its supervisor is already gone from the list
    const live = [...this.sups.values()].filter((s) => this.store.has(s.id));
    return [...live.map((s) => this.toInfo(s)), ...this.broken.ids().map((id) => this.broken.info(id))];
  }

  get(id: string): VmInfo {
    if (this.broken.has(id)) return this.broken.info(id);
    return this.toInfo(this.supervisor(id));
  }

  find(nameOrId: string): VmInfo | undefined {
    const byId = this.sups.get(nameOrId);
    if (byId) return this.toInfo(byId);
    const spec = this.store.findByName(nameOrId);
    if (spec) return this.get(spec.id);
    const broken = [...this.store.broken.values()].find((b) => b.id === nameOrId || b.name === nameOrId);
    return broken && this.broken.has(broken.id) ? this.broken.info(broken.id) : undefined;
  }

  /** The user repaired a broken vm.json: read it again and supervise the VM (adopting a QEMU it left running). */
  private async repair(id: string): Promise<Supervisor> {
    const spec = await this.store.retryBroken(id);
    if (!spec) {
      this.vmChanged(id);
      throw new FlotillaError('INVALID_STATE', this.broken.info(id).reason, { broken: true });
    }
    this.broken.drop(id);
    const sup = this.addSupervisor(id);
    await sup.init();
    this.vmChanged(id);
    return sup;
  }

  private brokenHandle(id: string): VmHandle {
    return brokenVmHandle({
      info: () => this.broken.info(id),
      repair: () => this.repair(id),
      forceStop: () => this.broken.forceStop(id),
    });
  }

  /** The port table and QEMU's monitor, for a running VM's forwards (lifecycle/live-forwards.ts). */
  private liveForwards(id: string): LiveForwardDeps {
    const hmp = (commandLine: string) => this.ops.qmp<string>(id, 'human-monitor-command', { 'command-line': commandLine });
    return { vmId: id, ports: this.allocator, hmp, log: (text) => this.supervisor(id).lifecycle(text) };
  }

  ports(id?: string): PortEntry[] {
    if (id !== undefined) this.supervisor(id);
    return this.allocator.entries(id);
  }

  vm(id: string): VmHandle {
    if (this.broken.has(id)) return this.brokenHandle(id);
    return localVmHandle(this.supervisor(id), {
      id,
      ops: this.ops,
      display: this.display,
      sampler: this.sampler,
      updateSpec: (patch) => this.store.update(id, patch),
      setShares: (vmId, shares) => this.store.setShares(vmId, shares),
      liveForwards: this.liveForwards(id),
      startWarnings: () => warnBeforeStart(this.supervisor(id), this.sups.values()),
      changed: () => this.vmChanged(id),
    });
  }

  // ------------------------------------------------------------------ create / delete

  /** Check every user path first, then make the VM's own files; a failure leaves nothing behind. */
  async create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo & { warnings?: string[] }> {
    // each shared folder resolved once, here: the stored path is the directory itself, not a symlink to it
    if (config.shares) config = { ...config, shares: await Promise.all(config.shares.map(async (s, i) => ({ ...s, hostPath: await resolveShareDir(s.hostPath, `config.shares.${i}.hostPath`) }))) };
    await checkNewVm(config, {
      heldBy: (proto, hostPort) => {
        const owner = this.allocator.entries().find((e) => e.hostPort === hostPort && e.proto === proto);
        return owner ? (this.sups.get(owner.vmId)?.spec.name ?? owner.vmId) : null;
      },
      probe: (proto, hostPort) => this.checkPort(proto, hostPort),
    });
    const spec = await this.store.create(config, {
      beforeCommit: (s: VmSpec, dir: string) => makeNewVmFiles(config, s, dir, (p) => this.emit('vm.progress', { host: this.id, id: s.id, progress: p && { ...p, newVm: s.name } })),
    });
    const sup = this.addSupervisor(spec.id);
    await sup.init();
    this.vmChanged(spec.id);
    if (!opts.start) return this.get(spec.id);
    const warnings = await warnBeforeStart(sup, this.sups.values());
    await sup.start();
    return { ...this.get(spec.id), warnings };
  }

  /** A new VM from an export archive (lifecycle/transfer.ts verifies it before anything appears). */
  importVm(path: string, opts: { name?: string; start: boolean }): Promise<ImportResult> {
    return this.imports.run(this.ops.progress, (progress, signal) => importVm({ ...this.ops, progress }, path, opts.name, opts.start, signal));
  }

  cancelImport(id: string): boolean {
    return this.imports.cancel(id);
  }

  async delete(id: string): Promise<void> {
    if (this.broken.has(id)) return this.deleteBroken(id);
    const sup = this.supervisor(id);
    await sup.delete(async () => {
      assertNoLinkedClones(this.store, id, 'delete');
      await sup.detach();
      await this.store.delete(id).catch(async (err: unknown) => {
        // the VM is still there (its directory could not be moved aside): a fresh supervisor takes
        // it back, or it would stay listed with a detached one, deaf to its QEMU and its logs closed
        if (this.store.has(id)) await this.addSupervisor(id).init();
        throw err;
      });
      await this.allocator.forget(id);
      await sup.removeRunDir();
      this.sups.delete(id);
      this.lastAgent.delete(id);
    });
    this.emit('vm.removed', { host: this.id, id });
    this.hostChanged();
  }

  private async deleteBroken(id: string): Promise<void> {
    await this.broken.assertDeletable(id);
    await this.store.delete(id);
    await this.allocator.forget(id);
    this.broken.drop(id);
    this.emit('vm.removed', { host: this.id, id });
    this.hostChanged();
  }

  /** How to ssh into a built-in VM, its host key read through the agent into its own known_hosts. */
  async sshInfo(id: string): Promise<SshInfo> {
    const vm = this.vm(id);
    const identityFile = (await readOwnKey(this.opts.layout.home))?.file ?? null;
    return sshInfoFor({ id, name: this.get(id).name, vmDir: this.opts.layout.vmDir(id), ports: this.ports(id), readGuestFile: (path) => vm.readFile(path), identityFile });
  }

  /** Free on 127.0.0.1 and not handed to any VM? Probed by binding (the allocator's own probe), then released at once. */
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
