import { afterEach, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../../shared/contract';
import { useStore } from './store';
import { vmRef } from './vm-ref';

const initial = useStore.getState();
afterEach(() => useStore.setState(initial, true));

describe('vmRef', () => {
  it('names the host of a VM on another host, and only the id for local or unknown VMs', () => {
    useStore.setState((s) => ({
      vms: { ...s.vms, byId: { a1b2c3d4: { id: 'a1b2c3d4', host: 'lab' } as VmInfo, e5f6a7b8: { id: 'e5f6a7b8', host: 'local' } as VmInfo } },
    }));
    expect(vmRef('a1b2c3d4')).toEqual({ host: 'lab', id: 'a1b2c3d4' });
    expect(vmRef('e5f6a7b8')).toEqual({ id: 'e5f6a7b8' });
    expect(vmRef('ffffffff')).toEqual({ id: 'ffffffff' });
  });
});
