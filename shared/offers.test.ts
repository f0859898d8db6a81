import { describe, expect, it } from 'vitest';
import { capsOf, VM_CAPS } from './contract';
import { cdMedium, offerOp, offers, offersTab } from './offers';

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

describe('offerOp', () => {
  const vm = (state: 'running' | 'stopped' | 'paused', spec: { cdrom?: string | null; source: { kind: string; path?: string } } = { source: { kind: 'default' } }, caps = all) => ({
    state,
    caps,
    broken: null,
    spec,
  });

  it('hides what the host cannot do and whatever a broken VM has', () => {
    expect(offerOp(vm('stopped', undefined, capsOf(['lifecycle'])), 'clone')).toEqual({ shown: false });
    expect(offerOp(vm('stopped', undefined, capsOf(['lifecycle'])), 'snapshots')).toEqual({ shown: false });
    expect(offerOp({ ...vm('stopped'), broken: { reason: 'x', file: 'y' } }, 'export')).toEqual({ shown: false });
  });

  it('disables stopped-only operations on a running VM, with the reason', () => {
    expect(offerOp(vm('stopped'), 'clone')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('running'), 'clone')).toEqual({ shown: true, disabledReason: 'Stop the VM to clone it' });
    expect(offerOp(vm('running'), 'export')).toEqual({ shown: true, disabledReason: 'Stop the VM to export it' });
    expect(offerOp(vm('running'), 'addDisk')).toEqual({ shown: true, disabledReason: 'Stop the VM to add a disk' });
    expect(offerOp(vm('stopped'), 'removeDisk')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('paused'), 'removeDisk')).toEqual({ shown: true, disabledReason: 'Stop the VM to remove a disk' });
  });

  it('allows snapshots and growing a disk running or stopped, not paused', () => {
    expect(offerOp(vm('running'), 'snapshots')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('stopped'), 'resizeDisk')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('paused'), 'snapshots')).toEqual({ shown: true, disabledReason: 'Not while the VM is paused' });
  });

  it('offers a CD only where there is (or, stopped, can be) a drive, and Eject only with a disc in it', () => {
    expect(cdMedium(vm('stopped', { source: { kind: 'iso', path: '/a.iso' } }))).toBe('/a.iso');
    expect(cdMedium(vm('stopped', { cdrom: null, source: { kind: 'iso', path: '/a.iso' } }))).toBeNull();
    expect(cdMedium(vm('stopped'))).toBeUndefined();
    expect(offerOp(vm('stopped'), 'insertCd')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('running'), 'insertCd').shown && (offerOp(vm('running'), 'insertCd') as { disabledReason: string }).disabledReason).toMatch(/no CD drive/);
    expect(offerOp(vm('running', { cdrom: null, source: { kind: 'default' } }), 'insertCd')).toEqual({ shown: true, disabledReason: null });
    expect(offerOp(vm('running'), 'ejectCd')).toEqual({ shown: false });
    expect(offerOp(vm('running', { cdrom: '/b.iso', source: { kind: 'default' } }), 'ejectCd')).toEqual({ shown: true, disabledReason: null });
  });
});
