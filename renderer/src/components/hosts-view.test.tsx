// @vitest-environment jsdom
// VMs on more than one host: each tile names its host and the toolbar filters by host; with
// one host neither appears. A broken VM's tile says what is wrong.
import { act, cleanup, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostInfo } from '../../../shared/contract';
import { setApi } from '../api/current';
import { applyVm } from '../store/events';
import { resetStreams } from '../store/streams';
import { resetStore, useStore } from '../store/store';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { TileGrid } from './tile-grid';
import { Toolbar } from './toolbar';

const LOCAL: HostInfo = { id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: 1 };
const LAB: HostInfo = { id: 'lab', name: 'Lab server', kind: 'libvirt', state: 'connected', reason: null, vmCount: 1 };

describe('hosts in the tiles view', () => {
  beforeEach(() => {
    resetStore();
    resetStreams();
    setApi(new FakeTransport((m) => (m === 'console.subscribe' ? { scrollback: '' } : { ok: true })));
    applyVm(makeVm('web', { id: 'web000000001' }));
    applyVm(makeVm('db', { id: 'db0000000001', host: 'lab' }));
    useStore.setState((s) => ({ vms: { ...s.vms, loaded: true } }));
  });
  afterEach(() => cleanup());

  const view = () =>
    render(
      <>
        <Toolbar />
        <TileGrid />
      </>,
    );

  it('with one host: no host names and no host filter', () => {
    useStore.setState((s) => ({ vms: { ...s.vms, hosts: [LOCAL] } }));
    view();
    expect(screen.queryByLabelText('Show VMs on host')).toBeNull();
    expect(screen.queryByText('This computer')).toBeNull();
  });

  it('with two hosts: each tile names its host, and the filter shows one host’s VMs', () => {
    useStore.setState((s) => ({ vms: { ...s.vms, hosts: [LOCAL, LAB] } }));
    view();
    expect(within(screen.getByRole('region', { name: 'VM web' })).getByLabelText('web is on host This computer')).toBeTruthy();
    expect(within(screen.getByRole('region', { name: 'VM db' })).getByLabelText('db is on host Lab server')).toBeTruthy();
    const filter = screen.getByLabelText<HTMLSelectElement>('Show VMs on host');
    expect([...filter.options].map((o) => o.text)).toEqual(['All hosts', 'This computer', 'Lab server']);
    act(() => {
      filter.value = 'lab';
      filter.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(screen.queryByRole('region', { name: 'VM web' })).toBeNull();
    expect(screen.getByRole('region', { name: 'VM db' })).toBeTruthy();
  });

  it('a broken VM’s tile says what is wrong', () => {
    applyVm(makeVm('old', { id: 'old000000001', broken: { reason: '/h/vms/old000000001/vm.json is unreadable: bad JSON. Repair the file, or delete the VM', file: '/h/vms/old000000001/vm.json' } }));
    view();
    expect(within(screen.getByRole('region', { name: 'VM old' })).getByRole('alert').textContent).toMatch(/Broken: .*Repair the file, or delete the VM/);
  });
});
