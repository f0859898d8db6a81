import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DisplayProxy, TICKET_TTL_MS } from './display-proxy';

const ID = 'abcdefgh1234';

/** Status of the upgrade attempt: 101 if it opened, else the HTTP status the server sent. */
function attempt(url: string): Promise<{ status: number; first?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.on('message', (d: Buffer) => {
      resolve({ status: 101, first: d.toString() });
      ws.close();
    });
    ws.on('error', () => resolve({ status: 0 }));
  });
}

describe('DisplayProxy', () => {
  let dir: string;
  let vnc: Server;
  let proxy: DisplayProxy;
  let now = 1_000_000;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vnc-'));
    const sock = join(dir, 'vnc.sock');
    // a VNC server that greets like QEMU and echoes
    vnc = createServer((s) => {
      s.write('RFB 003.008\n');
      s.on('data', (d) => s.write(d));
    });
    await new Promise<void>((r) => vnc.listen(sock, () => r()));
    proxy = new DisplayProxy((id) => (id === ID ? sock : null), () => now);
  });

  afterEach(async () => {
    await proxy.close();
    vnc.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('bridges a ticketed WebSocket to the VNC socket, once per ticket', async () => {
    const url = await proxy.open(ID);
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/vnc/${ID}\\?ticket=[0-9a-f]{48}$`));
    expect(await attempt(url)).toEqual({ status: 101, first: 'RFB 003.008\n' });
    expect((await attempt(url)).status).toBe(403);
  });

  it('refuses wrong, missing, expired and cross-VM tickets before the upgrade', async () => {
    const url = await proxy.open(ID);
    const base = url.slice(0, url.indexOf('?'));
    expect((await attempt(`${base}?ticket=${'0'.repeat(48)}`)).status).toBe(403);
    expect((await attempt(base)).status).toBe(403);
    expect((await attempt(url.replace(`/vnc/${ID}`, '/vnc/zzzzzzzz9999'))).status).toBe(403);
    const late = await proxy.open(ID);
    now += TICKET_TTL_MS + 1;
    expect((await attempt(late)).status).toBe(403);
  });

  it('will not issue a ticket for a VM without a running display', async () => {
    await expect(proxy.open('zzzzzzzz9999')).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });
});
