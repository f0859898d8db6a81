// Headless mode over the real engine: a browser-like WebSocket client (right Origin, token
// subprotocol) creates a default-guest VM, starts it under TCG and talks to its serial
// console through the server; the console stream reaches only the subscriber.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChannelClient, type TextChannel } from '../../shared/rpc';
import { openEngine } from '../../electron/engine/open-engine';
import { startHeadless, type HeadlessServer } from '../../electron/headless/server';
import { cleanupHome, makeHome, TEST_ENGINE_OPTIONS } from './fixtures/engine-harness';

let home: string;
let engine: Awaited<ReturnType<typeof openEngine>>;
let srv: HeadlessServer;

function connect(): Promise<{ api: ChannelClient; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/api`, ['flotilla.v1', `flotilla-token.${srv.token}`], { headers: { Origin: `http://127.0.0.1:${srv.port}` } });
    ws.once('error', reject);
    ws.once('open', () => {
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

beforeAll(async () => {
  home = await makeHome();
  engine = await openEngine({ home, shell: 'serve', engine: TEST_ENGINE_OPTIONS });
  const rendererDir = join(home, 'renderer');
  await mkdir(rendererDir);
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>Flotilla</title>');
  srv = await startHeadless({ handler: engine.handler, rendererDir });
});

afterAll(async () => {
  await srv?.close();
  await engine?.close();
  if (home) await cleanupHome(home);
});

describe('headless server over the real engine', () => {
  it('creates and starts a VM, streams its serial console, and takes console input', async () => {
    expect(engine.role).toBe('engine');
    const a = await connect();
    const b = await connect();
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.api.on('console.data', (p) => seenA.push(p.data));
    b.api.on('console.data', (p) => seenB.push(p.data));
    const changes: string[] = [];
    b.api.on('vm.changed', (vm) => changes.push(`${vm.name}:${vm.state}`));

    const vm = await a.api.invoke('vm.create', { config: { name: 'ws-vm', source: { kind: 'default' } } });
    const sub = await a.api.invoke('console.subscribe', { id: vm.id });
    expect(typeof sub.scrollback).toBe('string');
    const started = await a.api.invoke('vm.start', { id: vm.id, waitAgent: true });
    expect(started.state).toBe('running');
    expect(started.agent).toBe('ready');

    // the guest's root shell on its console answers what we type through the WebSocket, once
    // its prompt is there (as a user types: input sent before the shell exists may be dropped)
    await expect.poll(() => seenA.join(''), { timeout: 60_000 }).toMatch(/ws-vm:~# /);
    await a.api.invoke('console.input', { id: vm.id, data: 'echo marker-$((6*7))\n' });
    await expect.poll(() => seenA.join(''), { timeout: 60_000 }).toContain('marker-42');
    expect(seenB).toEqual([]);
    // the other client saw the state changes as broadcast events
    expect(changes).toContain('ws-vm:running');

    // the client's terminal size reaches the shell's pty in the guest (it said 0 × 0, and
    // full-screen programs drew 80 × 24); the last of sizes sent together is the one that stays
    const sizes = [a.api.invoke('console.resize', { id: vm.id, cols: 100, rows: 30 }), a.api.invoke('console.resize', { id: vm.id, cols: 111, rows: 33 }), a.api.invoke('console.resize', { id: vm.id, cols: 132, rows: 43 })];
    const outcomes = await Promise.all(sizes);
    expect(outcomes[2]).toEqual({ applied: true });
    expect(outcomes.filter((o) => !o.applied).map((o) => o.reason)).toEqual(outcomes.filter((o) => !o.applied).map(() => 'a newer size replaced it'));
    await a.api.invoke('console.input', { id: vm.id, data: 'echo size=$(stty size)\n' });
    // the output after the last `mark`, so a wait sees only what came after it
    const after = (mark: string): string => {
      const text = seenA.join('');
      const at = text.lastIndexOf(mark);
      return at < 0 ? '' : text.slice(at + mark.length);
    };
    // the prompt that follows the answer comes in its own write: `exit` typed before it would
    // count that prompt as the new shell's, and the next line would go to the shell that is leaving
    await expect.poll(() => after('size=43 132'), { timeout: 60_000 }).toMatch(/ws-vm:~# /);
    // `exit` at the prompt: init starts a new shell on a new pty, which keeps the size
    await a.api.invoke('console.input', { id: vm.id, data: 'exit\n' });
    await expect.poll(() => after('size=43 132'), { timeout: 60_000 }).toMatch(/exit\r?\n[\s\S]*ws-vm:~# /);
    await a.api.invoke('console.input', { id: vm.id, data: 'echo again=$(stty size)\n' });
    await expect.poll(() => seenA.join(''), { timeout: 60_000 }).toContain('again=43 132');
    // bad sizes are refused by the contract, naming the field
    await expect(a.api.invoke('console.resize', { id: vm.id, cols: 0, rows: 43 })).rejects.toThrow(/cols/);

    const stopped = await b.api.invoke('vm.stop', { id: vm.id, force: true });
    expect(['stopped', 'stopping']).toContain(stopped.state);
    // a VM that is not running has no pty to size: said, not an error
    await expect.poll(async () => (await a.api.invoke('console.resize', { id: vm.id, cols: 80, rows: 24 })).reason).toBe('the guest agent of ws-vm is not ready');
    a.ws.close();
    b.ws.close();
  });
});
