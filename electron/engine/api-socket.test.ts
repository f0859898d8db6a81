import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CallContext, ContractHandler, EventName, EventPayloads } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { ChannelClient } from '../../shared/rpc';
import { connectApiSocket, serveApiSocket, socketChannel, type ApiSocketServer } from './api-socket';
import { RemoteHandler } from './open-engine';

const ID = 'abcdefgh1234';

/** A tiny engine: console subscriptions per client, broadcast events, one failing method. */
class FakeEngine implements ContractHandler {
  readonly subs = new Map<string, CallContext>();
  unsubscribed = 0;
  private readonly listeners = new Set<<E extends EventName>(e: E, p: EventPayloads[E]) => void>();

  async handle(method: string, params: unknown, ctx: CallContext): Promise<never> {
    const p = params as { id?: string };
    if (method === 'console.subscribe') {
      this.subs.set(ctx.clientId, ctx);
      ctx.onClose(() => this.subs.delete(ctx.clientId));
      return { scrollback: 'old lines\n' } as never;
    }
    if (method === 'console.unsubscribe') {
      this.unsubscribed++;
      this.subs.delete(ctx.clientId);
      return { ok: true } as never;
    }
    if (method === 'vm.get') throw new FlotillaError('NOT_FOUND', `no VM with id ${p.id}`);
    return [] as never;
  }

  onEvent(l: <E extends EventName>(e: E, p: EventPayloads[E]) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  broadcast<E extends EventName>(e: E, p: EventPayloads[E]): void {
    for (const l of this.listeners) l(e, p);
  }

  consoleData(data: string): void {
    for (const ctx of this.subs.values()) ctx.emit('console.data', { host: 'local', id: ID, data });
  }
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

describe('API socket', () => {
  let dir: string;
  let server: ApiSocketServer;
  let engine: FakeEngine;
  let sockPath: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'api-'));
    engine = new FakeEngine();
    sockPath = join(dir, 'run', 'engine.sock');
    server = await serveApiSocket(engine, sockPath, join(dir, 'run'));
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is a 0600 socket in a 0700 dir, and a stale one reads as nobody listening', async () => {
    expect((await stat(sockPath)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'run'))).mode & 0o777).toBe(0o700);
    await server.close();
    expect(await connectApiSocket(sockPath)).toBeNull();
    server = await serveApiSocket(engine, sockPath, join(dir, 'run'));
  });

  it('forwards calls, typed errors, broadcast events and private console data to the right local subscriber', async () => {
    const sock = (await connectApiSocket(sockPath))!;
    const remote = new RemoteHandler(new ChannelClient(socketChannel(sock)));
    const got: Record<string, string[]> = { a: [], b: [] };
    const closers: Record<string, (() => void)[]> = { a: [], b: [] };
    const ctx = (k: 'a' | 'b'): CallContext => ({
      clientId: k,
      emit: (e, p) => e === 'console.data' && got[k]!.push((p as { data: string }).data),
      onClose: (cb) => void closers[k]!.push(cb),
    });
    const events: string[] = [];
    remote.onEvent((e) => events.push(e));

    await expect(remote.handle('vm.get', { id: ID }, ctx('a'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: `no VM with id ${ID}` });
    expect(await remote.handle('console.subscribe', { id: ID }, ctx('a'))).toEqual({ scrollback: 'old lines\n' });
    await remote.handle('console.subscribe', { id: ID }, ctx('b'));
    engine.consoleData('hello');
    engine.broadcast('vm.removed', { host: 'local', id: ID });
    await tick();
    expect(got).toEqual({ a: ['hello'], b: ['hello'] });
    expect(events).toEqual(['vm.removed']);

    // one local subscriber leaving keeps the shared remote subscription for the other
    await remote.handle('console.unsubscribe', { id: ID }, ctx('a'));
    expect(engine.unsubscribed).toBe(0);
    engine.consoleData('more');
    await tick();
    expect(got).toEqual({ a: ['hello'], b: ['hello', 'more'] });
    closers.b!.forEach((c) => c());
    await tick();
    expect(engine.unsubscribed).toBe(1);
    sock.destroy();
  });

  it('survives garbage and oversized lines from a client', async () => {
    const raw = connect(sockPath);
    await new Promise((r) => raw.once('connect', r));
    let reply = '';
    raw.on('data', (d) => (reply += d.toString()));
    raw.write('not json\n{"t":"req"}\n' + 'x'.repeat(17 << 20) + '\n');
    raw.write(JSON.stringify({ t: 'req', id: 7, method: 'vm.list', params: {} }) + '\n');
    for (let i = 0; i < 100 && !reply.includes('\n'); i++) await tick();
    expect(JSON.parse(reply.split('\n')[0]!)).toEqual({ t: 'res', id: 7, ok: true, value: [] });
    raw.destroy();
  });

  it('marks where a slow client lost console output, with how much, instead of losing it silently', async () => {
    const path = join(dir, 'slow.sock');
    let resolveSide: (s: Socket) => void = () => {};
    const serverSide = new Promise<Socket>((r) => (resolveSide = r));
    const srv = createServer((s) => resolveSide(s));
    await new Promise<void>((r) => srv.listen(path, r));
    const client = connect(path);
    await new Promise((r) => client.once('connect', r));
    client.pause(); // reads nothing: the engine's side backs up
    const ch = socketChannel(await serverSide, { maxBacklogBytes: 64 * 1024 });
    const chunk = 'x'.repeat(16 * 1024);
    const frame = (data: string) => JSON.stringify({ t: 'evt', event: 'console.data', payload: { id: ID, data } });
    const sent = 200;
    for (let i = 0; i < sent; i++) ch.send(frame(chunk));
    let text = '';
    client.setEncoding('utf8');
    client.on('data', (d: string) => (text += d));
    client.resume();
    for (let i = 0; i < 500 && text.split('\n').length - 1 < 10; i++) await tick();
    // drained: the next console output carries the marker first
    await new Promise((r) => setTimeout(r, 200));
    ch.send(frame('after'));
    for (let i = 0; i < 500 && !text.includes('after'); i++) await tick();
    const datas = text.trim().split('\n').map((l) => (JSON.parse(l) as { payload: { data: string } }).payload.data);
    const last = datas.at(-1)!;
    const m = /\[flotilla: (\d+) characters of console output were lost here: this client read too slowly\]/.exec(last);
    expect(m).not.toBeNull();
    expect(last.endsWith('after')).toBe(true);
    const delivered = datas.slice(0, -1).reduce((n, d) => n + d.length, 0);
    expect(delivered).toBeLessThan(sent * chunk.length); // some were dropped…
    expect(delivered + Number(m![1])).toBe(sent * chunk.length); // …and the marker says exactly how much
    client.destroy();
    srv.close();
  });
});
