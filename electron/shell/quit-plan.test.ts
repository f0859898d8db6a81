import { describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { fakeVm } from '../headless/testing/fake-handler';
import { planQuit, quitQuestion } from './quit-plan';

const vm = (name: string, state: VmInfo['state'], keep = false) => {
  const v = fakeVm(name.padEnd(12, 'x'), name, { state });
  v.spec.keepRunningOnQuit = keep;
  return v;
};

describe('quit plan', () => {
  it('quits at once when nothing runs', () => {
    expect(planQuit([vm('a', 'stopped'), vm('b', 'crashed')], 'engine')).toEqual({ kind: 'quit-now', keptRunning: [] });
  });
  it('asks when VMs run, listing which stop and which are kept', () => {
    const plan = planQuit([vm('a', 'running'), vm('b', 'paused'), vm('c', 'running', true), vm('d', 'stopped')], 'engine');
    expect(plan).toEqual({ kind: 'ask', toStop: ['a', 'b'], keptRunning: ['c'] });
    const q = quitQuestion(plan as Extract<typeof plan, { kind: 'ask' }>);
    expect(q.message).toBe('2 VMs are still running');
    expect(q.detail).toContain('c will keep running');
  });
  it('does not ask when every running VM is kept on quit', () => {
    expect(planQuit([vm('a', 'running', true)], 'engine')).toEqual({ kind: 'quit-now', keptRunning: ['a'] });
  });
  it('a client of another engine never stops VMs', () => {
    expect(planQuit([vm('a', 'running')], 'client')).toEqual({ kind: 'quit-now', keptRunning: ['a'] });
  });
});
