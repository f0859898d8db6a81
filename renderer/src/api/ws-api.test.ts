// @vitest-environment jsdom
// The WebSocket Api against a real WebSocket server speaking shared/rpc: token as a
// subprotocol, calls round-trip with typed errors, events arrive, a lost connection is
// reported and retried, and the token leaves the address bar.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import type { ContractHandler, EventName, EventPayloads } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { serveChannel, type TextChannel } from '../../../shared/rpc';
import { takeToken } from './token';
import type { ConnectionStatus } from './transport';
import { WsApi } from './ws-api';

const TOKEN = 'ab'.repeat(32);

function serverChannel(ws: WsSocket): TextChannel {
  return {
    send: (t) => ws.send(t),
    onMessage: (cb) => ws.on('message', (d) => cb(String(d))),
    onClose: (cb) => ws.on('close', () => cb()),
    close: () => ws.close(),
  };
}

function fakeHandler(): ContractHandler & { fire<E extends EventName>(e: E, p: EventPayloads[E]): void } {
  const listeners = new Set<(e: EventName, p: unknown) => void>();
  return {
    async handle(method, params) {
      if (method === 'vm.list') return [] as never;
      if (method === 'vm.get') throw new FlotillaError('NOT_FOUND', `no VM ${(params as { id: string }).id}`);
      return { ok: true } as never;
    },
    onEvent(l) {
      const fn = l as (e: EventName, p: unknown) => void;
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    fire(e, p) {
      for (const l of listeners) l(e, p);
    },
  };
}

async function startServer(handler: ContractHandler, port = 0): Promise<{ wss: WebSocketServer; port: number; protocols: string[][] }> {
  const protocols: string[][] = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    path: '/api',
    handleProtocols: (set) => (set.has('flotilla.v1') ? 'flotilla.v1' : false),
  });
  wss.on('connection', (ws, req) => {
    protocols.push(String(req.headers['sec-websocket-protocol']).split(/,\s*/));
    serveChannel(handler, serverChannel(ws));
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  return { wss, port: (wss.address() as { port: number }).port, protocols };
}

function waitFor(api: WsApi, kind: ConnectionStatus['kind']): Promise<ConnectionStatus> {
  return new Promise((resolve) => {
    const off = api.onStatus((s) => {
      if (s.kind === kind) {
        queueMicrotask(() => off());
        resolve(s);
      }
    });
  });
}

describe('WsApi', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('offers the token as a subprotocol, round-trips calls, rebuilds typed errors and delivers events', async () => {
    const handler = fakeHandler();
    const { wss, port, protocols } = await startServer(handler);
    cleanups.push(() => wss.close());
    const api = new WsApi({ url: `ws://127.0.0.1:${port}/api`, token: TOKEN });
    cleanups.push(() => api.close());
    await waitFor(api, 'online');
    expect(protocols[0]).toEqual(['flotilla.v1', `flotilla-token.${TOKEN}`]);
    expect(await api.invoke('vm.list', {})).toEqual([]);
    const err = await api.invoke('vm.get', { id: 'abcdefgh1234' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlotillaError);
    expect((err as FlotillaError).code).toBe('NOT_FOUND');
    const got = new Promise((r) => api.on('vm.removed', r));
    handler.fire('vm.removed', { host: 'local', id: 'abcdefgh1234' });
    expect(await got).toEqual({ host: 'local', id: 'abcdefgh1234' });
  });

  it('reports a lost connection, retries with backoff and comes back with a new generation', async () => {
    const handler = fakeHandler();
    let srv = await startServer(handler);
    const port = srv.port;
    const api = new WsApi({ url: `ws://127.0.0.1:${port}/api`, token: TOKEN, backoffMs: [50, 100] });
    cleanups.push(() => api.close());
    const first = await waitFor(api, 'online');
    const offline = waitFor(api, 'offline');
    for (const c of srv.wss.clients) c.terminate();
    await new Promise<void>((r) => srv.wss.close(() => r()));
    const off = await offline;
    expect(off.kind === 'offline' && off.reason).toMatch(/lost|reach/);
    await expect(api.invoke('vm.list', {})).rejects.toMatchObject({ code: 'DISCONNECTED' });
    const online = waitFor(api, 'online');
    srv = await startServer(handler, port);
    cleanups.push(() => srv.wss.close());
    const again = await online;
    expect(again.kind === 'online' && first.kind === 'online' && again.generation).toBeGreaterThan(first.kind === 'online' ? first.generation : 0);
    expect(await api.invoke('vm.list', {})).toEqual([]);
  });
});

describe('takeToken', () => {
  it('moves the token from the hash into sessionStorage and out of the URL', () => {
    history.replaceState(null, '', `/some/page?x=1#token=${TOKEN}`);
    sessionStorage.clear();
    expect(takeToken()).toBe(TOKEN);
    expect(location.href).not.toContain(TOKEN);
    expect(location.hash).toBe('');
    expect(location.search).toBe('?x=1');
    // a reload of the same tab still has it
    expect(takeToken()).toBe(TOKEN);
  });

  it('ignores a malformed token', () => {
    sessionStorage.clear();
    history.replaceState(null, '', '/#token=not-hex');
    expect(takeToken()).toBeNull();
    expect(location.hash).toBe('');
  });
});
