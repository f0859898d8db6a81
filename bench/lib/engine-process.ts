// The engine as a user runs it: `flotilla serve` in its own process (so its RSS is its own),
// driven over the headless WebSocket exactly like a browser tab would (Origin, token
// subprotocol, shared/rpc frames).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ChannelClient, type TextChannel } from '../../shared/rpc';

export interface EngineProcess {
  pid: number;
  port: number;
  token: string;
  api: ChannelClient;
  /** a further client connection (e.g. a second browser tab) */
  connect(): Promise<{ api: ChannelClient; ws: WebSocket }>;
  stderr(): string;
  /** full garbage collection in the engine process (bench instrumentation) */
  gc(): Promise<void>;
  /** SIGTERM and wait for the exit (VMs it runs stay up: stop them first) */
  close(): Promise<void>;
}

export function connectWs(port: number, token: string): Promise<{ api: ChannelClient; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api`, ['flotilla.v1', `flotilla-token.${token}`], {
      headers: { Origin: `http://127.0.0.1:${port}` },
    });
    ws.once('error', reject);
    ws.once('open', () => {
      const ch: TextChannel = {
        send: (t) => ws.send(t),
        onMessage: (cb) => void ws.on('message', (d: Buffer) => cb(d.toString())),
        onClose: (cb) => void ws.on('close', cb),
        close: () => ws.close(),
      };
      resolve({ api: new ChannelClient(ch), ws });
    });
  });
}

/**
 * Starts `node dist/cli/flotilla.js serve --json` on FLOTILLA_HOME=home under TCG. `rendererDir`:
 * the page it serves; by default a stub (the engine benches never load the page, so they do not
 * depend on dist/renderer), the built renderer for the benches that put a browser on the grid.
 */
export async function startEngineProcess(root: string, home: string, opts: { rendererDir?: string } = {}): Promise<EngineProcess & { url: string }> {
  let rendererDir = opts.rendererDir;
  if (!rendererDir) {
    rendererDir = join(home, 'stub-renderer');
    await mkdir(rendererDir, { recursive: true });
    await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>Flotilla bench</title>\n');
  }
  // bench-only instrumentation: SIGUSR2 makes the engine collect garbage, so RSS samples compare
  // live memory rather than wherever the heap happened to be between collections
  const gcHook = join(home, 'gc-on-signal.cjs');
  await writeFile(gcHook, "process.on('SIGUSR2', () => { if (typeof global.gc === 'function') global.gc(); });\n");
  const child: ChildProcess = spawn(
    process.execPath,
    // BENCH_ENGINE_NODE_ARGS: extra node flags for the engine, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes
    [...(process.env.BENCH_ENGINE_NODE_ARGS ?? '').split(' ').filter(Boolean), '--expose-gc', '-r', gcHook, join(root, 'dist', 'cli', 'flotilla.js'), 'serve', '--json', '--no-build-default', '--port', '0'],
    { cwd: root, env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg', FLOTILLA_RENDERER_DIR: rendererDir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (err.length < 64_000) err += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    const onData = (d: string): void => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.off('data', onData);
        resolve(out.slice(0, nl));
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(() => reject(new Error(`flotilla serve exited before it printed its URL: ${err}`)));
  });
  const { port, token, url } = JSON.parse(first) as { port: number; token: string; url: string };
  const { api } = await connectWs(port, token);
  return {
    url,
    pid: child.pid!,
    port,
    token,
    api,
    connect: () => connectWs(port, token),
    stderr: () => err,
    gc: async () => {
      child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 300));
    },
    close: async () => {
      api.close();
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
