// A libvirt host: every domain on one libvirt connection, shown as Flotilla VMs (also those
// defined outside Flotilla). State comes from the connection's one event stream; the domain
// list is loaded once per (re)connect. While the host is unreachable its VMs keep their last
// known state and say "host unreachable" (HostInfo.state = failed), never "stopped".
// VM ids are the domains' UUIDs without dashes; domains are addressed by UUID only, so a name
// a remote host sends is shown as text and never used as a command word or a path.
import { randomUUID } from 'node:crypto';
import type { ExecResult, VmInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { vmSpecSchema, type VmConfig, type VmSpec } from '../../../../shared/spec';
import type { AgentState, VmState } from '../../../../shared/state';
import { KeyedMutex } from '../../mutex';
import { LibvirtConnection, type ConnectionOptions, type ConnectionState } from './connection';
import { DomainConsole } from './console';
import { parseFlotillaMetadata, FLOTILLA_METADATA_NS } from './domain-xml';
import { agentPing, domainStats, guestExec, guestIps, type CpuSample } from './domain-ops';
import type { HostEntry } from './host-store';
import { createDomain, type CreateContext } from './create-domain';
import { idToUuid, parseDominfo, parseUuidList, safeText, stateAfterEvent, uuidToId, type DomainEvent } from './virsh-parse';

export interface LibvirtDomain {
  uuid: string;
  /** the name as libvirt has it (display text only) */
  name: string;
  state: VmState;
  reason: string;
  stateSince: string;
  cpus: number;
  memoryMiB: number;
  agent: AgentState;
  ips: string[];
  /** what Flotilla recorded when it created the domain (null for foreign domains) */
  meta: Record<string, unknown> | null;
}

export interface LibvirtHostOptions extends ConnectionOptions {
  /** the data directory's home (the built-in guest lives in images/default) */
  home: string;
  stopDeadlineMs?: number;
  agentWaitMs?: number;
}

/** What a VM on a libvirt host can do (the UI hides the rest). */
export const LIBVIRT_CAPS = {
  lifecycle: true, pause: true, edit: false, forwards: false, console: true, display: true, exec: true,
  files: false, stats: true, logs: true, snapshots: true, shares: false, clone: false, export: false,
} as const;

const now = () => new Date().toISOString();

/** A spec-shaped name for a foreign domain (the real name stays in VmInfo.name). */
function specName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 63);
  return n || 'domain';
}

export class LibvirtHost {
  readonly kind = 'libvirt';
  readonly conn: LibvirtConnection;
  private readonly domains = new Map<string, LibvirtDomain>();
  private readonly consoles = new Map<string, DomainConsole>();
  private readonly cpuSamples = new Map<string, CpuSample>();
  private readonly log: string[] = [];
  private readonly changeListeners = new Set<(vm: VmInfo | { removed: string }) => void>();
  private readonly hostListeners = new Set<() => void>();
  private readonly ops = new KeyedMutex();
  private readonly stopDeadlineMs: number;
  private readonly agentWaitMs: number;

  constructor(
    readonly entry: HostEntry,
    private readonly opts: LibvirtHostOptions,
  ) {
    this.conn = new LibvirtConnection(entry.name, entry.uri, entry.identity, opts);
    this.stopDeadlineMs = opts.stopDeadlineMs ?? 30_000;
    this.agentWaitMs = opts.agentWaitMs ?? 180_000;
    this.conn.onState(() => this.onConnState(this.conn.state));
    this.conn.onEvent((e) => void this.onDomainEvent(e).catch((err: unknown) => this.note(`event handling failed: ${(err as Error).message}`)));
  }

  get id(): string {
    return this.entry.name;
  }

  info(): { id: string; name: string; kind: string; uri: string; state: ConnectionState; reason: string | null; vmCount: number } {
    return { id: this.id, name: this.id, kind: this.kind, uri: this.entry.uri, state: this.conn.state, reason: this.conn.reason, vmCount: this.domains.size };
  }

  onChanged(cb: () => void): () => void {
    this.hostListeners.add(cb);
    return () => this.hostListeners.delete(cb);
  }

  /** vm.changed (full info) or removal of a VM on this host. */
  onVm(cb: (vm: VmInfo | { removed: string }) => void): () => void {
    this.changeListeners.add(cb);
    return () => this.changeListeners.delete(cb);
  }

  /** Connects in the background (state says how it goes). */
  start(): void {
    this.conn.start();
  }

  /** One connection attempt that throws the classified error (for `host add`). */
  async connectNow(): Promise<void> {
    await this.conn.connect();
  }

  async close(): Promise<void> {
    for (const c of this.consoles.values()) c.detach();
    await this.conn.close();
  }

