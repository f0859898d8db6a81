// Headless server over real sockets with a fake engine: static files are served safely, and
// the WebSocket refuses every unauthenticated or cross-site upgrade before it happens.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attemptUpgrade } from './testing/upgrade-attempt';
import { ChannelClient, type TextChannel } from '../../shared/rpc';
import { startHeadless, type HeadlessServer } from './server';
import { FakeHandler } from './testing/fake-handler';

let dir: string;
let rendererDir: string;
let srv: HeadlessServer;
let fake: FakeHandler;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-headless-'));
  rendererDir = join(dir, 'renderer');
  await mkdir(join(rendererDir, 'assets'), { recursive: true });
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>Flotilla</title>');
  await writeFile(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  await writeFile(join(dir, 'secret.txt'), 'outside the root');
  await symlink(join(dir, 'secret.txt'), join(rendererDir, 'assets', 'link.txt'));
  fake = new FakeHandler();
  srv = await startHeadless({ handler: fake, rendererDir });
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const origin = () => `http://127.0.0.1:${srv.port}`;
const wsUrl = () => `ws://127.0.0.1:${srv.port}/api`;

/** Try to open a socket; report whether it opened and, if not, the HTTP status of the refusal. */
const attempt = (protocols: string[], headers: Record<string, string>, url = wsUrl()) => attemptUpgrade(url, protocols, headers);

const goodProtocols = () => ['flotilla.v1', `flotilla-token.${srv.token}`];

describe('static files', () => {
  it('serves the renderer with its content type and the CSP header', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(String(index.headers['content-security-policy'])).toContain("default-src 'self'");
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const js = await get('/assets/app.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toBe('console.log(1)');
  });

  it.each(['/../secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e/secret.txt', '/assets/link.txt', '/assets', '/..\\secret.txt', '/%00'])(
    'does not serve %s',
    async (path) => {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.body).not.toContain('outside the root');
    },
  );

  it('refuses a foreign Host (DNS rebinding) on plain HTTP too', async () => {
    expect((await get('/', { Host: `evil.example:${srv.port}` })).status).toBe(403);
  });
});

describe('WebSocket upgrade', () => {
  it('prints a URL carrying the token only in the fragment', () => {
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/#token=${srv.token}`);
    expect(srv.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['no token', () => ['flotilla.v1'], () => ({ Origin: origin() }), 401],
    ['a wrong token', () => ['flotilla.v1', `flotilla-token.${'0'.repeat(64)}`], () => ({ Origin: origin() }), 401],
    ['a token of the wrong length', () => ['flotilla.v1', `flotilla-token.${srv.token}00`], () => ({ Origin: origin() }), 401],
    ['a foreign Origin', goodProtocols, () => ({ Origin: 'http://evil.example' }), 403],
    ['a look-alike Origin on another port', goodProtocols, () => ({ Origin: `http://127.0.0.1:${srv.port + 1}` }), 403],
    ['no Origin', goodProtocols, () => ({}), 403],
    ['a foreign Host (DNS rebinding)', goodProtocols, () => ({ Origin: `http://evil.example:${srv.port}`, Host: `evil.example:${srv.port}` }), 403],
    ['a foreign Host with our Origin', goodProtocols, () => ({ Origin: origin(), Host: `evil.example:${srv.port}` }), 403],
  ] as const)('refuses %s before the upgrade', async (_what, protocols, headers, status) => {
    const r = await attempt([...protocols()], headers());
    expect(r).toEqual({ opened: false, status });
  });

  it('refuses other paths', async () => {
    const r = await attempt(goodProtocols(), { Origin: origin() }, `ws://127.0.0.1:${srv.port}/other`);
    expect(r).toEqual({ opened: false, status: 404 });
  });

  it.each(['localhost', '127.0.0.1'])('accepts the right token from http://%s', async (h) => {
    const r = await attempt(goodProtocols(), { Origin: `http://${h}:${srv.port}`, Host: `${h}:${srv.port}` });
    expect(r).toEqual({ opened: true, status: 101 });
  });

  it('a token from an earlier run is refused after restart', async () => {
    const second = await startHeadless({ handler: fake, rendererDir });
    const oldToken = second.token;
    await second.close();
    const third = await startHeadless({ handler: fake, rendererDir, port: second.port });
    try {
      expect(third.token).not.toBe(oldToken);
      const r = await attempt(['flotilla.v1', `flotilla-token.${oldToken}`], { Origin: `http://127.0.0.1:${third.port}` }, `ws://127.0.0.1:${third.port}/api`);
      expect(r).toEqual({ opened: false, status: 401 });
    } finally {
      await third.close();
    }
  });
});

function connectApi(): Promise<{ api: ChannelClient; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(), goodProtocols(), { headers: { Origin: origin() } });
    ws.on('error', reject);
    ws.on('open', () => {
      expect(ws.protocol).toBe('flotilla.v1');
      const ch: TextChannel = {
        send: (t) => ws.send(t),
        onMessage: (cb) => void ws.on('message', (d) => cb(d.toString())),
        onClose: (cb) => void ws.on('close', cb),
        close: () => ws.close(),
      };
      resolve({ api: new ChannelClient(ch), ws });
    });
  });
}

describe('contract over the WebSocket', () => {
  it('answers requests and keeps error codes', async () => {
    const { api, ws } = await connectApi();
    const vms = await api.invoke('vm.list', {});
    expect(vms.map((v) => v.name)).toEqual(['alpha']);
    await expect(api.invoke('vm.get', { id: 'zzzzzzzzzzzz' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(api.invoke('vm.get', { id: '../x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    ws.close();
  });

  it('streams console data to the subscriber only, and drops the subscription on disconnect', async () => {
    const a = await connectApi();
    const b = await connectApi();
    const gotA: string[] = [];
    const gotB: string[] = [];
    a.api.on('console.data', (p) => gotA.push(p.data));
    b.api.on('console.data', (p) => gotB.push(p.data));
    const sub = await a.api.invoke('console.subscribe', { id: 'aaaaaaaaaaaa' });
    expect(sub.scrollback).toBe('scrollback of aaaaaaaaaaaa\n');
    const chunks = Array.from({ length: 50 }, (_, i) => `line ${i}\r\n`);
    for (const c of chunks) fake.consoleOut('aaaaaaaaaaaa', c);
    await expect.poll(() => gotA.join('')).toBe(chunks.join(''));
    expect(gotB).toEqual([]);
    const before = fake.closedClients.length;
    a.ws.close();
    await expect.poll(() => fake.closedClients.length).toBe(before + 1);
    expect(fake.consoleSubs.size).toBe(0);
    b.ws.close();
  });

  it('broadcast events reach every client', async () => {
    const a = await connectApi();
    const got: string[] = [];
    a.api.on('vm.removed', (p) => got.push(p.id));
    fake.broadcast('vm.removed', { host: 'local', id: 'bbbbbbbbbbbb' });
    await expect.poll(() => got).toEqual(['bbbbbbbbbbbb']);
    a.ws.close();
  });
});

describe('bind address', () => {
  it('refuses a non-loopback host without the explicit flag', async () => {
    await expect(startHeadless({ handler: fake, rendererDir, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('--allow-remote') });
  });

  it('binds elsewhere with the flag, and warns', async () => {
    const lines: string[] = [];
    const s = await startHeadless({ handler: fake, rendererDir, host: '0.0.0.0', allowNonLoopback: true, log: (l) => lines.push(l) });
    await s.close();
    expect(lines.join('\n')).toMatch(/WARNING: listening on 0\.0\.0\.0/);
  });
});
