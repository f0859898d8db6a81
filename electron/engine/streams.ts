// The engine's end of the contract's streams (console, thumbnail, stats: STREAMS in
// shared/contract.ts): who is subscribed to what, kept in the one SubscriptionTable
// (shared/streams.ts), opened on the VM's host handle and closed when the client leaves.
// Console and thumbnail subscribers are held by the VM's own hub, which keeps them across a
// QEMU restart; stats are sampled here, only while someone listens, sent to each subscriber as
// one vm.statsBatch per tick, and the last minute of them is kept (StatsHistory) for `stats.history`, so a new window's sparklines start full.
import { LOCAL_HOST, type CallContext, type EventPayloads, type MethodParams, type MethodResult, type VmRef, type VmStats } from '../../shared/contract';
import { isActive } from '../../shared/state';
import { SubscriptionTable, trackStreamCall } from '../../shared/streams';
import type { HostRegistry } from './hosts/host';
import { StatsHistory } from './stats-history';

type SubscribeMethod = 'console.subscribe' | 'thumbnail.subscribe' | 'stats.subscribe';
type UnsubscribeMethod = 'console.unsubscribe' | 'thumbnail.unsubscribe' | 'stats.unsubscribe';

export class EngineStreams {
  private readonly table = new SubscriptionTable<CallContext>();
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly statsHistory = new StatsHistory();
  private closed = false;

  constructor(
    private readonly hosts: HostRegistry,
    private readonly statsIntervalMs: number,
    private readonly now: () => number,
  ) {}

  async subscribe<M extends SubscribeMethod>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    // open the source first: a VM that does not exist or cannot stream leaves no subscription behind
    const p = params as Partial<VmRef>;
    const ref: VmRef | null = p.id !== undefined ? { host: p.host ?? LOCAL_HOST, id: p.id } : null;
    let result: unknown;
    if (method === 'console.subscribe' && ref) {
      const h = this.hosts.get(ref.host).vm(ref.id);
      result = { scrollback: h.consoleSubscribe(ctx.clientId, (data) => ctx.emit('console.data', { ...ref, data })) };
    } else if (method === 'thumbnail.subscribe' && ref) {
      const h = this.hosts.get(ref.host).vm(ref.id);
      result = { pngBase64: h.thumbnailSubscribe(ctx.clientId, (png) => ctx.emit('vm.thumbnail', { ...ref, pngBase64: png })) };
    } else {
      result = { ok: true };
    }
    trackStreamCall(this.table, method, params, ctx, () => ctx, (call) => this.closeSource(call.kind, call.ref, ctx.clientId));
    if (method === 'stats.subscribe') this.statsClock();
    return result as MethodResult<M>;
  }

  async unsubscribe<M extends UnsubscribeMethod>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    // per-VM sources are held per client: leaving closes this client's one
    trackStreamCall(this.table, method, params, ctx, () => ctx, (call) => this.closeSource(call.kind, call.ref, ctx.clientId));
    return { ok: true } as MethodResult<M>;
  }

  private closeSource(kind: string, ref: VmRef | null, clientId: string): void {
    if (kind === 'stats') {
      if (this.table.size('stats') === 0) this.stopStatsClock();
      return;
    }
    if (!ref || !this.hosts.has(ref.host)) return;
    try {
      const h = this.hosts.get(ref.host).vm(ref.id);
      if (kind === 'console') h.consoleUnsubscribe(clientId);
      else h.thumbnailUnsubscribe(clientId);
    } catch {
      /* the VM is gone, and its subscriptions with it */
    }
  }

  /** A VM was deleted: forget its streams (their sources went with it). */
  vmRemoved(ref: VmRef): void {
    for (const kind of ['console', 'thumbnail'] as const) this.table.dropKey(`${kind}\n${ref.host}\n${ref.id}`);
    this.statsHistory.forget(ref.host, ref.id);
  }

  /** A VM that stopped has no live numbers: its history ends with the run. */
  vmChanged(vm: EventPayloads['vm.changed']): void {
    if (!isActive(vm)) this.statsHistory.forget(vm.host, vm.id);
  }

  /** The recent samples of every running VM, oldest first per VM. */
  history(): VmStats[] {
    return this.statsHistory.all();
  }

  private statsClock(): void {
    if (this.statsTimer || this.closed) return;
    this.statsTimer = setInterval(() => void this.sampleStats(), this.statsIntervalMs);
    this.statsTimer.unref();
  }

  private stopStatsClock(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
  }

  private async sampleStats(): Promise<void> {
    const t = this.now();
    const samples: VmStats[] = [];
    // a VM deleted (or a host removed) between the list and its sample is skipped, never thrown:
    // this runs on a timer, where a throw would end the engine (a CI run saw it)
    const listed = this.hosts.all().flatMap((host) => {
      try {
        return host.list().map((vm) => ({ host, vm }));
      } catch {
        return [];
      }
    });
    // a host that reads all its VMs' stats at once (libvirt: one domstats, not one virsh per
    // domain a second) is asked once per tick
    const batches = new Map<string, Promise<Map<string, { cpuPercent: number; rssBytes: number }> | null>>();
    for (const host of this.hosts.all()) if (host.statsAll) batches.set(host.id, host.statsAll().catch(() => null));
    await Promise.all(
      listed.map(async ({ host, vm }) => {
        // a QEMU of ours runs (a local VM), or the host says it runs (a libvirt domain: no pid of ours)
        const running = vm.pid !== null || vm.state === 'running' || vm.state === 'paused';
        if (!vm.caps.stats || !running) {
          this.statsHistory.forget(host.id, vm.id);
          return;
        }
        const runKey = vm.pid ?? 'domain';
        const batch = batches.get(host.id);
        const r = batch
          ? ((await batch)?.get(vm.id) ?? null)
          : await Promise.resolve()
              .then(() => host.vm(vm.id).stats())
              .catch(() => null);
        if (!r) return;
        const sample = { host: host.id, id: vm.id, t, cpuPercent: r.cpuPercent, rssBytes: r.rssBytes };
        samples.push(sample);
        this.statsHistory.push(sample, runKey);
      }),
    );
    // one event per subscriber per tick, however many VMs: a message each cost the client a parse
    // and a dispatch per VM (issue 15); nothing running, nothing sent
    if (this.closed || samples.length === 0) return;
    for (const ctx of this.table.values('stats')) ctx.emit('vm.statsBatch', { samples });
  }

  close(): void {
    this.closed = true;
    this.stopStatsClock();
  }
}