  private note(line: string): void {
    this.log.push(`${now()} ${safeText(line, 500)}`);
    if (this.log.length > 500) this.log.splice(0, this.log.length - 500);
  }

  private emitHost(): void {
    for (const cb of [...this.hostListeners]) cb();
  }

  private emitVm(uuid: string): void {
    const d = this.domains.get(uuid);
    const msg = d ? this.toInfo(d) : { removed: uuidToId(uuid) };
    for (const cb of [...this.changeListeners]) cb(msg);
  }

  private onConnState(state: ConnectionState): void {
    this.note(`connection ${state}${this.conn.reason ? `: ${this.conn.reason}` : ''}`);
    if (state === 'connected') {
      void this.reload().catch((err: unknown) => this.note(`loading the domains failed: ${(err as Error).message}`));
    } else {
      for (const c of this.consoles.values()) c.detach();
      for (const uuid of this.domains.keys()) this.emitVm(uuid);
    }
    this.emitHost();
  }

  /** Loads every domain (after each connect): the one full read; events keep it current after. */
  async reload(): Promise<void> {
    const uuids = parseUuidList((await this.conn.virsh.run(['list', '--all', '--uuid'])).stdout);
    const seen = new Set<string>();
    for (const uuid of uuids) {
      seen.add(uuid);
      await this.loadDomain(uuid).catch(() => undefined); // undefined in between: its event says so
    }
    for (const uuid of [...this.domains.keys()]) {
      if (!seen.has(uuid)) {
        this.domains.delete(uuid);
        this.emitVm(uuid);
      }
    }
    this.emitHost();
  }

  /** Reads one domain (by UUID, or by the name an event carried, passed as one argv word). */
  private async loadDomain(ref: string): Promise<LibvirtDomain> {
    const info = parseDominfo((await this.conn.virsh.run(['dominfo', '--domain', ref])).stdout);
    const meta = await this.conn.virsh
      .run(['metadata', '--domain', info.uuid, '--uri', FLOTILLA_METADATA_NS])
      .then((r) => parseFlotillaMetadata(r.stdout))
      .catch(() => null);
    const prev = this.domains.get(info.uuid);
    const d: LibvirtDomain = {
      uuid: info.uuid,
      name: info.name,
      state: info.state,
      reason: prev && prev.state === info.state ? prev.reason : `libvirt reports ${info.stateWord || 'unknown'}`,
      stateSince: prev && prev.state === info.state ? prev.stateSince : now(),
      cpus: info.cpus,
      memoryMiB: info.memoryMiB,
      agent: info.state === 'running' ? (prev?.agent ?? 'connecting') : 'unknown',
      ips: info.state === 'running' ? (prev?.ips ?? []) : [],
      meta,
    };
    this.domains.set(info.uuid, d);
    if (d.state === 'running' && d.agent !== 'ready') void this.refreshAgent(d.uuid);
    if (!prev) this.emitHost();
    this.emitVm(info.uuid);
    return d;
  }

  private async refreshAgent(uuid: string): Promise<void> {
    const ok = await agentPing(this.conn.virsh, uuid);
    const d = this.domains.get(uuid);
    if (!d) return;
    d.agent = ok ? 'ready' : d.state === 'running' ? 'connecting' : 'unknown';
    if (ok) d.ips = await guestIps(this.conn.virsh, uuid).catch(() => d.ips);
    this.emitVm(uuid);
  }

  private byName(name: string): LibvirtDomain | undefined {
    for (const d of this.domains.values()) if (d.name === name) return d;
    return undefined;
  }

  private async onDomainEvent(e: DomainEvent): Promise<void> {
    if (e.kind === 'unparsed') return this.reload();
    const known = this.byName(safeText(e.name));
    if (e.kind === 'agent') {
      if (!known) return;
      if (e.connected) return this.refreshAgent(known.uuid);
      known.agent = known.state === 'running' ? 'connecting' : 'unknown';
      known.ips = [];
      return this.emitVm(known.uuid);
    }
    if (e.kind === 'lifecycle') {
      this.note(`domain ${safeText(e.name)}: ${e.event} ${e.detail}`);
      const next = stateAfterEvent(e.event, e.detail);
      if (next === 'removed') {
        if (known) {
          this.domains.delete(known.uuid);
          this.consoles.get(known.uuid)?.detach();
          this.consoles.delete(known.uuid);
          this.emitVm(known.uuid);
          this.emitHost();
        }
        return;
      }
      if (known && next) {
        if (known.state !== next) known.stateSince = now();
        known.state = next;
        known.reason = `${e.event} ${e.detail}`.trim().toLowerCase();
        if (next !== 'running' && next !== 'paused') {
          known.agent = 'unknown';
          known.ips = [];
          this.cpuSamples.delete(known.uuid);
        }
        if (next === 'running' && this.consoles.get(known.uuid)?.subscribers) this.consoles.get(known.uuid)!.attach();
        return this.emitVm(known.uuid);
      }
    }
    // a domain we do not know yet (defined elsewhere), or an event that changes its definition
    await this.loadDomain(known?.uuid ?? e.name).catch(() => undefined);
  }

