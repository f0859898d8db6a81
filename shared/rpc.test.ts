// The contract over an in-memory transport pair: every method round-trips, errors keep
// their codes, unknown methods and bad payloads are refused, events reach the right client.
import { describe, expect, it } from 'vitest';
import { EVENT_NAMES, METHOD_NAMES, type CallContext, type ContractHandler, type EventName, type EventPayloads, type Method, type MethodRequest } from './contract';
import { ERROR_CODES, FlotillaError, fieldErrorsOf } from './errors';
import { ChannelClient, channelPair, serveChannel } from './rpc';

const ID = 'abc123def456';

/** One valid request per method; the mapped type makes a missing method a compile error. */
const SAMPLES: { [M in Method]: MethodRequest<M> } = {
  'engine.info': {},
  'vm.list': {},
  'host.list': {},
  'host.add': { name: 'lab', uri: 'qemu:///system' },
  'host.remove': { name: 'lab' },
  'host.volumes': { host: 'lab', kind: 'iso' },
  'host.offeredKey': { name: 'lab' },
  'host.trustKey': { name: 'lab', fingerprint: `SHA256:${'A'.repeat(43)}` },
  'vm.get': { id: ID },
  'vm.find': { nameOrId: 'web' },
  'vm.create': { config: { name: 'web', source: { kind: 'default' } } },
  'vm.update': { id: ID, patch: { cpus: 2 } },
  'vm.delete': { id: ID },
  'vm.start': { id: ID },
  'vm.stop': { id: ID, force: true },
  'vm.restart': { id: ID },
  'vm.pause': { id: ID },
  'vm.resume': { id: ID },
  'vm.exec': { id: ID, command: ['uname', '-a'] },
  'vm.readFile': { id: ID, path: '/etc/hostname' },
  'vm.writeFile': { id: ID, path: '/tmp/x', dataBase64: 'aGk=' },
  'vm.logs': { id: ID },
  'vm.ports': {},
  'vm.checkPort': { proto: 'tcp', hostPort: 8080 },
  'vm.sshInfo': { id: 'abcdef123456' },
  'console.subscribe': { id: ID },
  'console.unsubscribe': { id: ID },
  'console.input': { id: ID, data: 'ls\n' },
  'console.resize': { id: ID, cols: 120, rows: 40 },
  'thumbnail.subscribe': { id: ID },
  'thumbnail.unsubscribe': { id: ID },
  'stats.subscribe': {},
  'stats.unsubscribe': {},
  'display.open': { id: ID },
  'host.pickFile': { kind: 'iso' },
  'path.inspect': { path: '/tmp/a.iso' },
  'image.buildDefault': {},
  'vm.export': { id: ID, path: '/tmp/web.flotilla' },
  'vm.import': { path: '/tmp/web.flotilla', name: 'web2' },
  'vm.clone': { id: ID, name: 'web2', linked: true },
  'vm.cancelJob': { id: ID },
  'media.insert': { id: ID, path: '/isos/debian.iso' },
  'media.eject': { id: ID },
  'snapshot.list': { id: ID },
  'snapshot.create': { id: ID, name: 'before-upgrade', diskOnly: true },
  'snapshot.revert': { id: ID, name: 'before-upgrade' },
  'snapshot.delete': { id: ID, name: 'before-upgrade' },
  'disk.list': { id: ID },
  'disk.resize': { id: ID, sizeGiB: 20 },
  'disk.add': { id: ID, sizeGiB: 4 },
  'disk.remove': { id: ID, disk: 'extra-1.qcow2' },
  'share.list': { id: ID },
  'share.add': { id: ID, hostPath: '/home/me/src', tag: 'src', readOnly: true },
  'share.remove': { id: ID, tag: 'src' },
  'engine.stopAll': {},
  'stats.history': {},
  'vm.making': {},
  'fs.list': { path: '/home' },
};

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

/** Echoes what it was asked, throws on request, and records client lifetimes. */
function echoHandler() {
  const listeners = new Set<Listener>();
  const seen: { method: string; params: unknown; ctx: CallContext }[] = [];
  const closed: string[] = [];
  let throwNext: unknown = null;
  const handler: ContractHandler = {
    async handle(method, params, ctx) {
      seen.push({ method, params, ctx });
      ctx.onClose(() => closed.push(ctx.clientId));
      if (throwNext) {
        const e = throwNext;
        throwNext = null;
        throw e;
      }
      return { echo: method, params } as never;
    },
    onEvent(l) {
      listeners.add(l as Listener);
      return () => listeners.delete(l as Listener);
    },
  };
  return {
    handler,
    seen,
    closed,
    listeners,
    throwOnce: (e: unknown) => void (throwNext = e),
    broadcast: <E extends EventName>(e: E, p: EventPayloads[E]) => listeners.forEach((l) => l(e, p)),
  };
}

function connect(h: ContractHandler) {
  const [server, client] = channelPair();
  const detach = serveChannel(h, server, { clientId: 'c-test' });
  return { api: new ChannelClient(client), server, client, detach };
}

