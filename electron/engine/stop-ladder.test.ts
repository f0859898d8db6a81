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
  const t: LadderTarget = { proc, qmpSock: '/x/qmp.sock', qmp: () => qmp, agent: () => agent, log: (s) => logs.push(s), now: () => Date.now() };
  return { t, logs, sent };
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
});
