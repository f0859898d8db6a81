// A libvirt host: every domain on one libvirt connection as Flotilla VMs, also those defined
// outside Flotilla. State comes from the connection's one event stream; the domain list is loaded
// once per (re)connect. While the host is unreachable its VMs keep their last known state and say
// "host unreachable" (HostInfo.state = failed), never "stopped". Domains are addressed by UUID
// only (VM ids are UUIDs without dashes): a name a remote host sends is only ever shown as text.
import { randomUUID } from 'node:crypto';
import type { HostInfo, HostVolume, ImportResult, Progress, VmInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import type { VmConfig } from '../../../../shared/spec';
import { DisplayProxy } from '../../display-proxy';
import type { Host, HostListener, StopAllResult } from '../host';
import { KeyedMutex } from '../../mutex';
import { LibvirtConnection, type ConnectionOptions, type ConnectionState } from './connection';
import { probeAgent, readDomain, runningDomainStats, undefineDomain } from './domain-ops';
import type { HostEntry } from './host-store';
import type { BootContext, BootFiles } from './boot-update';
import { createDomain } from './create-domain';
import { HostTransfers } from './transfers';
import { forgetLibvirtState } from './state-dir';
import { domainFromRead, domainInfo, specName, type LibvirtDomain } from './domain-info';
import { DomainTable } from './domain-table';
import { HostLog } from './host-log';
import { listPoolVolumes } from './storage';
import { LibvirtVm } from './libvirt-vm';
import { VolumeJournal } from './volume-journal';
import { idToUuid, parseUuidList, safeText, stateAfterEvent, uuidToId, type DomainEvent } from './virsh-parse';

export interface LibvirtHostOptions extends ConnectionOptions {
  /** the data directory's home (the built-in guest lives in images/default) */
  home: string;
  stopDeadlineMs?: number;
  agentWaitMs?: number;
  /** how long start() waits for the first connection to load the domains or fail */
  settleMs?: number;
}

const now = () => new Date().toISOString();
/** the second full read after a connect (see onConnState) */
const RELOAD_AFTER_CONNECT_MS = 3000;
/** how often a running guest with an agent but no address yet is asked again (see refreshAgent) */
const IP_RETRIES = 40;
/** how long the first load waits for the running domains' agents to answer once (see onConnState) */
const FIRST_AGENT_PASS_MS = 4000;

export class LibvirtHost implements Host {
  readonly kind = 'libvirt';
  readonly conn: LibvirtConnection;
  private readonly domains = new DomainTable();
  /** connections so far (a reload scheduled for an earlier one does not run) */
  private connects = 0;
  private readonly vms = new Map<string, LibvirtVm>();
  private readonly log = new HostLog();
  private readonly eventListeners = new Set<HostListener>();
  private started = false;
  private startWait: Promise<void> | null = null;
  private settle!: () => void;
  /** the first connection attempt loaded the domains, or failed */
  private readonly settled = new Promise<void>((r) => (this.settle = r));
  private readonly hostListeners = new Set<() => void>();
  /** the built-in guest builds whose boot files this connection's pool has (boot-update.ts) */
  private readonly uploaded = new Map<string, BootFiles>();
  /** exports and imports under way (transfers.ts) */
  readonly transfers = new HostTransfers(this);
  /** the running domains' first agent probes of the current load (see onConnState) */
  private readonly agentProbes = new Set<Promise<void>>();
  /** one job at a time per domain (key: uuid), plus 'storage' for pool set-up and uploads */
  readonly ops = new KeyedMutex();
  /** the volumes jobs make before a definition names them (volume-journal.ts) */
  readonly volumeJournal: VolumeJournal;
  /** noVNC bridge for this host's domains (VNC on the host's loopback, forwarded over ssh when remote) */
  readonly display = new DisplayProxy((id) => {
    const uuid = idToUuid(id);
    return (uuid && this.vms.get(uuid)?.vncTarget) || null;
  });
  readonly stopDeadlineMs: number;
  readonly agentWaitMs: number;

  constructor(
    readonly entry: HostEntry,
    readonly opts: LibvirtHostOptions,
  ) {
    this.conn = new LibvirtConnection(entry.name, entry.uri, entry.identity, opts);
    this.volumeJournal = VolumeJournal.ofHost(opts.home, entry.name);
    this.stopDeadlineMs = opts.stopDeadlineMs ?? 30_000;
    this.agentWaitMs = opts.agentWaitMs ?? 180_000;
    this.conn.onState(() => this.onConnState(this.conn.state));
    this.conn.onEvent((e) => void this.onDomainEvent(e).catch((err: unknown) => this.note(`event handling failed: ${(err as Error).message}`)));
  }

  get id(): string {
    return this.entry.name;
  }

  info(): HostInfo {
    return { id: this.id, name: this.id, kind: this.kind, uri: this.entry.uri, state: this.conn.state, reason: this.conn.reason, vmCount: this.domains.size, ...(this.conn.failure ? { failure: this.conn.failure } : {}) };
  }

  onChanged(cb: () => void): () => void {
    this.hostListeners.add(cb);
    return () => this.hostListeners.delete(cb);
  }

  /** vm.changed (full info) and vm.removed for this host's VMs. */
  onEvent(listener: HostListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Connects (once: later calls do nothing) and waits, up to `settleMs`, for the first attempt
   * to load the domains or fail: an engine answers its first request (a CLI's `list`, `start
   * --host`) with the host's VMs in place, and a dead host delays it by at most that.
   */
  start(): Promise<void> {
    if (this.startWait) return this.startWait;
    if (!this.started) this.conn.start();
    this.started = true;
    let timer: NodeJS.Timeout | undefined;
    this.startWait = Promise.race([this.settled, new Promise<void>((r) => (timer = setTimeout(r, this.opts.settleMs ?? 15_000)))]).finally(() => clearTimeout(timer));
    return this.startWait;
  }

  /** One connection attempt that throws the classified error (for `host add`); counts as started. */
  async connectNow(): Promise<void> {
    this.started = true;
    await this.conn.connect();
    await this.settled;
  }

  /** Disconnects. The domains are the libvirt host's: they keep running whatever `stopVms` says. */
  async close(): Promise<void> {
    for (const v of this.vms.values()) v.close();
    await this.display.close();
    await this.conn.close();
  }

  note(line: string): void {
    this.log.note(line);
  }

  private emitHost(): void {
    for (const cb of [...this.hostListeners]) cb();
  }

  emitVm(uuid: string): void {
    const d = this.domains.get(uuid);
    for (const l of [...this.eventListeners]) {
      if (d) l('vm.changed', this.toInfo(d));
      else l('vm.removed', { host: this.id, id: uuidToId(uuid) });
    }
  }

  private onConnState(state: ConnectionState): void {
    this.note(`connection ${state}${this.conn.reason ? `: ${this.conn.reason}` : ''}`);
    if (state === 'connected') {
      // settled once the domains are read and their agents asked once (bounded): a one-shot CLI
      // engine answers with what a running engine shows (agent ready, addresses), not "connecting"
      void this.reload()
        .catch((err: unknown) => this.note(`loading the domains failed: ${(err as Error).message}`))
        .then(() => Promise.race([Promise.allSettled([...this.agentProbes]), new Promise((r) => setTimeout(r, FIRST_AGENT_PASS_MS).unref())]))
        .finally(() => this.settle());
      // `virsh event` prints nothing once its callbacks are registered, so a domain defined or
      // changed in that gap (its connect and registration, just after this) would stay unseen
      // until the next reconnect (the libvirt-host itest caught one). One more full read, once
      // the stream has long registered, closes the gap.
      const gen = ++this.connects;
      this.volumeJournal.settleInBackground(this.ops, this.conn.virsh, (l) => this.note(l));
      setTimeout(() => {
        if (gen === this.connects && this.conn.state === 'connected') void this.reload().catch((err: unknown) => this.note(`loading the domains failed: ${(err as Error).message}`));
      }, RELOAD_AFTER_CONNECT_MS).unref();
    } else {
      if (state === 'failed') this.settle();
      for (const v of this.vms.values()) v.closeConsole();
      for (const uuid of this.domains.uuids()) this.emitVm(uuid);
    }
    this.emitHost();
  }

  /** Loads every domain (after each connect): the one full read; events keep it current after. One created while it runs stays. */
  async reload(): Promise<void> {
    const began = this.domains.mark();
    const uuids = parseUuidList((await this.conn.virsh.run(['list', '--all', '--uuid'])).stdout);
    const seen = new Set<string>();
    for (const uuid of uuids) {
      seen.add(uuid);
      await this.loadDomain(uuid).catch(() => undefined); // undefined in between: its event says so
    }
    for (const uuid of this.domains.uuids()) {
      if (!seen.has(uuid) && !this.domains.newerThan(uuid, began)) {
        this.domains.forget(uuid);
        this.emitVm(uuid);
      }
    }
    this.emitHost();
  }

  /** Reads one domain (by UUID, or by the name an event carried, passed as one argv word). */
  async loadDomain(ref: string): Promise<LibvirtDomain> {
    const began = this.domains.mark();
    const read = await readDomain(this.conn.virsh, ref);
    const { info } = read;
    // An event changed this domain while the read was under way (a "Shutdown Finished" event's
    // read, then "Stopped", then a delete): the read's state is stale. Storing it would bring a
    // deleted domain back, or a stopped one back to running; the events' word stands.
    const prev = this.domains.get(info.uuid);
    if (this.domains.changedSince(info.uuid, began)) {
      if (!prev) throw new FlotillaError('NOT_FOUND', `domain ${info.name} was undefined`);
      // the definition's parts (not the run state) are this read's
      const { meta, description, cdrom, disks, shares, uefi } = read;
      Object.assign(prev, { meta: meta ?? prev.meta, description: description ?? prev.description, autostart: info.autostart, cdrom, disks, shares, uefi });
      this.emitVm(info.uuid);
      return prev;
    }
    const d = domainFromRead(read, prev, now());
    this.domains.set(d);
    this.vms.get(info.uuid)?.onState(d.state); // after a reconnect: a watched console attaches again
    if (d.state === 'running' && d.agent !== 'ready') {
      const probe = this.refreshAgent(d.uuid).catch(() => undefined);
      this.agentProbes.add(probe);
      void probe.finally(() => this.agentProbes.delete(probe));
    }
    if (!prev) this.emitHost();
    this.emitVm(info.uuid);
    return d;
  }

  /**
   * Asks the agent whether it answers, then for the guest's addresses. A guest whose agent is up
   * before its network (the built-in guest starts its agent first) is asked again, every second
   * for 20 s and then every 5 s up to about 2 minutes (the agent sends no event when an address
   * appears; a loaded TCG host took longer than 20 s), then left until the next agent event.
   * `agentSeen`: the agent is known to be there (its connect event, or a ping that just answered),
   * so a ping that fails now is a busy guest or a slow virsh, and is asked again on the same
   * schedule. Without it, a failed ping is a guest whose agent has not connected yet, or that has
   * none, and its event will come.
   */
  async refreshAgent(uuid: string, opts: { agentSeen?: boolean } = {}, retries = IP_RETRIES): Promise<void> {
    const probed = await probeAgent(this.conn.virsh, uuid, () => this.domains.get(uuid));
    if (!probed) return;
    const { d, ok } = probed;
    this.emitVm(uuid);
    const seen = opts.agentSeen === true || ok;
    if (d.state === 'running' && retries > 0 && (ok ? d.ips.length === 0 || d.guestOs === undefined : seen)) {
      const delay = IP_RETRIES - retries < 20 ? 1000 : 5000;
      setTimeout(() => void this.refreshAgent(uuid, { agentSeen: seen }, retries - 1).catch(() => undefined), delay).unref();
    }
  }

  private async onDomainEvent(e: DomainEvent): Promise<void> {
    if (e.kind === 'unparsed') return this.reload();
    const known = this.domains.byName(safeText(e.name));
    if (e.kind === 'agent') {
      if (!known) return;
      if (e.connected) return this.refreshAgent(known.uuid, { agentSeen: true });
      this.domains.touch(known.uuid);
      known.agent = known.state === 'running' ? 'connecting' : 'unknown';
      known.ips = [];
      delete known.guestOs;
      return this.emitVm(known.uuid);
    }
    if (e.kind === 'lifecycle') {
      this.note(`domain ${safeText(e.name)}: ${e.event} ${e.detail}`);
      const next = stateAfterEvent(e.event, e.detail);
      if (next === 'removed') {
        if (known) {
          this.domains.forget(known.uuid);
          this.vms.get(known.uuid)?.close();
          this.vms.delete(known.uuid);
          this.emitVm(known.uuid);
          this.emitHost();
        }
        return;
      }
      if (known && next) {
        this.domains.touch(known.uuid);
        if (known.state !== next) known.stateSince = now();
        known.state = next;
        known.reason = `${e.event} ${e.detail}`.trim().toLowerCase();
        if (next !== 'running' && next !== 'paused') {
          known.agent = 'unknown';
          known.ips = [];
          delete known.guestOs;
        }
        this.vms.get(known.uuid)?.onState(next);
        return this.emitVm(known.uuid);
      }
    }
    // a domain we do not know yet (defined elsewhere), or an event that changes its definition
    await this.loadDomain(known?.uuid ?? e.name).catch(() => undefined);
  }

  // ------------------------------------------------------------------ VmInfo (domain-info.ts)

  toInfo(d: LibvirtDomain): VmInfo {
    return domainInfo(d, { host: this.id, reachable: this.conn.state === 'connected', reason: this.conn.reason, stopDeadline: this.vms.get(d.uuid)?.stopDeadline ?? null });
  }

  list(): VmInfo[] {
    return [...this.domains.values()].map((d) => this.toInfo(d));
  }

  dom(id: string): LibvirtDomain {
    const uuid = idToUuid(id);
    const d = uuid ? this.domains.get(uuid) : undefined;
    if (!d) throw new FlotillaError('NOT_FOUND', `no VM ${id} on host ${this.id}`, { host: this.id, id });
    return d;
  }

  get(id: string): VmInfo {
    return this.toInfo(this.dom(id));
  }

  find(nameOrId: string): VmInfo | undefined {
    const d = (idToUuid(nameOrId) && this.domains.get(idToUuid(nameOrId)!)) || this.domains.byName(nameOrId) || [...this.domains.values()].find((x) => specName(x.name) === nameOrId);
    return d ? this.toInfo(d) : undefined;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Waits (on event-driven state, not by asking libvirt) until `pred` holds; false on timeout. */
  async waitFor(uuid: string, pred: (d: LibvirtDomain | undefined) => boolean, ms: number): Promise<boolean> {
    for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) if (pred(this.domains.get(uuid))) return true;
    return pred(this.domains.get(uuid));
  }

  /** The per-VM handle: lifecycle, console, exec, stats, snapshots, display. */
  vm(id: string): LibvirtVm {
    const d = this.dom(id);
    const v = this.vms.get(d.uuid) ?? new LibvirtVm(this, d.uuid, this.opts.virshBinary);
    this.vms.set(d.uuid, v);
    return v;
  }

  /** Quitting Flotilla leaves a libvirt host's domains to that host: none is stopped. */
  async stopAll(): Promise<StopAllResult> {
    return { stopped: [], keptRunning: [...this.domains.values()].filter((d) => d.state === 'running' || d.state === 'paused').map((d) => uuidToId(d.uuid)) };
  }

  /** Undefine, and delete its own disks when asked (undefineDomain: never its CD's image). */
  async delete(id: string, opts: { storage?: boolean } = {}): Promise<void> {
    const d = this.dom(id);
    await this.ops.run(d.uuid, async () => {
      if (d.state !== 'stopped' && d.state !== 'crashed') throw new FlotillaError('INVALID_STATE', `stop ${d.name} before deleting it`);
      await undefineDomain(this.conn.virsh, d.uuid, opts.storage === true);
      await this.waitFor(d.uuid, (x) => !x, 10_000);
      await forgetLibvirtState(this.opts.home, this.id, id);
    });
  }

  async create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo> {
    if (this.domains.byName(config.name)) throw new FlotillaError('NAME_TAKEN', `a domain named ${config.name} exists on host ${this.id}`, { field: 'name' });
    const uuid = randomUUID();
    // its placeholder in every window while the built-in Linux goes up to a host that lacks it
    return this.defined(await createDomain(this.bootContext(), config, uuid, undefined, (p) => this.progress(uuidToId(uuid), p && { ...p, newVm: config.name })), opts.start);
  }

  /** A new domain from an export archive, verified on this computer first (import-domain.ts). */
  importVm = (path: string, opts: { name?: string; start: boolean }): Promise<ImportResult> => this.transfers.importVm(path, opts);
  cancelImport = (id: string): boolean => this.transfers.cancelImport(id);

  /** A VM's progress bar (an import's, an export's), for every client. */
  progress(id: string, progress: Progress | null): void {
    for (const l of [...this.eventListeners]) l('vm.progress', { host: this.id, id, progress });
  }

  /** A domain just defined here (created, cloned or imported): loaded once its event is in, started if asked. */
  async defined(uuid: string, start: boolean): Promise<VmInfo> {
    await this.waitFor(uuid, (x) => !!x, 10_000);
    if (!this.domains.has(uuid)) await this.loadDomain(uuid);
    if (start) await this.vm(uuidToId(uuid)).start({ waitAgent: false });
    return this.get(uuidToId(uuid));
  }

  /** Every running domain's CPU and memory from one `virsh domstats` (the stats sampler's tick), by VM id. */
  async statsAll(): Promise<Map<string, { cpuPercent: number; rssBytes: number }>> {
    // nothing runs (the event stream says): no virsh each second while a window shows the tiles
    if (![...this.domains.values()].some((d) => d.state === 'running' || d.state === 'paused')) return new Map();
    const byName = await runningDomainStats(this.conn.virsh);
    const out = new Map<string, { cpuPercent: number; rssBytes: number }>();
    for (const d of this.domains.values()) {
      const values = byName.get(d.name);
      if (values && (d.state === 'running' || d.state === 'paused')) out.set(uuidToId(d.uuid), this.vm(uuidToId(d.uuid)).statsFromValues(values));
    }
    return out;
  }

  volumes = (kind: 'iso' | 'disk'): Promise<HostVolume[]> => listPoolVolumes(this.conn.virsh, kind);

  /** What creating a built-in domain, or bringing one to the current build, needs. */
  bootContext(): BootContext {
    return { virsh: this.conn.virsh, home: this.opts.home, lock: this.ops, note: (l) => this.note(l), uploaded: this.uploaded, journal: this.volumeJournal, hostId: this.id, local: !this.conn.master };
  }

  /** Lifecycle lines of this host and of one domain (the host keeps no QEMU log of remote VMs). */
  logLines(name: string, tail: number): { t: string; source: 'lifecycle'; text: string }[] {
    return this.log.of(name, tail);
  }
}