describe('contract over an in-memory pair', () => {
  it('has a sample for every method', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual([...METHOD_NAMES].sort());
  });

  it.each(METHOD_NAMES)('%s round-trips with validated, defaulted params', async (method) => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    const res = (await api.invoke(method, SAMPLES[method] as never)) as unknown as { echo: string; params: Record<string, unknown> };
    expect(res.echo).toBe(method);
    expect(res.params).toMatchObject(SAMPLES[method] as object);
    expect(h.seen[0]!.ctx.clientId).toBe('c-test');
  });

  it('fills schema defaults before the handler sees the request', async () => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    await api.invoke('vm.start', { id: ID });
    await api.invoke('engine.stopAll', {});
    expect(h.seen.map((s) => s.params)).toEqual([
      { id: ID, waitAgent: false },
      { deadlineMs: 30_000, includeKeepRunning: false },
    ]);
  });

  it.each(ERROR_CODES)('error code %s crosses intact', async (code) => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    h.throwOnce(FlotillaError.fromWire({ code, message: `boom ${code}`, details: { hint: code } }));
    const err = await api.invoke('vm.get', { id: ID }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlotillaError);
    expect(err).toMatchObject({ code, message: `boom ${code}`, details: { hint: code } });
  });

  it('turns a plain thrown Error into INTERNAL with its message', async () => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    h.throwOnce(new Error('disk on fire'));
    await expect(api.invoke('vm.list', {})).rejects.toMatchObject({ code: 'INTERNAL', message: 'disk on fire' });
  });

  it('rejects unknown methods without calling the handler', async () => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    for (const m of ['vm.format', '__proto__', 'constructor', 'toString', '']) {
      await expect(api.invoke(m as Method, {} as never)).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    }
    expect(h.seen).toHaveLength(0);
  });

  it.each([
    ['vm.get', { id: '../../etc' }, 'id'],
    ['vm.get', {}, 'id'],
    ['vm.start', { id: ID, extra: 1 }, ''],
    ['vm.create', { config: { name: 'Bad Name!', source: { kind: 'default' } } }, 'config.name'],
    ['vm.create', { config: { name: 'x', source: { kind: 'iso', path: 'file:///x.iso' } } }, 'config.source.path'],
    ['path.inspect', { path: 'relative/path' }, 'path'],
    ['vm.exec', { id: ID, command: [] }, 'command'],
    ['vm.exec', { id: ID, command: ['cat'], stdinBase64: 'not base64!' }, 'stdinBase64'],
    ['vm.writeFile', { id: ID, path: '/root/x', dataBase64: 'not base64!' }, 'dataBase64'],
    ['vm.readFile', { id: ID, path: '/root/x', offset: 10 }, 'length'],
    ['vm.readFile', { id: ID, path: '/root/x', offset: 0, length: 12 * 1024 * 1024 }, 'length'],
    ['vm.checkPort', { proto: 'tcp', hostPort: 70000 }, 'hostPort'],
    ['engine.info', { __proto__: { polluted: true }, x: 1 }, ''],
  ] as const)('%s with %j → INVALID_ARGUMENT naming %j', async (method, params, field) => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    const err = (await api.invoke(method, params as never).catch((e: unknown) => e)) as FlotillaError;
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(fieldErrorsOf(err).map((f) => f.path)).toContain(field);
    // plain words: no schema path, no zod wording
    for (const f of fieldErrorsOf(err)) expect(f.message).not.toMatch(/Invalid input|expected \w+, received|config\.|NaN/);
    expect(h.seen).toHaveLength(0);
  });

  it('survives garbage frames and keeps answering', async () => {
    const h = echoHandler();
    const [server, client] = channelPair();
    const bad: string[] = [];
    serveChannel(h.handler, server, { onBadFrame: (w) => bad.push(w) });
    const api = new ChannelClient(client);
    for (const junk of ['not json', '[]', '{"t":"req","id":"x"}', '{"t":"res","id":1}', 'null']) client.send(junk);
    await expect(api.invoke('vm.list', {})).resolves.toMatchObject({ echo: 'vm.list' });
    expect(bad.length).toBeGreaterThanOrEqual(3);
  });

  it('delivers broadcast events to every client and per-client events to one', async () => {
    const h = echoHandler();
    const a = connect(h.handler);
    const b = connect(h.handler);
    const got: Record<string, unknown[]> = { a: [], b: [] };
    for (const e of EVENT_NAMES) {
      a.api.on(e, (p) => got.a!.push([e, p]));
      b.api.on(e, (p) => got.b!.push([e, p]));
    }
    await a.api.invoke('console.subscribe', { id: ID });
    h.broadcast('vm.removed', { host: 'local', id: ID });
    h.seen[0]!.ctx.emit('console.data', { host: 'local', id: ID, data: 'login: ' });
    await new Promise((r) => setTimeout(r, 10));
    expect(got.a).toEqual([
      ['vm.removed', { host: 'local', id: ID }],
      ['console.data', { host: 'local', id: ID, data: 'login: ' }],
    ]);
    expect(got.b).toEqual([['vm.removed', { host: 'local', id: ID }]]);
  });

  it('unsubscribing stops delivery', async () => {
    const h = echoHandler();
    const { api } = connect(h.handler);
    const got: unknown[] = [];
    const off = api.on('vm.removed', (p) => got.push(p));
    off();
    h.broadcast('vm.removed', { host: 'local', id: ID });
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
  });

  it('closing drops the client: its subscriptions are released and pending calls fail DISCONNECTED', async () => {
    const h = echoHandler();
    let release: () => void = () => {};
    const slow: ContractHandler = {
      ...h.handler,
      handle: async (m, p, ctx) => {
        ctx.onClose(() => h.closed.push(ctx.clientId));
        await new Promise<void>((r) => (release = r));
        return h.handler.handle(m, p, ctx);
      },
    };
    const { api, client } = connect(slow);
    const pending = api.invoke('vm.list', {});
    await new Promise((r) => setTimeout(r, 5));
    expect(h.listeners.size).toBe(1);
    client.close();
    await expect(pending).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(h.closed).toContain('c-test');
    expect(h.listeners.size).toBe(0);
    release();
    await expect(api.invoke('vm.list', {})).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });
});
