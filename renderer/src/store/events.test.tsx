// @vitest-environment jsdom
// The one event subscription: full state on connect and on every reconnect, then events;
// a lost connection shows in the UI; live console streams are re-subscribed after reconnect.
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setApi } from '../api/current';
import { ConnectionBanner } from '../components/connection-banner';
import { handleShortcut } from '../lib/use-shortcuts';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { openVm } from './actions';
import { connectStore } from './events';
import { getStats } from './stats-store';
import { acquire, resetStreams } from './streams';
import { resetStore, useStore } from './store';

const flush = (): Promise<void> => act(async () => new Promise((r) => setTimeout(r, 0)));

describe('engine events into the store', () => {
  let api: FakeTransport;
  let list = [makeVm('alpha'), makeVm('beta', { state: 'stopped' })];
  let off: () => void;
  beforeEach(() => {
    resetStore();
    resetStreams();
    list = [makeVm('alpha'), makeVm('beta', { state: 'stopped' })];
    api = new FakeTransport((m) => {
      if (m === 'vm.list') return list;
      if (m === 'vm.making') return [];
      if (m === 'engine.info') return { version: 't', home: '/h', pid: 1, qemuVersion: null, kvm: false, defaultImage: { ready: true, kernelVersion: null, path: '' }, shell: 'serve' };
      if (m === 'console.subscribe') return { scrollback: 'boot\r\n' };
      if (m === 'stats.history') return { samples: [1, 2, 3].map((t) => ({ host: 'local', id: list[0]!.id, t, cpuPercent: t, rssBytes: t << 20 })) };
      return { ok: true };
    });
    setApi(api);
    off = connectStore(api);
  });
  afterEach(() => {
    off();
    cleanup();
  });

  it('loads the full list on connect, then applies changes and removals', async () => {
    await flush();
    const s = useStore.getState();
    expect(s.vms.loaded).toBe(true);
    expect(Object.values(s.vms.byId).map((v) => v.name).sort()).toEqual(['alpha', 'beta']);
    // the engine's recent samples seed the sparklines of the running VM at once
    expect(getStats(list[0]!.id)?.cpu).toEqual([1, 2, 3]);
    const beta = list[1]!;
    act(() => api.emit('vm.changed', { ...beta, state: 'starting' }));
    expect(useStore.getState().vms.byId[beta.id]?.state).toBe('starting');
    act(() => openVm(beta.id));
    act(() => api.emit('vm.removed', { host: 'local', id: beta.id }));
    expect(useStore.getState().vms.byId[beta.id]).toBeUndefined();
    expect(useStore.getState().ui.openVmId).toBeNull();
  });

  it('applies a vm.statsBatch: every sample of a known VM, none of an unknown one', async () => {
    await flush();
    const alpha = list[0]!;
    const unknown = makeVm('ghost');
    act(() => api.emit('vm.statsBatch', { samples: [4, 5].flatMap((t) => [alpha, unknown].map((vm) => ({ host: 'local', id: vm.id, t, cpuPercent: t * 10, rssBytes: t << 20 }))) }));
    // applied on the next animation frame (or, with the page hidden, a timer)
    await act(() => vi.waitFor(() => expect(getStats(alpha.id)?.cpu).toEqual([1, 2, 3, 40, 50])));
    expect(getStats(alpha.id)?.t).toEqual([1, 2, 3, 4, 5]);
    expect(getStats(unknown.id)).toBeUndefined();
  });

  it('shows a lost connection and refetches + re-subscribes when it comes back', async () => {
    await flush();
    const alpha = list[0]!;
    const release = acquire('console', alpha.id);
    await flush();
    render(<ConnectionBanner />);
    expect(screen.queryByRole('alert')).toBeNull();

    act(() => api.setStatus({ kind: 'offline', reason: 'the connection to the engine was lost', retryAt: Date.now() + 4000, attempt: 1 }));
    expect(screen.getByRole("alert").textContent).toMatch(/Connection lost.*Retrying in [1-4]s/);
    expect(screen.getByRole('button', { name: 'Retry now' })).toBeTruthy();

    // the engine changed while we were away: gamma appeared, beta went
    list = [alpha, makeVm('gamma')];
    const before = api.calls.length;
    act(() => api.setStatus({ kind: 'online', generation: 2 }));
    await flush();
    const again = api.calls.slice(before).map((c) => c.method);
    expect(again).toEqual(expect.arrayContaining(['engine.info', 'vm.list', 'console.subscribe']));
    expect(Object.values(useStore.getState().vms.byId).map((v) => v.name).sort()).toEqual(['alpha', 'gamma']);
    expect(screen.queryByRole('alert')).toBeNull();
    release();
  });
});

describe('keyboard shortcuts', () => {
  beforeEach(() => {
    resetStore();
    setApi(new FakeTransport(() => ({ ok: true })));
  });
  const key = (k: string): boolean => handleShortcut(new KeyboardEvent('keydown', { key: k }));

  it('n opens New VM, ? the help, / asks the filter to focus, Esc closes', () => {
    expect(key('n')).toBe(true);
    expect(useStore.getState().ui.dialog).toEqual({ kind: 'create' });
    expect(key('Escape')).toBe(true);
    expect(useStore.getState().ui.dialog).toBeNull();
    expect(key('?')).toBe(true);
    expect(useStore.getState().ui.dialog).toEqual({ kind: 'help' });
    key('Escape');
    const seq = useStore.getState().ui.focusFilterSeq;
    expect(key('/')).toBe(true);
    expect(useStore.getState().ui.focusFilterSeq).toBe(seq + 1);
  });

  it('s starts a stopped focused VM and stops a running one; never while typing', () => {
    const api = new FakeTransport(() => new Promise(() => {}));
    setApi(api);
    const off = makeVm('off', { state: 'stopped' });
    const on = makeVm('on', { state: 'running' });
    useStore.setState((s) => ({ vms: { ...s.vms, byId: { [off.id]: off, [on.id]: on } }, ui: { ...s.ui, focusedId: off.id } }));
    expect(key('s')).toBe(true);
    expect(api.calls.at(-1)).toMatchObject({ method: 'vm.start', req: { id: off.id } });
    useStore.setState((s) => ({ ui: { ...s.ui, focusedId: on.id } }));
    key('s');
    expect(api.calls.at(-1)).toMatchObject({ method: 'vm.stop', req: { id: on.id } });
    const input = document.createElement('input');
    document.body.append(input);
    input.focus();
    const n = api.calls.length;
    expect(key('s')).toBe(false);
    expect(key('n')).toBe(false);
    expect(api.calls.length).toBe(n);
    input.remove();
    fireEvent.keyDown(document.body, { key: 'x' });
  });
});
