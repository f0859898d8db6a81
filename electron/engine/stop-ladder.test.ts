import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentClient } from './agent-client';
import type { QemuProcess } from './qemu-process';
import type { QmpClient } from './qmp-client';
import { gracefulStop, type LadderTarget } from './stop-ladder';

/** A frozen QEMU (SIGSTOP): its agent and QMP sockets take requests and never answer. */
function frozenTarget() {
  const logs: string[] = [];
  const sent: string[] = [];
  let exited: (() => void) | null = null;
  const gone = new Promise<void>((r) => (exited = r));
  const never = new Promise<never>(() => undefined);
  const qmp = {
    execute: (cmd: string, _args: unknown, opts: { timeoutMs: number }) => {
      sent.push(cmd);
      // the real client gives up after its timeout
      return new Promise((_, reject) => setTimeout(() => reject(new Error(`${cmd}: timeout`)), opts.timeoutMs));
    },
  } as unknown as QmpClient;
  const agent = {
    shutdown: () => {
      sent.push('guest-shutdown');
      return never;
    },
  } as unknown as AgentClient;
  const proc = {
    waitExit: (ms: number) => Promise.race([gone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
    kill: async () => {
      sent.push('SIGKILL');
      exited!();
    },
  } as unknown as QemuProcess;
  const t: LadderTarget = {
    proc,
    qmpSock: '/x/qmp.sock',
    qmp: () => qmp,
    agent: () => agent,
    agentReady: async () => true,
    log: (s) => logs.push(s),
    now: () => Date.now(),
  };
  return { t, logs, sent };
}

/**
 * A guest still booting: QMP takes the power button (and the guest, with no acpid yet, loses
 * it), its agent answers from `readyAt` on, and the guest powers off once the agent is asked.
 */
function bootingTarget(readyAt: number) {
  const sent: { what: string; at: number }[] = [];
  const t0 = Date.now();
  let exited: (() => void) | null = null;
  let isExited = false;
  const gone = new Promise<void>((r) => (exited = () => ((isExited = true), r())));
  const ready = () => Date.now() - t0 >= readyAt;
  const qmp = {
    execute: async (cmd: string) => {
      sent.push({ what: cmd, at: Date.now() - t0 });
      return {};
    },
  } as unknown as QmpClient;
  const agent = {
    shutdown: async () => {
      sent.push({ what: 'guest-shutdown', at: Date.now() - t0 });
      setTimeout(() => exited!(), 100);
    },
  } as unknown as AgentClient;
  const proc = {
    waitExit: (ms: number, signal?: AbortSignal) =>
      isExited
        ? Promise.resolve(true)
        : Promise.race([
            gone.then(() => true),
            new Promise<boolean>((r) => {
              const timer = setTimeout(() => r(false), ms);
              signal?.addEventListener('abort', () => (clearTimeout(timer), r(false)), { once: true });
            }),
          ]),
  } as unknown as QemuProcess;
  const t: LadderTarget = {
    proc,
    qmpSock: '/x/qmp.sock',
    qmp: () => qmp,
    agent: () => (ready() ? agent : null),
    agentReady: (ms) =>
      new Promise((r) => {
        if (ready()) return r(true);
        setTimeout(() => r(ready()), Math.min(ms, readyAt - (Date.now() - t0)));
      }),
    log: () => undefined,
    now: () => Date.now(),
  };
  return { t, sent, gone };
}

describe('gracefulStop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps its deadline when the agent and QMP never answer: quit at the deadline, then the kill', async () => {
    const { t, logs, sent } = frozenTarget();
    const done = gracefulStop(t, { deadlineMs: 4000, repeatMs: 5000, wasPaused: false, signal: new AbortController().signal });
    await vi.advanceTimersByTimeAsync(3900);
    expect(logs).toEqual([]);
    expect(sent.slice(0, 2)).toEqual(['guest-shutdown', 'system_powerdown']);
    await vi.advanceTimersByTimeAsync(200);
    expect(logs).toEqual(['the guest did not power off within 4 s; sending QMP quit']);
    expect(sent).toContain('quit');
    // quit is not answered within 2 s, and the process is still there 3 s later
    await vi.advanceTimersByTimeAsync(5000);
    expect(logs.at(-1)).toBe('QEMU ignored quit; killing its process group');
    expect(sent.at(-1)).toBe('SIGKILL');
    await done;
  });

  it('asks the agent the moment it answers when the stop came while the guest booted, not at the next press', async () => {
    const { t, sent } = bootingTarget(1500);
    const done = gracefulStop(t, { deadlineMs: 30_000, repeatMs: 5000, wasPaused: false, signal: new AbortController().signal });
    await vi.advanceTimersByTimeAsync(1400);
    expect(sent.map((x) => x.what)).toEqual(['system_powerdown']);
    await vi.advanceTimersByTimeAsync(300);
    // asked at 1.5 s, when its agent came up (the next press would have been at 5 s)
    expect(sent.find((x) => x.what === 'guest-shutdown')?.at).toBe(1500);
    await vi.advanceTimersByTimeAsync(200);
    await done;
    expect(sent.filter((x) => x.what === 'system_powerdown')).toHaveLength(2);
  });

  it('waits the whole repeat when the agent never comes (no asking in a loop)', async () => {
    const { t, sent } = bootingTarget(Number.POSITIVE_INFINITY);
    const ctl = new AbortController();
    const done = gracefulStop(t, { deadlineMs: 30_000, repeatMs: 5000, wasPaused: false, signal: ctl.signal });
    await vi.advanceTimersByTimeAsync(12_000);
    expect(sent.map((x) => x.at)).toEqual([0, 5000, 10_000]);
    ctl.abort();
    await vi.advanceTimersByTimeAsync(10);
    await done;
  });
});
