// The client half of shared/rpc.ts: the frames and ChannelClient, an `Api` over any text channel.
// Kept apart from rpc.ts because it needs no schemas: a client leaves validation to the server
// it talks to, and the CLI reaching a running engine must not load zod (issue 15, cliListMs).
import type { Api, EventName, EventPayloads, Method, MethodRequest, MethodResult } from './contract';
import { isEventName } from './contract-names';
import { FlotillaError, parseWireError, type WireError } from './errors';

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
