import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LibvirtDomain } from './domain-info';
import { agentForUse, type AgentWaitHost } from './agent-wait';
import type { Virsh } from './virsh';

/** A running domain whose agent connects at `agentAt` ms (the host's event), and whose ping answers from `pingAt`. */
function domain(opts: { agentAt?: number; pingAt?: number; state?: LibvirtDomain['state'] }) {
  const t0 = Date.now();
  const d = { uuid: 'u-1', name: 'web', state: opts.state ?? 'running', agent: 'connecting' } as LibvirtDomain;
  if (opts.agentAt !== undefined) setTimeout(() => (d.agent = 'ready'), opts.agentAt);
  const pings: number[] = [];
  const virsh = {
    run: async (args: readonly string[]) => {
      pings.push(Date.now() - t0);
      if (!args.join(' ').includes('guest-ping') || opts.pingAt === undefined || Date.now() - t0 < opts.pingAt) throw new Error('error: Guest agent is not responding: QEMU guest agent is not connected');
      return { stdout: '{"return":{}}', stderr: '' };
    },
  } as unknown as Virsh;
  const host: AgentWaitHost = {
    waitFor: async (_uuid, pred, ms) => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (pred(d)) return true;
      return pred(d);
    },
    refreshAgent: async () => void (d.agent = 'ready'),
  };
  return { d, virsh, host, pings };
}

describe('agentForUse (a command or file on a libvirt domain)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits for an agent still connecting, and goes on when the host marks it ready', async () => {
    const { d, virsh, host } = domain({ agentAt: 2500 });
    let done = false;
    const p = agentForUse(host, virsh, () => d).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(2400);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    await p;
    expect(done).toBe(true);
  });

  it('goes on when its own ping answers though no event came', async () => {
    const { d, virsh, host, pings } = domain({ pingAt: 3000 });
    const p = agentForUse(host, virsh, () => d);
    await vi.advanceTimersByTimeAsync(6500);
    await p;
    expect(d.agent).toBe('ready');
    expect(pings.length).toBeGreaterThanOrEqual(2);
  });

  it('fails at the deadline naming the VM and what must run, and at once for a domain that is not running', async () => {
    const { d, virsh, host } = domain({});
    const p = agentForUse(host, virsh, () => d, 5000);
    const seen = expect(p).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: 'the guest agent of web did not answer within 5 s (qemu-guest-agent must run in the guest)' });
    await vi.advanceTimersByTimeAsync(6000);
    await seen;
    const off = domain({ state: 'stopped' });
    await expect(agentForUse(off.host, off.virsh, () => off.d)).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'web is stopped, not running' });
    expect(off.pings).toEqual([]);
    const paused = domain({ state: 'paused' });
    await expect(agentForUse(paused.host, paused.virsh, () => paused.d)).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'web is paused: resume it first (its guest agent cannot answer)' });
  });

  it('says the domain stopped when it stops while waited for', async () => {
    const { d, virsh, host } = domain({});
    const p = agentForUse(host, virsh, () => d);
    const seen = expect(p).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'web stopped before its guest agent answered' });
    setTimeout(() => (d.state = 'stopped'), 1000);
    await vi.advanceTimersByTimeAsync(4000);
    await seen;
  });
});
