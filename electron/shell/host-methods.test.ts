import { describe, expect, it } from 'vitest';
import { dispatch } from '../../shared/rpc';
import { FakeHandler } from '../headless/testing/fake-handler';
import { fileFiltersFor, withHostMethods } from './host-methods';

const ctx = { clientId: 't', emit: () => {}, onClose: () => {} };

describe('host methods', () => {
  it('answers host.pickFile in the shell, validated, and forwards everything else', async () => {
    const asked: unknown[] = [];
    const h = withHostMethods(new FakeHandler(), { pickFile: async (p) => (asked.push(p), '/isos/debian.iso') });
    expect(await dispatch(h, 'host.pickFile', { kind: 'iso' }, ctx)).toEqual({ ok: true, value: { path: '/isos/debian.iso' } });
    expect(asked).toEqual([{ kind: 'iso', title: 'Choose a file' }]);
    expect(await dispatch(h, 'host.pickFile', { kind: 'exe' }, ctx)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await dispatch(h, 'vm.list', {}, ctx)).toMatchObject({ ok: true, value: [{ name: 'alpha' }] });
  });
  it('filters by kind and always leaves "All files" for extension-less kernels', () => {
    expect(fileFiltersFor('iso')[0]!.extensions).toEqual(['iso']);
    expect(fileFiltersFor('disk')[0]!.extensions).toContain('qcow2');
    for (const k of ['iso', 'disk', 'kernel', 'initrd'] as const) expect(fileFiltersFor(k).some((f) => f.extensions.includes('*'))).toBe(true);
  });
});
