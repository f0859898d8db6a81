// The host seam with a second, in-memory host registered beside `local`: routing by
// {host, id}, host.list and host.changed, events and console streams carrying the host,
// UNSUPPORTED for what a host lacks, and the handler table covering the whole contract.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { METHOD_NAMES, type CallContext, type EventName, type Method, type MethodRequest, type MethodResult } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { dispatch } from '../../../shared/rpc';
import { Engine } from '../engine';
import { HomeLayout } from '../paths';
import { makeHandlers } from '../router';
import { FakeHost } from '../testing/fake-host';

describe('the host seam', () => {
  let home: string;
  let engine: Engine;
  let fake: FakeHost;
  let events: [EventName, unknown][];
  let closers: (() => void)[];
  let ctx: CallContext;
  const call = async <M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> => {
    const env = await dispatch(engine, method, req, ctx);
    if (!env.ok) throw FlotillaError.fromWire(env.error);
    return env.value as MethodResult<M>;
  };

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'flt-seam-'));
    engine = new Engine({ layout: new HomeLayout(home), accel: 'tcg' });
    fake = new FakeHost('lab', 'Lab server');
    engine.addHost(fake);
    events = [];
    closers = [];
    engine.onEvent((e, p) => events.push([e, p]));
    ctx = { clientId: 'c1', emit: (e, p) => events.push([e, p]), onClose: (cb) => void closers.push(cb) };
  });

  afterEach(async () => {
    await engine.close();
    await rm(home, { recursive: true, force: true });
  });

  it('lists every host with its state and VM count', async () => {
    expect(await call('host.list', {})).toEqual([
      { id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: 0 },
      { id: 'lab', name: 'Lab server', kind: 'fake', state: 'connected', reason: null, vmCount: 0 },
    ]);
    fake.setState('failed', 'ssh: connection refused');
    expect(events).toContainEqual(['host.changed', expect.objectContaining({ id: 'lab', state: 'failed', reason: 'ssh: connection refused' })]);
  });

  it('creates, finds, starts and deletes a VM on the host a request names', async () => {
    const vm = await call('vm.create', { host: 'lab', config: { name: 'remote1', source: { kind: 'default' } } });
    expect(vm).toMatchObject({ host: 'lab', name: 'remote1', caps: { lifecycle: true, console: true, display: false, exec: false } });
    expect((await call('vm.list', {})).map((v) => [v.host, v.name])).toEqual([['lab', 'remote1']]);
    expect(await call('vm.find', { nameOrId: 'remote1' })).toMatchObject({ host: 'lab', id: vm.id });
    expect((await call('host.list', {})).find((h) => h.id === 'lab')?.vmCount).toBe(1);

    // without a host the request means `local`, which has no such VM
    await expect(call('vm.start', { id: vm.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await call('vm.start', { host: 'lab', id: vm.id })).toMatchObject({ host: 'lab', state: 'running' });
    expect(events).toContainEqual(['vm.changed', expect.objectContaining({ host: 'lab', id: vm.id, state: 'running' })]);

    await call('vm.delete', { host: 'lab', id: vm.id });
    expect(events).toContainEqual(['vm.removed', { host: 'lab', id: vm.id }]);
    expect(await call('vm.list', {})).toEqual([]);
  });

  it('says UNSUPPORTED for what a host cannot do, and NOT_FOUND for a host it does not know', async () => {
    const vm = await call('vm.create', { host: 'lab', config: { name: 'remote2', source: { kind: 'default' } } });
    await expect(call('display.open', { host: 'lab', id: vm.id })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: 'the display is not available on this host (lab)',
      details: { host: 'lab', what: 'the display' },
    });
    await expect(call('vm.exec', { host: 'lab', id: vm.id, command: ['true'] })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(call('vm.ports', { host: 'lab' })).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await expect(call('vm.get', { host: 'nowhere', id: vm.id })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no host with id nowhere' });
    await expect(call('vm.get', { host: 'Bad Host!', id: vm.id })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('streams a remote VM console to its subscriber, with the host, until the client goes away', async () => {
    const vm = await call('vm.create', { host: 'lab', config: { name: 'remote3', source: { kind: 'default' } } });
    expect(await call('console.subscribe', { host: 'lab', id: vm.id })).toEqual({ scrollback: 'fake scrollback\n' });
    fake.consoleOut(vm.id, 'hello');
    expect(events).toContainEqual(['console.data', { host: 'lab', id: vm.id, data: 'hello' }]);
    expect(fake.consoleSubscribers(vm.id)).toBe(1);
    for (const c of closers.splice(0)) c();
    expect(fake.consoleSubscribers(vm.id)).toBe(0);
  });

  it('removing a host announces its VMs as gone, then the host', async () => {
    const vm = await call('vm.create', { host: 'lab', config: { name: 'remote4', source: { kind: 'default' } } });
    await engine.removeHost('lab');
    expect(events).toContainEqual(['vm.removed', { host: 'lab', id: vm.id }]);
    const names = events.map(([e]) => e);
    expect(names.lastIndexOf('host.removed')).toBeGreaterThan(names.lastIndexOf('vm.removed'));
    expect(events).toContainEqual(['host.removed', { id: 'lab' }]);
    expect(await call('host.list', {})).toHaveLength(1);
    await expect(engine.removeHost('local')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('has a handler for every contract method (the table is also checked by the compiler)', () => {
    const table = makeHandlers({} as never);
    expect(Object.keys(table).sort()).toEqual([...METHOD_NAMES].sort());
  });
});
