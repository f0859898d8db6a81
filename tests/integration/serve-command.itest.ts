// `flotilla serve` as a command: flags, the --json first line, the printed URL, refusing a
// non-loopback bind without --allow-remote, stopping serve leaves running VMs running for the
// next engine to adopt (same PID), and its token outlives a restart until --new-token.
import { stat } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { VmInfo } from '../../shared/contract';
import { ChannelClient, type TextChannel } from '../../shared/rpc';
import { runServe } from '../../electron/cli/serve-command';
import { openEngine } from '../../electron/engine/open-engine';
import { cleanupHome, makeHome } from './fixtures/engine-harness';

let home: string;
const saved = { home: process.env.FLOTILLA_HOME, accel: process.env.FLOTILLA_ACCEL };

beforeAll(async () => {
  home = await makeHome();
  process.env.FLOTILLA_HOME = home;
  process.env.FLOTILLA_ACCEL ??= 'tcg';
});
afterAll(async () => {
  process.env.FLOTILLA_HOME = saved.home;
  if (saved.home === undefined) delete process.env.FLOTILLA_HOME;
  if (saved.accel === undefined) delete process.env.FLOTILLA_ACCEL;
  if (home) await cleanupHome(home);
});

function serve(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  let stop!: () => void;
  const until = new Promise<void>((r) => (stop = r));
  const done = runServe(args, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), until });
  return { out, err, stop, done };
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function connect(port: number, token: string): Promise<ChannelClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api`, ['flotilla.v1', `flotilla-token.${token}`], { headers: { Origin: `http://127.0.0.1:${port}` } });
    ws.once('error', reject);
    ws.once('open', () => {
      const ch: TextChannel = { send: (t) => ws.send(t), onMessage: (cb) => void ws.on('message', (d) => cb(d.toString())), onClose: (cb) => void ws.on('close', cb), close: () => ws.close() };
      resolve(new ChannelClient(ch));
    });
  });
}

describe('flotilla serve', () => {
  it('rejects bad flags with a clear message', async () => {
    const bad = serve(['--bogus']);
    expect(await bad.done).toBe(2);
    expect(bad.err.join('\n')).toMatch(/--bogus/);
    const port = serve(['--port', 'eighty']);
    expect(await port.done).toBe(1);
    expect(port.err.join('\n')).toMatch(/--port must be a number/);
  });

  it('refuses a non-loopback address unless --allow-remote is given', async () => {
    const s = serve(['--host', '0.0.0.0', '--json', '--no-build-default']);
    expect(await s.done).toBe(1);
    expect(s.err.join('\n')).toMatch(/--allow-remote/);
    expect(s.out).toEqual([]);
  });

  it('prints the JSON line first, serves the app, and stopping leaves a running VM for the next engine to adopt', async () => {
    const s = serve(['--json', '--no-build-default']);
    await expect.poll(() => s.out.length, { timeout: 30_000 }).toBeGreaterThan(0);
    const info = JSON.parse(s.out[0]!) as { url: string; token: string; port: number };
    expect(Object.keys(info).sort()).toEqual(['port', 'token', 'url']);
    expect(info.url).toBe(`http://127.0.0.1:${info.port}/#token=${info.token}`);
    const page = await fetchText(`http://127.0.0.1:${info.port}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root">');

    const api = await connect(info.port, info.token);
    const vm = await api.invoke('vm.create', { config: { name: 'survivor', source: { kind: 'default' } } });
    const running: VmInfo = await api.invoke('vm.start', { id: vm.id, waitAgent: true });
    expect(running.state).toBe('running');
    api.close();

    s.stop();
    expect(await s.done).toBe(0);
    expect(s.err.join('\n')).not.toContain(info.token);
    process.kill(running.pid!, 0); // still alive: throws if not

    const next = await openEngine({ home, shell: 'cli' });
    try {
      const ctx = { clientId: 'check', emit: () => {}, onClose: () => {} };
      const adopted = await next.handler.handle('vm.get', { id: vm.id }, ctx);
      expect(adopted).toMatchObject({ state: 'running', pid: running.pid, adopted: true });
      await next.handler.handle('vm.stop', { id: vm.id, force: true }, ctx);
    } finally {
      await next.close();
    }
  });

  it('keeps its token across restarts on the same port, so a page reconnects; --new-token turns the old one away', async () => {
    const run = async (args: string[]) => {
      const s = serve(['--json', '--no-build-default', ...args]);
      await expect.poll(() => s.out.length, { timeout: 30_000 }).toBeGreaterThan(0);
      return { s, info: JSON.parse(s.out[0]!) as { url: string; token: string; port: number } };
    };
    const first = await run([]);
    expect((await stat(join(home, 'serve-token'))).mode & 0o777).toBe(0o600);
    first.s.stop();
    expect(await first.s.done).toBe(0);

    const again = await run(['--port', String(first.info.port)]);
    expect(again.info).toEqual(first.info);
    const api = await connect(again.info.port, first.info.token);
    expect(Array.isArray(await api.invoke('vm.list', {}))).toBe(true);
    api.close();
    again.s.stop();
    expect(await again.s.done).toBe(0);

    const renewed = await run(['--port', String(first.info.port), '--new-token']);
    try {
      expect(renewed.info.token).not.toBe(first.info.token);
      await expect(connect(renewed.info.port, first.info.token)).rejects.toThrow(/401/);
      const fresh = await connect(renewed.info.port, renewed.info.token);
      fresh.close();
    } finally {
      renewed.s.stop();
      expect(await renewed.s.done).toBe(0);
    }
  });
});
