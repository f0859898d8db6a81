// The stats stream's coalescing (issue 15): every sampling tick reaches each subscriber as ONE
// vm.statsBatch event carrying every running VM's sample, not one event per VM. Hosts are
// stand-ins here (the sampler's logic is under test; the engine-lifecycle itest reads real QEMU
// stats through the same event), and the clock is vitest's fake one.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallContext, EventName, EventPayloads, VmInfo } from '../../shared/contract';
import { fakeVm } from '../headless/testing/fake-handler';
import { HostRegistry, type Host } from './hosts/host';
import { EngineStreams } from './streams';

interface Sent {
  event: EventName;
  payload: unknown;
}

function client(id: string): { ctx: CallContext; sent: Sent[]; close: () => void } {
  const sent: Sent[] = [];
  const closers: (() => void)[] = [];
  const ctx: CallContext = {
    clientId: id,
    emit: <E extends EventName>(event: E, payload: EventPayloads[E]) => void sent.push({ event, payload }),
    onClose: (cb) => void closers.push(cb),
  };
  return { ctx, sent, close: () => closers.forEach((cb) => cb()) };
}

/** A host whose VMs answer stats with numbers derived from their index; `null` pid = not running. */
function host(id: string, vms: VmInfo[], failing = new Set<string>()): Host {
  return {
    id,
    list: () => vms,
    vm: (vmId: string) => ({
      stats: async () => {
        if (failing.has(vmId)) throw new Error('no such process');
        return { cpuPercent: vms.findIndex((v) => v.id === vmId), rssBytes: 1 << 20 };
      },
    }),
  } as unknown as Host;
}

const running = (id: string, pid: number): VmInfo => fakeVm(id, id, { state: 'running', pid });

describe('EngineStreams stats', () => {
  let streams: EngineStreams;
  let hosts: HostRegistry;

  beforeEach(() => {
    vi.useFakeTimers();
    hosts = new HostRegistry();
    streams = new EngineStreams(hosts, 1000, () => Date.now());
  });
  afterEach(() => {
    streams.close();
    vi.useRealTimers();
  });

  it('sends each subscriber one vm.statsBatch per tick with every running VM of every host', async () => {
    const local = Array.from({ length: 50 }, (_, i) => running(`vm${String(i).padStart(8, '0')}`, 1000 + i));
    hosts.add(host('local', [...local, fakeVm('stopped00', 'stopped00', { state: 'stopped', pid: null })]));
    hosts.add(host('lab', [running('remote001', 42)]));
    const a = client('a');
    const b = client('b');
    await streams.subscribe('stats.subscribe', {}, a.ctx);
    await streams.subscribe('stats.subscribe', {}, b.ctx);

    await vi.advanceTimersByTimeAsync(1000);
    for (const c of [a, b]) {
      expect(c.sent.map((s) => s.event)).toEqual(['vm.statsBatch']);
      const { samples } = c.sent[0]!.payload as EventPayloads['vm.statsBatch'];
      expect(samples).toHaveLength(51);
      expect(new Set(samples.map((s) => `${s.host}/${s.id}`))).toEqual(new Set([...local.map((v) => `local/${v.id}`), 'lab/remote001']));
      expect(new Set(samples.map((s) => s.t)).size).toBe(1);
    }

    await vi.advanceTimersByTimeAsync(2000);
    expect(a.sent).toHaveLength(3);
    expect(b.sent).toHaveLength(3);
  });

  it('leaves out a VM whose sample fails, and sends nothing when no VM has a sample', async () => {
    const vms = [running('alive0001', 1), running('gone00001', 2)];
    const failing = new Set(['gone00001']);
    hosts.add(host('local', vms, failing));
    const a = client('a');
    await streams.subscribe('stats.subscribe', {}, a.ctx);

    await vi.advanceTimersByTimeAsync(1000);
    expect((a.sent[0]!.payload as EventPayloads['vm.statsBatch']).samples.map((s) => s.id)).toEqual(['alive0001']);

    failing.add('alive0001');
    await vi.advanceTimersByTimeAsync(3000);
    expect(a.sent).toHaveLength(1);
  });

  it('a host whose list throws, or a VM gone before its sample, is skipped and the others still sampled', async () => {
    // a delete between the list and the sample, or a host that cannot answer: on the timer a throw
    // would be an unhandled rejection, which ends the engine
    hosts.add({ id: 'broken', list: () => { throw new Error('host list failed'); } } as unknown as Host);
    const vms = [running('alive0001', 1), running('deleted01', 2)];
    const local = host('local', vms);
    hosts.add({ ...local, id: 'local', list: local.list, vm: (id: string) => { if (id === 'deleted01') throw new Error('no VM with id deleted01'); return local.vm(id); } } as unknown as Host);
    const a = client('a');
    await streams.subscribe('stats.subscribe', {}, a.ctx);
    await vi.advanceTimersByTimeAsync(2000);
    expect(a.sent.map((m) => (m.payload as EventPayloads['vm.statsBatch']).samples.map((s) => s.id))).toEqual([['alive0001'], ['alive0001']]);
  });

  it('stops sending to a client that unsubscribed or went away, and keeps the history for stats.history', async () => {
    hosts.add(host('local', [running('one000001', 7)]));
    const a = client('a');
    const b = client('b');
    await streams.subscribe('stats.subscribe', {}, a.ctx);
    await streams.subscribe('stats.subscribe', {}, b.ctx);
    await vi.advanceTimersByTimeAsync(1000);
    await streams.unsubscribe('stats.unsubscribe', {}, a.ctx);
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.sent).toHaveLength(1);
    expect(b.sent).toHaveLength(2);
    b.close();
    await vi.advanceTimersByTimeAsync(3000);
    expect(b.sent).toHaveLength(2);
    // samples were taken only while someone listened: two ticks
    expect(streams.history().map((s) => s.id)).toEqual(['one000001', 'one000001']);
  });
});
