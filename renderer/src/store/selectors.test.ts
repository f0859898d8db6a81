// Filter and sort of the tiles view.
import { describe, expect, it } from 'vitest';
import { makeVm } from '../test-support/fake-transport';
import { selectVisibleIds } from './selectors';
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