  // ------------------------------------------------------------------ VmInfo

  toInfo(d: LibvirtDomain): VmInfo {
    const id = uuidToId(d.uuid);
    const metaSpec = d.meta?.spec ? vmSpecSchema.safeParse(d.meta.spec) : null;
    const spec: VmSpec = metaSpec?.success
      ? { ...metaSpec.data, id, cpus: d.cpus || metaSpec.data.cpus, memoryMiB: Math.max(64, d.memoryMiB || metaSpec.data.memoryMiB) }
      : {
          id,
          name: specName(d.name),
          // a domain Flotilla did not make: its disks are whatever its XML says; shown as "disk"
          source: { kind: 'disk', path: '/', mode: 'reference' },
          cpus: Math.max(1, Math.min(64, d.cpus || 1)),
          memoryMiB: Math.max(64, Math.min(262144, d.memoryMiB || 64)),
          firmware: 'bios',
          display: 'vnc',
          forwards: [],
          restartPolicy: 'never',
          keepRunningOnQuit: true,
          createdAt: '',
          disks: [],
        };
    const reachable = this.conn.state === 'connected';
    const info: VmInfo & { host: string; caps: typeof LIBVIRT_CAPS; broken: null } = {
      id,
      host: this.id,
      caps: LIBVIRT_CAPS,
      broken: null,
      name: d.name,
      spec,
      state: d.state,
      reason: reachable ? d.reason : `host ${this.id} unreachable (last known: ${d.state}): ${this.conn.reason ?? ''}`.trim(),
      stateSince: d.stateSince,
      pid: null,
      agent: reachable ? d.agent : 'unknown',
      ips: d.ips,
      ports: [],
      hasDisplay: spec.display === 'vnc',
      progress: null,
      lastExit: null,
      lastDiskCheck: null,
      adopted: true,
      qmpHealthy: reachable,
    };
    return info;
  }

  list(): VmInfo[] {
    return [...this.domains.values()].map((d) => this.toInfo(d));
  }

  private dom(id: string): LibvirtDomain {
    const uuid = idToUuid(id);
    const d = uuid ? this.domains.get(uuid) : undefined;
    if (!d) throw new FlotillaError('NOT_FOUND', `no VM ${id} on host ${this.id}`, { host: this.id, id });
    return d;
  }

  get(id: string): VmInfo {
    return this.toInfo(this.dom(id));
  }

  find(nameOrId: string): VmInfo | undefined {
    const d = (idToUuid(nameOrId) && this.domains.get(idToUuid(nameOrId)!)) || this.byName(nameOrId) || [...this.domains.values()].find((x) => specName(x.name) === nameOrId);
    return d ? this.toInfo(d) : undefined;
  }

  // ------------------------------------------------------------------ lifecycle

  private async waitFor(uuid: string, pred: (d: LibvirtDomain | undefined) => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (pred(this.domains.get(uuid))) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return pred(this.domains.get(uuid));
  }

  private job<T>(id: string, fn: (d: LibvirtDomain) => Promise<T>): Promise<T> {
    const d = this.dom(id);
    return this.ops.run(d.uuid, () => fn(d));
  }

  async startVm(id: string, opts: { waitAgent: boolean }): Promise<VmInfo> {
    return this.job(id, async (d) => {
      await this.conn.virsh.run(['start', '--domain', d.uuid]);
      await this.waitFor(d.uuid, (x) => x?.state === 'running', 30_000);
      if (opts.waitAgent) await this.waitAgent(d.uuid);
      return this.toInfo(this.domains.get(d.uuid) ?? d);
    });
  }

