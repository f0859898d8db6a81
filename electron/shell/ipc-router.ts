// The one IPC wrapper's logic: every contract method arrives here with its sender, which is
// checked (main frame of a window we created, showing our page), then validated and
// dispatched through shared/rpc's `dispatch`, and answered with an Envelope. Each window is a
// client: broadcast events and its own stream subscriptions (console.data, vm.thumbnail, vm.statsBatch) are pushed
// to it. No runtime electron import, so it is unit tested in plain Node; electron/main.ts binds it to ipcMain.
import type { CallContext, ContractHandler, EventName, EventPayloads } from '../../shared/contract';
import { dispatch, type Envelope } from '../../shared/rpc';
import { IPC_EVENT } from './ipc-channels';
import { senderRejection, type SenderEvent } from './sender-check';

/** The part of a WebContents the router uses. */
export interface WindowSink {
  id: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
}

interface Client {
  sink: WindowSink;
  ctx: CallContext;
  closers: (() => void)[];
  offBroadcast: () => void;
}

export class IpcRouter {
  private readonly clients = new Map<number, Client>();
  private readonly trusted = new Set<number>();
  /** client ids must never repeat: subscriptions are keyed by them */
  private generation = 0;

  constructor(
    private readonly handler: ContractHandler,
    private readonly log: (line: string) => void = () => {},
  ) {}

  /** Trust this window's webContents and start pushing events to it. Returns a detach function. */
  attach(sink: WindowSink): () => void {
    this.trusted.add(sink.id);
    this.connect(sink);
    return () => {
      this.trusted.delete(sink.id);
      this.disconnect(sink.id);
    };
  }

  /** The page reloaded: its subscriptions died with it; it will fetch state and subscribe again. */
  reset(sink: WindowSink): void {
    if (!this.trusted.has(sink.id)) return;
    this.disconnect(sink.id);
    this.connect(sink);
  }

  /** Push an event to every attached window (menu actions such as ui.newVm). */
  broadcast<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const c of this.clients.values()) this.send(c.sink, event, payload);
  }

  async handle(ev: SenderEvent, method: unknown, req: unknown): Promise<Envelope<unknown>> {
    const why = senderRejection(ev, this.trusted);
    const client = this.clients.get(ev.sender.id);
    if (why !== null || !client) {
      this.log(`ipc: refused ${String(method).slice(0, 64)}: ${why ?? 'no client'}`);
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'IPC refused: not from the app window' } };
    }
    return dispatch(this.handler, method, req, client.ctx);
  }

  private connect(sink: WindowSink): void {
    const closers: (() => void)[] = [];
    const ctx: CallContext = {
      clientId: `window-${sink.id}-${++this.generation}`,
      emit: (event, payload) => this.send(sink, event, payload),
      onClose: (cb) => void closers.push(cb),
    };
    const offBroadcast = this.handler.onEvent((event, payload) => this.send(sink, event, payload));
    this.clients.set(sink.id, { sink, ctx, closers, offBroadcast });
  }

  private disconnect(id: number): void {
    const c = this.clients.get(id);
    if (!c) return;
    this.clients.delete(id);
    c.offBroadcast();
    for (const cb of c.closers.splice(0)) {
      try {
        cb();
      } catch (err) {
        this.log(`ipc: close callback failed: ${String(err)}`);
      }
    }
  }

  private send(sink: WindowSink, event: EventName, payload: unknown): void {
    if (sink.isDestroyed()) return;
    try {
      sink.send(IPC_EVENT, event, payload);
    } catch (err) {
      this.log(`ipc: could not send ${event}: ${String(err)}`);
    }
  }
}
