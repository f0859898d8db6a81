// Api over WebSocket to `flotilla serve`. One ChannelClient per connection; listeners live
// here so they survive reconnects. On a lost connection we back off and retry, and report
// the status so the UI can show a banner. The token travels as a subprotocol, never in a URL.
import type { EventName, EventPayloads, Method, MethodRequest, MethodResult } from '../../../shared/contract';
import { EVENT_NAME_LIST } from '../../../shared/contract-names';
import { FlotillaError } from '../../../shared/errors';
import { ChannelClient, type TextChannel } from '../../../shared/rpc-client';
import type { ConnectionStatus, Transport } from './transport';

import { TOKEN_CHECK_PATH, TOKEN_HEADER, TOKEN_PROTOCOL_PREFIX, WS_PATH, WS_PROTOCOL } from '../../../shared/ws-protocol';

export { TOKEN_PROTOCOL_PREFIX, WS_PROTOCOL };

export interface WsApiOptions {
  url: string;
  token: string;
  /** delays between attempts, ms; the last one repeats */
  backoffMs?: readonly number[];
  WebSocketImpl?: typeof WebSocket;
  /** asks the server whether it accepts the token: 'refused' only on a definite no */
  checkToken?: (token: string) => Promise<'accepted' | 'refused' | 'unknown'>;
}

/** The server's token check, over plain HTTP on the page's own origin. */
export async function checkTokenOverHttp(token: string, loc: Location = window.location): Promise<'accepted' | 'refused' | 'unknown'> {
  try {
    const r = await fetch(`${loc.protocol}//${loc.host}${TOKEN_CHECK_PATH}`, { headers: { [TOKEN_HEADER]: token } });
    return r.status === 204 ? 'accepted' : r.status === 401 ? 'refused' : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Adapt a browser WebSocket to the TextChannel shared/rpc expects. */
export function webSocketChannel(ws: WebSocket): TextChannel {
  return {
    send: (text) => ws.send(text),
    onMessage: (cb) => ws.addEventListener('message', (e: MessageEvent) => typeof e.data === 'string' && cb(e.data)),
    onClose: (cb) => ws.addEventListener('close', () => cb()),
    close: () => ws.close(),
  };
}

export function apiUrl(loc: Location = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}${WS_PATH}`;
}

export class WsApi implements Transport {
  // a browser tab cannot open a picker on the engine's machine: paths are typed and checked
  readonly nativePicker = false;
  private client: ChannelClient | null = null;
  private status: ConnectionStatus = { kind: 'connecting', attempt: 1 };
  private readonly statusCbs = new Set<(s: ConnectionStatus) => void>();
  private readonly listeners = new Map<EventName, Set<(p: unknown) => void>>();
  private attempt = 0;
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly backoff: readonly number[];
  private readonly WS: typeof WebSocket;

  constructor(private readonly opts: WsApiOptions) {
    this.backoff = opts.backoffMs ?? [500, 1000, 2000, 4000, 8000, 15000];
    this.WS = opts.WebSocketImpl ?? WebSocket;
    this.connect();
  }

  invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    if (!this.client || this.client.closed) return Promise.reject(new FlotillaError('DISCONNECTED', 'not connected to the engine'));
    return this.client.invoke(method, req);
  }

  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const fn = cb as (p: unknown) => void;
    set.add(fn);
    return () => set.delete(fn);
  }

  onStatus(cb: (s: ConnectionStatus) => void): () => void {
    this.statusCbs.add(cb);
    cb(this.status);
    return () => this.statusCbs.delete(cb);
  }

  retryNow(): void {
    if (this.status.kind !== 'offline' && this.status.kind !== 'unauthorized') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.client?.close();
  }

  private setStatus(s: ConnectionStatus): void {
    this.status = s;
    for (const cb of [...this.statusCbs]) cb(s);
  }

  private lastLoss: string | null = null;

  private connect(): void {
    if (this.stopped) return;
    this.attempt++;
    this.setStatus(this.lastLoss ? { kind: 'connecting', attempt: this.attempt, reason: this.lastLoss } : { kind: 'connecting', attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new this.WS(this.opts.url, [WS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + this.opts.token]);
    } catch (err) {
      this.scheduleRetry(err instanceof Error ? err.message : String(err));
      return;
    }
    let opened = false;
    ws.addEventListener('open', () => {
      opened = true;
      const client = new ChannelClient(webSocketChannel(ws));
      for (const event of EVENT_NAME_LIST) client.on(event, (p) => this.emit(event, p));
      this.client = client;
      this.attempt = 0;
      this.lastLoss = null;
      this.generation++;
      this.setStatus({ kind: 'online', generation: this.generation });
    });
    ws.addEventListener('close', (e: CloseEvent) => {
      this.client = null;
      if (this.stopped) return;
      void e;
      if (opened) {
        this.scheduleRetry('the connection to the engine was lost');
        return;
      }
      // The server refuses a bad token before the upgrade, which a browser only sees as a
      // failed connection (a tab still holding the token of an earlier `flotilla serve` run
      // would retry forever): ask the server's token check, and stop with a clear status.
      void (this.opts.checkToken ?? (() => Promise.resolve('unknown' as const)))(this.opts.token).then((verdict) => {
        if (this.stopped) return;
        if (verdict === 'refused') this.setStatus({ kind: 'unauthorized', reason: 'the engine refused this page’s access token (flotilla serve was restarted)' });
        else this.scheduleRetry('could not reach the engine');
      });
    });
  }

  private scheduleRetry(reason: string): void {
    this.lastLoss = reason;
    const delay = this.backoff[Math.min(this.attempt - 1, this.backoff.length - 1)] ?? 1000;
    this.setStatus({ kind: 'offline', reason, retryAt: Date.now() + delay, attempt: this.attempt });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private emit(event: EventName, payload: unknown): void {
    const set = this.listeners.get(event);
    if (set) for (const cb of [...set]) cb(payload);
  }
}