  async waitAgent(uuid: string): Promise<void> {
    const deadline = Date.now() + this.agentWaitMs;
    while (Date.now() < deadline) {
      if (await agentPing(this.conn.virsh, uuid)) {
        await this.refreshAgent(uuid);
        return;
      }
      if (this.domains.get(uuid)?.state !== 'running') throw new FlotillaError('INVALID_STATE', 'the VM stopped before its guest agent answered');
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent did not answer within ${this.agentWaitMs} ms (is qemu-guest-agent installed in the guest?)`);
  }

  /** Graceful: libvirt's shutdown (agent, then ACPI), a deadline, then destroy. Force: destroy. */
  async stopVm(id: string, opts: { force: boolean }): Promise<VmInfo> {
    const d = this.dom(id);
    const run = async () => {
      if (opts.force) {
        await this.conn.virsh.run(['destroy', '--domain', d.uuid]);
      } else {
        await this.conn.virsh.run(['shutdown', '--domain', d.uuid]);
        if (!(await this.waitFor(d.uuid, (x) => !x || x.state === 'stopped', this.stopDeadlineMs))) {
          this.note(`domain ${d.name}: no shutdown within ${this.stopDeadlineMs} ms, destroying`);
          await this.conn.virsh.run(['destroy', '--domain', d.uuid]).catch(() => undefined);
        }
      }
      await this.waitFor(d.uuid, (x) => !x || x.state === 'stopped' || x.state === 'crashed', 30_000);
      return this.toInfo(this.domains.get(d.uuid) ?? d);
    };
    // force stop pre-empts a running graceful stop instead of queueing behind it
    return opts.force ? run() : this.ops.run(d.uuid, run);
  }

  async simple(id: string, op: 'reset' | 'suspend' | 'resume'): Promise<VmInfo> {
    return this.job(id, async (d) => {
      await this.conn.virsh.run([op, '--domain', d.uuid]);
      if (op !== 'reset') await this.waitFor(d.uuid, (x) => x?.state === (op === 'suspend' ? 'paused' : 'running'), 10_000);
      return this.toInfo(this.domains.get(d.uuid) ?? d);
    });
  }

  /** Undefine (with the snapshots' metadata); storage too when asked (never the shared kernel volumes). */
  async deleteVm(id: string, opts: { storage: boolean }): Promise<void> {
    await this.job(id, async (d) => {
      if (d.state !== 'stopped' && d.state !== 'crashed') throw new FlotillaError('INVALID_STATE', `stop ${d.name} before deleting it`);
      const args = ['undefine', '--domain', d.uuid, '--snapshots-metadata', '--nvram'];
      if (opts.storage) args.push('--remove-all-storage');
      await this.conn.virsh.run(args);
      await this.waitFor(d.uuid, (x) => !x, 10_000);
    });
  }

  async create(config: VmConfig, opts: { start: boolean }): Promise<VmInfo> {
    if ([...this.domains.values()].some((d) => d.name === config.name)) throw new FlotillaError('NAME_TAKEN', `a domain named ${config.name} exists on host ${this.id}`, { field: 'name' });
    const ctx: CreateContext = { virsh: this.conn.virsh, home: this.opts.home, lock: this.ops };
    const uuid = await createDomain(ctx, config, randomUUID());
    await this.waitFor(uuid, (x) => !!x, 10_000);
    if (!this.domains.has(uuid)) await this.loadDomain(uuid);
    const id = uuidToId(uuid);
    return opts.start ? this.startVm(id, { waitAgent: false }) : this.get(id);
  }

  // ------------------------------------------------------------------ guest access

  exec(id: string, command: string[], opts: { stdin?: string; timeoutMs: number }): Promise<ExecResult> {
    return guestExec(this.conn.virsh, this.dom(id).uuid, command, opts);
  }

  async stats(id: string): Promise<{ cpuPercent: number; rssBytes: number } | null> {
    const d = this.dom(id);
    if (d.state !== 'running' && d.state !== 'paused') return null;
    const r = await domainStats(this.conn.virsh, d.uuid, this.cpuSamples.get(d.uuid) ?? null);
    this.cpuSamples.set(d.uuid, r.sample);
    return { cpuPercent: r.cpuPercent, rssBytes: r.rssBytes };
  }

  logs(id: string, tail: number): { t: string; source: 'lifecycle'; text: string }[] {
    const d = this.dom(id);
    return this.log
      .filter((l) => l.includes(`domain ${d.name}:`) || l.includes('connection '))
      .slice(-tail)
      .map((l) => ({ t: l.slice(0, 24), source: 'lifecycle' as const, text: l.slice(25) }));
  }

  private console(id: string): DomainConsole {
    const d = this.dom(id);
    let c = this.consoles.get(d.uuid);
    if (!c) {
      c = new DomainConsole(() => this.conn.virsh.currentUri(), d.uuid, this.opts.virshBinary);
      this.consoles.set(d.uuid, c);
    }
    if (d.state === 'running' || d.state === 'paused') c.attach();
    return c;
  }

  consoleSubscribe(id: string, key: string, cb: (data: string) => void): string {
    return this.console(id).subscribe(key, cb);
  }
  consoleUnsubscribe(id: string, key: string): void {
    const c = this.consoles.get(this.dom(id).uuid);
    c?.unsubscribe(key);
    if (c && c.subscribers === 0) c.detach();
  }
  consoleInput(id: string, data: string): boolean {
    return this.console(id).input(data);
  }
}

