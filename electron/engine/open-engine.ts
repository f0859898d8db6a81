// Exactly one engine owns a data directory; its API socket is the lock. openEngine()
// connects to run/engine.sock: if an engine answers, we are its client and calls are
// forwarded over the socket; if not (no socket, or a stale one nobody listens on), we
// remove the stale file, listen ourselves and become the engine.
import { mkdir, rm } from 'node:fs/promises';
import {
  EVENT_NAMES,
  type CallContext,
  type ContractHandler,
  type EventName,
  type EventPayloads,
  type Method,
  type MethodParams,
  type MethodResult,
} from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { ChannelClient } from '../../shared/rpc';
import { connectApiSocket, serveApiSocket, socketChannel, type ApiSocketServer } from './api-socket';
import { Engine, type EngineOptions } from './engine';
import { tryEngineLock } from './engine-lock';
import { flotillaHome, HomeLayout } from './paths';

export interface OpenedEngine {
  handler: ContractHandler;
  role: 'engine' | 'client';
  engine?: Engine;
  /** Engine role: stop serving and let go of VMs (they keep running). Client role: disconnect. */
  close(): Promise<void>;
  /** Client role: resolves when the connection to the engine is lost. */
  disconnected?: Promise<void>;
}

export interface OpenEngineOptions {
  home?: string;
  shell: 'electron' | 'serve' | 'cli';
  /** extra engine options (tests: deadlines, timings) */
  engine?: Partial<Omit<EngineOptions, 'layout' | 'shell'>>;
}

/** Events that reach only the subscribing client (through ctx.emit), not every listener. */
const PRIVATE_EVENTS: ReadonlySet<EventName> = new Set<EventName>(['console.data', 'vm.thumbnail']);

/** A ContractHandler that forwards to a remote engine over its socket. */
export class RemoteHandler implements ContractHandler {
  /** local subscribers per "<kind>:<vmId>", so a shared connection unsubscribes only when the last one leaves */
  private readonly subs = new Map<string, Map<string, (payload: unknown) => void>>();

  constructor(readonly client: ChannelClient) {
    client.on('console.data', (p) => this.deliver(`console:${p.id}`, p));
    client.on('vm.thumbnail', (p) => this.deliver(`thumb:${p.id}`, p));
  }

  private deliver(key: string, payload: unknown): void {
    for (const cb of [...(this.subs.get(key)?.values() ?? [])]) cb(payload);
  }

  async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    const sub = method === 'console.subscribe' ? 'console' : method === 'thumbnail.subscribe' ? 'thumb' : null;
    const unsub = method === 'console.unsubscribe' ? 'console' : method === 'thumbnail.unsubscribe' ? 'thumb' : null;
    if (sub) {
      const id = (params as { id: string }).id;
      const key = `${sub}:${id}`;
      const event: EventName = sub === 'console' ? 'console.data' : 'vm.thumbnail';
      let m = this.subs.get(key);
      if (!m) this.subs.set(key, (m = new Map()));
      m.set(ctx.clientId, (p) => ctx.emit(event, p as never));
      ctx.onClose(() => void this.dropSub(key, ctx.clientId, sub, id));
    }
    if (unsub) {
      const id = (params as { id: string }).id;
      await this.dropSub(`${unsub}:${id}`, ctx.clientId, unsub, id);
      return { ok: true } as MethodResult<M>;
    }
    return (await this.client.invoke(method, params as never)) as MethodResult<M>;
  }

  private async dropSub(key: string, clientId: string, kind: 'console' | 'thumb', id: string): Promise<void> {
    const m = this.subs.get(key);
    if (!m?.delete(clientId) || m.size > 0) return;
    this.subs.delete(key);
    if (this.client.closed) return;
    await this.client.invoke(kind === 'console' ? 'console.unsubscribe' : 'thumbnail.unsubscribe', { id }).catch(() => undefined);
  }

  onEvent(listener: <E extends EventName>(event: E, payload: EventPayloads[E]) => void): () => void {
    const offs = EVENT_NAMES.filter((e) => !PRIVATE_EVENTS.has(e)).map((e) => this.client.on(e, (p) => listener(e, p)));
    return () => offs.forEach((off) => off());
  }
}

export async function openEngine(opts: OpenEngineOptions): Promise<OpenedEngine> {
  const layout = new HomeLayout(opts.home ?? flotillaHome());
  // ~20 s: a process that holds the lock is starting an engine (adoption can take a while)
  for (let attempt = 0; attempt < 200; attempt++) {
    const sock = await connectApiSocket(layout.engineSock);
    if (sock) {
      const client = new ChannelClient(socketChannel(sock));
      const disconnected = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      // A connect can succeed into the backlog of an engine that is dying (kill -9 closes its
      // sockets one by one, this client's connection possibly before the listener): only an
      // answer proves an engine is serving. Without one, look again.
      const answered = await Promise.race([
        client.invoke('engine.info', {}).then(
          () => true,
          () => false,
        ),
        disconnected.then(() => false),
      ]);
      if (!answered) {
        sock.destroy();
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      return {
        handler: new RemoteHandler(client),
        role: 'client',
        disconnected,
        close: async () => {
          sock.end();
          sock.destroy();
        },
      };
    }
    // nobody listens. Only the holder of the engine lock may remove a stale socket and
    // listen; anyone else is racing a process that is becoming the engine: wait for it.
    await mkdir(layout.home, { recursive: true, mode: 0o700 });
    const lock = await tryEngineLock(layout.home);
    if (!lock) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    let server: ApiSocketServer;
    const engine = new Engine({ layout, shell: opts.shell, ...opts.engine });
    try {
      await rm(layout.engineSock, { force: true });
      server = await serveApiSocket(engine, layout.engineSock, layout.runRoot);
    } catch (err) {
      await lock.release();
      throw err;
    }
    try {
      await engine.start();
    } catch (err) {
      await server.close();
      await engine.close();
      await lock.release();
      throw err;
    }
    return {
      handler: engine,
      role: 'engine',
      engine,
      close: async () => {
        // A CLI's short-lived engine may have clients: other CLI commands started meanwhile
        // (issue 11 defect 1). It answers them all before it lets go; a window or `serve`
        // closes at once (its clients take over through takeover.ts).
        await server.close({ drain: opts.shell === 'cli' });
        await engine.close();
        await lock.release();
      },
    };
  }
  throw new FlotillaError('ENGINE_BUSY', `could not connect to or become the engine for ${layout.home}`);
}
