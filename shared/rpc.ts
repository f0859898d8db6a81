// Transport-neutral JSON-RPC over any text channel (engine unix socket lines, WebSocket
// frames, an in-memory pair in tests). Frames:
//   client → server  {t:'req', id, method, params}
//   server → client  {t:'res', id, ok:true, value} | {t:'res', id, ok:false, error}
//                    {t:'evt', event, payload}
// The server validates every request against the contract's zod schema before it reaches
// the handler, and never lets one bad frame take the connection down.
import { EVENT_NAMES, Methods, isMethod, type CallContext, type ContractHandler } from './contract';
import { invalidArgument, toWireError } from './errors';
import { MAX_FRAME_BYTES, type Envelope, type EvtFrame, type ReqFrame, type ResFrame, type TextChannel } from './rpc-client';

// The client half (frames, ChannelClient) is in rpc-client.ts, which loads no schemas.
export { ChannelClient, MAX_FRAME_BYTES, type Envelope, type EvtFrame, type ReqFrame, type ResFrame, type TextChannel } from './rpc-client';

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
