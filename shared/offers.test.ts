import { describe, expect, it } from 'vitest';
import { capsOf, VM_CAPS } from './contract';
import { offers, offersTab } from './offers';

const all = capsOf([...VM_CAPS]);

describe('offers', () => {
  it('follows the state guards when the backend can do everything', () => {
    expect(offers({ state: 'stopped', caps: all, broken: null }, 'start')).toBe(true);
    expect(offers({ state: 'running', caps: all, broken: null }, 'start')).toBe(false);
    expect(offers({ state: 'running', caps: all, broken: null }, 'pause')).toBe(true);
    expect(offers({ state: 'stopping', caps: all, broken: null }, 'forceStop')).toBe(true);
  });

  it('hides what the backend cannot do', () => {
    const noPause = capsOf(['lifecycle']);
    expect(offers({ state: 'running', caps: noPause, broken: null }, 'pause')).toBe(false);
    expect(offers({ state: 'running', caps: noPause, broken: null }, 'stop')).toBe(true);
    expect(offers({ state: 'stopped', caps: capsOf([]), broken: null }, 'start')).toBe(false);
  });

  it('offers a broken VM start (re-reads its file), force stop and delete only', () => {
    const broken = { reason: 'vm.json is not valid JSON', file: '/x/vm.json' };
    const running = { state: 'running' as const, caps: capsOf([]), broken };
    expect(offers(running, 'forceStop')).toBe(true);
    expect(offers(running, 'stop')).toBe(false);
    expect(offers(running, 'pause')).toBe(false);
    expect(offers(running, 'delete')).toBe(false);
    const stopped = { ...running, state: 'stopped' as const };
    expect(offers(stopped, 'start')).toBe(true);
    expect(offers(stopped, 'delete')).toBe(true);
  });

  it('tabs need their capability', () => {
    const libvirtLike = capsOf(['lifecycle', 'pause', 'console', 'display', 'exec', 'stats', 'logs', 'snapshots']);
    expect(offersTab({ state: 'running', caps: libvirtLike, broken: null }, 'settings')).toBe(false);
    expect(offersTab({ state: 'running', caps: libvirtLike, broken: null }, 'console')).toBe(true);
    expect(offersTab({ state: 'running', caps: all, broken: { reason: 'x', file: 'y' } }, 'console')).toBe(false);
    expect(offersTab({ state: 'running', caps: all, broken: { reason: 'x', file: 'y' } }, 'logs')).toBe(true);
  });
});
