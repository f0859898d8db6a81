// Transport-neutral JSON-RPC over any text channel (engine unix socket lines, WebSocket
// frames, an in-memory pair in tests). Frames:
//   client → server  {t:'req', id, method, params}
//   server → client  {t:'res', id, ok:true, value} | {t:'res', id, ok:false, error}
//                    {t:'evt', event, payload}
// The server validates every request against the contract's zod schema before it reaches
// the handler, and never lets one bad frame take the connection down.
import {
  EVENT_NAMES,
  Methods,
  isEventName,
  isMethod,
  type Api,
  type CallContext,
  type ContractHandler,
  type EventName,
  type EventPayloads,
  type Method,
  type MethodRequest,
  type MethodResult,
} from './contract';
import { FlotillaError, invalidArgument, parseWireError, toWireError, type WireError } from './errors';

export interface TextChannel {
  send(text: string): void;
  onMessage(cb: (text: string) => void): void;
  onClose(cb: () => void): void;
  close(): void;
}

export type ReqFrame = { t: 'req'; id: number; method: string; params: unknown };
export type ResFrame = { t: 'res'; id: number; ok: true; value: unknown } | { t: 'res'; id: number; ok: false; error: WireError };
export type EvtFrame = { t: 'evt'; event: EventName; payload: unknown };
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** Largest frame either side accepts; bigger ones are refused, not parsed. */
export const MAX_FRAME_BYTES = 16 << 20;

/**
 * Validate and dispatch one call. Shared by every server transport (and the Electron
 * IPC wrapper) so validation and error shaping live in one place.
 */
export async function dispatch(handler: ContractHandler, method: unknown, params: unknown, ctx: CallContext): Promise<Envelope<unknown>> {
  if (!isMethod(method)) {
    return { ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method: ${String(method).slice(0, 64)}` } };
  }
  const parsed = Methods[method].safeParse(params ?? {});
  if (!parsed.success) {
    return { ok: false, error: invalidArgument(parsed.error.issues).toWire() };
  }
  try {
    const value = await handler.handle(method, parsed.data as never, ctx);
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

let nextClient = 1;

/** Serve the contract on one channel. Returns a function that detaches. */
export function serveChannel(handler: ContractHandler, ch: TextChannel, opts: { clientId?: string; onBadFrame?: (why: string) => void } = {}): () => void {
  const closers: (() => void)[] = [];
  let closed = false;
  const send = (frame: ResFrame | EvtFrame): void => {
    if (closed) return;
    try {
      ch.send(JSON.stringify(frame));
    } catch {
      /* peer gone; close handler cleans up */
    }
  };
  const ctx: CallContext = {
    clientId: opts.clientId ?? `c${nextClient++}`,
    emit: (event, payload) => send({ t: 'evt', event, payload }),
    onClose: (cb) => {
      if (closed) cb();
      else closers.push(cb);
    },
  };
  const off = handler.onEvent((event, payload) => send({ t: 'evt', event, payload }));
  const shutdown = (): void => {
    if (closed) return;
    closed = true;
    off();
    for (const c of closers.splice(0)) {
      try {
        c();
      } catch {
        /* ignore */
      }
    }
  };
  ch.onClose(shutdown);
  ch.onMessage((text) => {
    if (text.length > MAX_FRAME_BYTES) {
      opts.onBadFrame?.('frame too large');
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      opts.onBadFrame?.('not JSON');
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    const f = frame as Partial<ReqFrame>;
    if (f.t !== 'req' || typeof f.id !== 'number' || !Number.isSafeInteger(f.id)) {
      opts.onBadFrame?.('not a request frame');
      return;
    }
    const id = f.id;
    void dispatch(handler, f.method, f.params, ctx).then((env) =>
      send(env.ok ? { t: 'res', id, ok: true, value: env.value } : { t: 'res', id, ok: false, error: env.error }),
    );
  });
  return shutdown;
}

/** An `Api` over one channel. Pending calls fail with DISCONNECTED when it closes. */
export class ChannelClient implements Api {
  private seq = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly listeners = new Map<EventName, Set<(p: unknown) => void>>();
  private closedFlag = false;

  constructor(private readonly ch: TextChannel) {
    ch.onMessage((text) => this.receive(text));
    ch.onClose(() => {
      this.closedFlag = true;
      for (const p of this.pending.values()) p.reject(new FlotillaError('DISCONNECTED', 'connection to the engine was lost'));
      this.pending.clear();
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    if (this.closedFlag) return Promise.reject(new FlotillaError('DISCONNECTED', 'not connected to the engine'));
    const id = this.seq++;
    return new Promise<MethodResult<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.ch.send(JSON.stringify({ t: 'req', id, method, params: req } satisfies ReqFrame));
      } catch (err) {
        this.pending.delete(id);
        reject(new FlotillaError('DISCONNECTED', `could not send: ${String(err)}`));
      }
    });
  }

  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const fn = cb as (p: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  close(): void {
    this.ch.close();
  }

  private receive(text: string): void {
    let f: unknown;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    const frame = f as { t?: unknown; id?: unknown; ok?: unknown; value?: unknown; error?: unknown; event?: unknown; payload?: unknown };
    if (frame.t === 'res' && typeof frame.id === 'number') {
      const p = this.pending.get(frame.id);
      if (!p) return;
      this.pending.delete(frame.id);
      if (frame.ok === true) p.resolve(frame.value);
      else p.reject(FlotillaError.fromWire(parseWireError(frame.error)));
    } else if (frame.t === 'evt' && isEventName(frame.event)) {
      const set = this.listeners.get(frame.event);
      if (set) for (const cb of [...set]) cb(frame.payload);
    }
  }
}

/** Two connected in-memory channels, for tests and in-process clients. Delivery is async, like a socket. */
export function channelPair(): [TextChannel, TextChannel] {
  type End = { msg: ((t: string) => void)[]; close: (() => void)[]; closed: boolean };
  const a: End = { msg: [], close: [], closed: false };
  const b: End = { msg: [], close: [], closed: false };
  const make = (self: End, peer: End): TextChannel => ({
    send(text) {
      if (self.closed) throw new Error('channel closed');
      queueMicrotask(() => {
        if (!peer.closed) for (const cb of peer.msg) cb(text);
      });
    },
    onMessage: (cb) => void self.msg.push(cb),
    onClose: (cb) => void self.close.push(cb),
    close() {
      for (const end of [self, peer]) {
        if (end.closed) continue;
        end.closed = true;
        queueMicrotask(() => end.close.forEach((cb) => cb()));
      }
    },
  });
  return [make(a, b), make(b, a)];
}

export { EVENT_NAMES };
