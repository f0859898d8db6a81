import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LibvirtDomain } from './domain-info';
import { shutdownDomain, type ShutdownTarget } from './domain-shutdown';

/**
 * A domain behind a stand-in virsh: its guest boots until `agentAt` (a shutdown asked before then
 * is lost, as libvirt's ACPI press is while no acpid runs), then takes one and is off 100 ms later.
 */
function domain(opts: { agentAt: number; state?: 'running' | 'paused' }) {
  const t0 = Date.now();
  const calls: { args: string; at: number }[] = [];
  const d = { uuid: 'u-1', name: 'web', state: opts.state ?? 'running', agent: 'connecting' } as LibvirtDomain;
  let gone = false;
  setTimeout(() => (d.agent = 'ready'), opts.agentAt);
  const t: ShutdownTarget = {
    uuid: d.uuid,
    name: d.name,
    virsh: {
      run: async (args) => {
        calls.push({ args: args.join(' '), at: Date.now() - t0 });
        if (gone) throw new Error('error: Requested operation is not valid: domain is not running');
        if (args[0] === 'resume') d.state = 'running';
        const off = (): void => {
          d.state = 'stopped';
          gone = true;
        };
        if (args[0] === 'destroy') off();
        if (args[0] === 'shutdown' && d.state === 'running' && d.agent === 'ready') setTimeout(off, 100);
        return {};
      },
    },
    waitFor: async (_uuid, pred, ms) => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (pred(d)) return true;
      return pred(d);
    },
    current: () => d,
    note: (line) => calls.push({ args: `note: ${line}`, at: Date.now() - t0 }),
    now: () => Date.now(),
  };
  return { t, d, calls };
}

describe('shutdownDomain', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks again the moment the agent answers when the first request came while the guest booted', async () => {
    const { t, d, calls } = domain({ agentAt: 1500 });
    const done = shutdownDomain(t, 30_000);
    await vi.advanceTimersByTimeAsync(3000);
    await done;
    expect(d.state).toBe('stopped');
    expect(calls).toEqual([
      { args: 'shutdown --domain u-1', at: 0 },
      { args: 'shutdown --domain u-1', at: 1500 },
    ]);
  });

  it('asks again every few seconds when nothing answers, and destroys at the deadline, saying so', async () => {
    const { t, d, calls } = domain({ agentAt: 10_000_000 });
    const deadlines: (string | null)[] = [];
    t.deadline = (at) => deadlines.push(at);
    const done = shutdownDomain(t, 12_000, 5000);
    // the tile's countdown: the moment of the destroy, from the start
    expect(deadlines).toEqual([new Date(Date.now() + 12_000).toISOString()]);
    await vi.advanceTimersByTimeAsync(13_000);
    await done;
    expect(d.state).toBe('stopped');
    expect(calls.map((c) => `${c.at} ${c.args}`)).toEqual([
      '0 shutdown --domain u-1',
      '5000 shutdown --domain u-1',
      '10000 shutdown --domain u-1',
      '12000 note: domain web: no shutdown within 12000 ms, destroying',
      '12000 destroy --domain u-1',
    ]);
    expect(deadlines.at(-1)).toBeNull();
  });

  it('resumes a paused domain first: a paused guest takes no request', async () => {
    const { t, d, calls } = domain({ agentAt: 0, state: 'paused' });
    await vi.advanceTimersByTimeAsync(1);
    const done = shutdownDomain(t, 30_000);
    await vi.advanceTimersByTimeAsync(2000);
    await done;
    expect(d.state).toBe('stopped');
    expect(calls.map((c) => c.args)).toEqual(['resume --domain u-1', 'shutdown --domain u-1']);
  });

  it('a first request libvirt refuses is the caller\'s error', async () => {
    const { t } = domain({ agentAt: 0 });
    t.virsh.run = async () => {
      throw new Error('error: Requested operation is not valid: domain is not running');
    };
    await expect(shutdownDomain(t, 30_000)).rejects.toThrow(/not running/);
  });
});
