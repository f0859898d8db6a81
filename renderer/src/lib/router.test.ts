// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeVm, openVm, setTab } from '../store/actions';
import { resetStore, useStore } from '../store/store';
import { defaultTabFor, formatRoute, historyStep, parseRoute, startRouter } from './router';
import type { VmInfo } from '../../../shared/contract';

const ID = 'abcdef0123';

describe('routes', () => {
  it('round-trip a VM and tab, and the tiles as no fragment', () => {
    expect(formatRoute(ID, 'display')).toBe(`#/vm/${ID}/display`);
    expect(parseRoute(`#/vm/${ID}/display`)).toEqual({ vmId: ID, tab: 'display' });
    expect(formatRoute(null, 'console')).toBe('');
    expect(parseRoute('')).toEqual({ vmId: null, tab: null });
  });

  it('take a VM without a (known) tab as its default tab, and refuse malformed ids', () => {
    expect(parseRoute(`#/vm/${ID}`)).toEqual({ vmId: ID, tab: null });
    expect(parseRoute(`#/vm/${ID}/nope`)).toEqual({ vmId: ID, tab: null });
    expect(parseRoute('#/vm/..%2F..%2Fetc/console').vmId).toBeNull();
    expect(parseRoute('#/vm/<b>x</b>/console').vmId).toBeNull();
    expect(parseRoute('#token=abc').vmId).toBeNull();
  });

  it('open a graphical VM on its display and a headless one on its console', () => {
    expect(defaultTabFor({ hasDisplay: true })).toBe('display');
    expect(defaultTabFor({ hasDisplay: false })).toBe('console');
    expect(defaultTabFor(undefined)).toBe('console');
  });

  it('push on opening and closing a VM, replace on a tab switch or a VM that vanished', () => {
    const st = (openVmId: string | null, tab: 'console' | 'display', byId: Record<string, unknown> = { [ID]: {} }) =>
      ({ ui: { openVmId, tab }, vms: { loaded: true, byId } }) as never;
    expect(historyStep('', st(ID, 'console'))).toEqual({ mode: 'push', hash: `#/vm/${ID}/console` });
    expect(historyStep(`#/vm/${ID}/console`, st(ID, 'display'))).toEqual({ mode: 'replace', hash: `#/vm/${ID}/display` });
    expect(historyStep(`#/vm/${ID}/display`, st(null, 'display'))).toEqual({ mode: 'push', hash: '' });
    expect(historyStep(`#/vm/${ID}/display`, st(null, 'display', {}))).toEqual({ mode: 'replace', hash: '' });
    expect(historyStep(`#/vm/${ID}/display`, st(ID, 'display'))).toBeNull();
  });
});

describe('startRouter', () => {
  let stop: () => void;
  const vm = { id: ID, name: 'g', hasDisplay: true } as VmInfo;
  beforeEach(() => {
    resetStore();
    window.history.replaceState(null, '', '/');
  });
  afterEach(() => stop?.());

  it('opens what the URL names, and writes what the user opens into history', () => {
    window.history.replaceState(null, '', `/#/vm/${ID}/logs`);
    stop = startRouter();
    expect(useStore.getState().ui).toMatchObject({ openVmId: ID, tab: 'logs' });
    const before = window.history.length;
    closeVm();
    expect(window.location.hash).toBe('');
    expect(window.history.length).toBe(before + 1);
    useStore.setState((s) => ({ vms: { ...s.vms, byId: { [ID]: vm }, loaded: true } }));
    openVm(ID);
    expect(window.location.hash).toBe(`#/vm/${ID}/display`);
    setTab('exec');
    expect(window.location.hash).toBe(`#/vm/${ID}/exec`);
    expect(window.history.length).toBe(before + 2);
  });

  it('follows Back and Forward (popstate) into the store', () => {
    stop = startRouter();
    window.history.pushState(null, '', `/#/vm/${ID}/settings`);
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(useStore.getState().ui).toMatchObject({ openVmId: ID, tab: 'settings' });
    window.history.pushState(null, '', '/');
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(useStore.getState().ui.openVmId).toBeNull();
  });
});
