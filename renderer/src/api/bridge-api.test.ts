// The preload-bridge Api: envelopes become values or typed FlotillaErrors, events pass
// through with unsubscribe, and a dead main process reads as DISCONNECTED.
import { describe, expect, it } from 'vitest';
import { FlotillaError } from '../../../shared/errors';
import type { FlotillaBridge } from './bridge';
import { BridgeApi } from './bridge-api';

function bridge(answer: (method: string, req: unknown) => unknown): FlotillaBridge & { fire(e: string, p: unknown): void } {
  const cbs = new Map<string, Set<(p: unknown) => void>>();
  return {
    shell: 'electron',
    invoke: async (m, r) => answer(m, r) as never,
    on: (e, cb) => {
      let s = cbs.get(e);
      if (!s) cbs.set(e, (s = new Set()));
      s.add(cb);
      return () => s.delete(cb);
    },
    fire: (e, p) => cbs.get(e)?.forEach((cb) => cb(p)),
  };
}

describe('BridgeApi', () => {
  it('returns ok values and rebuilds errors with code and details', async () => {
    const api = new BridgeApi(
      bridge((m) =>
        m === 'vm.list' ? { ok: true, value: [] } : { ok: false, error: { code: 'NAME_TAKEN', message: 'a VM named x already exists', details: { field: 'name' } } },
      ),
    );
    expect(await api.invoke('vm.list', {})).toEqual([]);
    const err = await api.invoke('vm.create', { config: { name: 'x', source: { kind: 'default' } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlotillaError);
    expect(err).toMatchObject({ code: 'NAME_TAKEN', message: 'a VM named x already exists', details: { field: 'name' } });
  });

  it('treats a malformed envelope as INTERNAL and a thrown invoke as DISCONNECTED', async () => {
    const bad = new BridgeApi(bridge(() => ({ nonsense: true })));
    await expect(bad.invoke('vm.list', {})).rejects.toMatchObject({ code: 'INTERNAL' });
    const dead = new BridgeApi(
      bridge(() => {
        throw new Error('object has been destroyed');
      }),
    );
    await expect(dead.invoke('vm.list', {})).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('passes events through and unsubscribes', () => {
    const b = bridge(() => ({ ok: true, value: null }));
    const api = new BridgeApi(b);
    const got: unknown[] = [];
    const off = api.on('vm.removed', (p) => got.push(p));
    b.fire('vm.removed', { id: 'a' });
    off();
    b.fire('vm.removed', { id: 'b' });
    expect(got).toEqual([{ id: 'a' }]);
  });
});
