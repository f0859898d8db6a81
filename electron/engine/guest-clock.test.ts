// Which way the guest's clock is set, from what its agent answers (a fake agent: the real one is
// exercised by engine-lifecycle.itest and lifecycle-snapshots.itest).
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../shared/contract';
import { syncGuestClock, type ClockAgent } from './guest-clock';

function agent(opts: { setTime: 'ok' | 'refuse'; exec: 'ok' | 'fail' | 'throw' }) {
  const calls: { request: [string, unknown][]; exec: string[][] } = { request: [], exec: [] };
  const a: ClockAgent = {
    request: async (command: string, args?: unknown) => {
      calls.request.push([command, args]);
      if (opts.setTime === 'refuse') throw new Error('Command guest-set-time has been disabled');
      return {};
    },
    exec: async (cmd: string[]): Promise<ExecResult> => {
      calls.exec.push(cmd);
      if (opts.exec === 'throw') throw new Error('agent gone');
      return { exitCode: opts.exec === 'ok' ? 0 : 1, stdout: '', stderr: '' };
    },
  };
  return { a, calls };
}

const NOW = Date.UTC(2026, 11, 5, 20, 1, 2, 700);

describe('syncGuestClock', () => {
  it('uses guest-set-time with the host time in nanoseconds when the agent takes it', async () => {
    const { a, calls } = agent({ setTime: 'ok', exec: 'ok' });
    expect(await syncGuestClock(a, () => NOW)).toBe('guest-set-time');
    expect(calls.request).toEqual([['guest-set-time', { time: NOW * 1e6 }]]);
    expect(calls.exec).toEqual([]);
  });

  it('falls back to date -u -s, rounded to the nearest second, when guest-set-time is refused', async () => {
    const { a, calls } = agent({ setTime: 'refuse', exec: 'ok' });
    expect(await syncGuestClock(a, () => NOW)).toBe('date');
    expect(calls.exec).toEqual([['/bin/date', '-u', '-s', '2026-12-05 20:01:03']]);
  });

  it('reports null, and does not throw, when neither works', async () => {
    expect(await syncGuestClock(agent({ setTime: 'refuse', exec: 'fail' }).a, () => NOW)).toBeNull();
    expect(await syncGuestClock(agent({ setTime: 'refuse', exec: 'throw' }).a, () => NOW)).toBeNull();
  });
});
