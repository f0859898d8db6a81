// Filter and sort of the tiles view.
import { describe, expect, it } from 'vitest';
import { makeVm } from '../test-support/fake-transport';
import { selectFiltered, selectStopAllIds, selectStopAllNames, selectVisibleIds } from './selectors';
import { initialState, type SortKey, type StoreState } from './store';

function state(filter: string, sort: SortKey): StoreState {
  const s = initialState();
  const vms = [
    makeVm('web-10', { state: 'stopped' }),
    makeVm('web-2', { state: 'running' }),
    makeVm('db', { state: 'crashed' }),
    makeVm('api', { state: 'paused' }),
  ];
  s.vms.byId = Object.fromEntries(vms.map((v) => [v.id, v]));
  s.ui.filter = filter;
  s.ui.sort = sort;
  return s;
}
const names = (s: StoreState): string[] => selectVisibleIds(s).map((id) => s.vms.byId[id]!.name);

describe('tiles filter and sort', () => {
  it('sorts names naturally (web-2 before web-10)', () => {
    expect(names(state('', 'name'))).toEqual(['api', 'db', 'web-2', 'web-10']);
  });
  it('sorts by state, running first, then by name', () => {
    expect(names(state('', 'state'))).toEqual(['web-2', 'api', 'db', 'web-10']);
  });
  it('sorts newest first', () => {
    expect(names(state('', 'created'))).toEqual(['api', 'db', 'web-2', 'web-10']);
  });
  it('filters by name, case-insensitively', () => {
    expect(names(state('  WEB ', 'name'))).toEqual(['web-2', 'web-10']);
    expect(names(state('nope', 'name'))).toEqual([]);
  });
});

describe('Stop all', () => {
  const host = (id: string, name: string) => ({ id, name, kind: id === 'local' ? 'local' : 'libvirt', state: 'connected' as const, reason: null, vmCount: 0 });
  function fleet(): StoreState {
    const s = state('', 'name');
    const ci = { ...makeVm('ci', { state: 'running' }), host: 'lab' };
    s.vms.byId[ci.id] = ci;
    return s;
  }

  it('stops every VM that can stop, named by host when there are several', () => {
    const s = fleet();
    expect(selectStopAllIds(s).map((id) => s.vms.byId[id]!.name).sort()).toEqual(['api', 'ci', 'web-2']);
    expect(selectStopAllNames(s)).toBe('web-2, api, ci');
    s.vms.hosts = [host('local', 'This computer'), host('lab', 'lab')];
    expect(selectStopAllNames(s)).toBe('web-2, api (This computer); ci (lab)');
  });

  it('stops only the VMs shown while a filter is on', () => {
    const s = fleet();
    s.vms.hosts = [host('local', 'This computer'), host('lab', 'lab')];
    s.ui.hostFilter = 'lab';
    expect(selectFiltered(s)).toBe(true);
    expect(selectStopAllNames(s)).toBe('ci (lab)');
    s.ui.hostFilter = null;
    s.ui.filter = 'web';
    expect(selectStopAllIds(s).map((id) => s.vms.byId[id]!.name)).toEqual(['web-2']);
  });

  it('leaves out a VM whose action is under way', () => {
    const s = fleet();
    const web2 = Object.values(s.vms.byId).find((v) => v.name === 'web-2')!;
    s.vms.ops[web2.id] = { pending: 'Stopping…', error: null, warnings: [] };
    expect(selectStopAllIds(s).map((id) => s.vms.byId[id]!.name).sort()).toEqual(['api', 'ci']);
  });
});
