import { describe, expect, it } from 'vitest';
import { VM_STATES, canDelete, canForceStop, canPause, canRestart, canResume, canStart, canStop, canTransition, type VmState } from './state';

describe('VM state machine', () => {
  it('allows the designed lifecycle', () => {
    const path: VmState[] = ['stopped', 'starting', 'running', 'paused', 'running', 'stopping', 'stopped'];
    for (let i = 1; i < path.length; i++) expect(canTransition(path[i - 1]!, path[i]!)).toBe(true);
  });
  it('refuses impossible jumps', () => {
    expect(canTransition('stopped', 'running')).toBe(false);
    expect(canTransition('stopped', 'paused')).toBe(false);
    expect(canTransition('stopping', 'running')).toBe(false);
    expect(canTransition('crashed', 'running')).toBe(false);
  });
  it('every state can end up stopped', () => {
    for (const s of VM_STATES) {
      const seen = new Set<VmState>([s]);
      const queue: VmState[] = [s];
      while (queue.length) {
        const cur = queue.shift()!;
        for (const n of VM_STATES) {
          if (canTransition(cur, n) && !seen.has(n)) {
            seen.add(n);
            queue.push(n);
          }
        }
      }
      expect(seen.has('stopped')).toBe(true);
    }
  });
  it.each<[VmState, Record<string, boolean>]>([
    ['stopped', { start: true, stop: false, force: false, pause: false, resume: false, restart: false, del: true }],
    ['running', { start: false, stop: true, force: true, pause: true, resume: false, restart: true, del: false }],
    ['paused', { start: false, stop: true, force: true, pause: false, resume: true, restart: true, del: false }],
    ['stopping', { start: false, stop: false, force: true, pause: false, resume: false, restart: false, del: false }],
    ['crashed', { start: true, stop: false, force: false, pause: false, resume: false, restart: false, del: true }],
  ])('guards for %s', (state, want) => {
    const vm = { state };
    expect({
      start: canStart(vm),
      stop: canStop(vm),
      force: canForceStop(vm),
      pause: canPause(vm),
      resume: canResume(vm),
      restart: canRestart(vm),
      del: canDelete(vm),
    }).toEqual(want);
  });
});
