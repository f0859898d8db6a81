// Exactly one engine owns a data directory; its API socket is the lock. openEngine()
// connects to run/engine.sock: if an engine answers, we are its client and calls are
// forwarded over the socket; if not (no socket, or a stale one nobody listens on), we
// remove the stale file, listen ourselves and become the engine.
// The client path loads neither the engine nor the contract's schemas (the engine validates
// every call it is sent): `flotilla list` against a running engine costs little more than Node's
// own start (issue 15, cliListMs). The engine is imported only when this process becomes it.
import { mkdir, rm } from 'node:fs/promises';
import type { VmRef, CallContext, ContractHandler, EventName, EventPayloads, Method, MethodParams, MethodResult } from '../../shared/contract';
import { EVENT_NAME_LIST, STREAM_EVENTS, STREAMS, type StreamKind } from '../../shared/contract-names';
import { FlotillaError } from '../../shared/errors';
import { ChannelClient } from '../../shared/rpc-client';
import { streamCall, streamKey, SubscriptionTable, trackStreamCall } from '../../shared/streams';
import { connectApiSocket, serveApiSocket, socketChannel, type ApiSocketServer } from './api-socket';
import type { Engine, EngineOptions } from './engine';
import { tryEngineLock } from './engine-lock';
import { assertSafeHome, flotillaHome, HomeLayout } from './paths';

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
  /**
   * For this long, only connect to an engine that answers; become the engine only after. A client
   * whose engine just died gives a supervisor (or a user) that restarts it the first go.
   */
  clientOnlyMs?: number;
}

/** A ContractHandler that forwards to a remote engine over its socket. */
export class RemoteHandler implements ContractHandler {
  /**
   * Local subscribers per stream, so that callers sharing this one connection each get their
   * stream events, and the remote subscription ends only when the last of them leaves.
   */
  private readonly subs = new SubscriptionTable<(payload: unknown) => void>();

  constructor(readonly client: ChannelClient) {
    for (const [kind, s] of Object.entries(STREAMS) as [StreamKind, (typeof STREAMS)[StreamKind]][]) {
      client.on(s.event, (p) => {
        const ref = s.perVm ? (p as VmRef) : null;
        for (const cb of this.subs.values(streamKey(kind, ref))) cb(p);
      });
    }
  }

  async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    const tracked = trackStreamCall(this.subs, method, params, ctx, () => (p: unknown) => ctx.emit(streamCall(method, params)!.event, p as never), (call, last) => {
      if (last && !this.client.closed) void this.client.invoke(STREAMS[call.kind].unsubscribe, call.ref ?? {}).catch(() => undefined);
    });
    if (tracked?.call.action === 'unsubscribe') return { ok: true } as MethodResult<M>;
    try {
      return (await this.client.invoke(method, params as never)) as MethodResult<M>;
    } catch (err) {
      // a refused subscribe leaves no local subscriber behind
      if (tracked) this.subs.remove(tracked.call.key, ctx.clientId);
      throw err;
    }
  }

  onEvent(listener: <E extends EventName>(event: E, payload: EventPayloads[E]) => void): () => void {
    const offs = EVENT_NAME_LIST.filter((e) => !STREAM_EVENTS.has(e)).map((e) => this.client.on(e, (p) => listener(e, p)));
    return () => offs.forEach((off) => off());
  }
}

export async function openEngine(opts: OpenEngineOptions): Promise<OpenedEngine> {
  const layout = new HomeLayout(opts.home ?? flotillaHome());
  // never trust an engine.sock (or VM files) in a directory someone else can write to
  await assertSafeHome(layout);
  // ~20 s: a process that holds the lock is starting an engine (adoption can take a while)
  const clientOnlyUntil = Date.now() + (opts.clientOnlyMs ?? 0);
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
    if (Date.now() < clientOnlyUntil) {
      attempt--;
      await new Promise((r) => setTimeout(r, 100));
      continue;
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
    let engine: Engine;
    try {
      const { Engine } = await import('./engine');
      engine = new Engine({ layout, shell: opts.shell, ...opts.engine });
    } catch (err) {
      await lock.release();
      throw err;
    }
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
