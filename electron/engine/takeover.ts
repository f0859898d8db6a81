// For long-lived shells (serve, the Electron window): an engine connection that outlives the
// engine it started with. When this process is a client of another process's engine and that
// engine goes away (quit, crash, kill -9), it opens the engine again: the engine lock is free
// now, so it becomes the engine itself and adopts the running VMs (or connects to whoever was
// quicker). Callers keep one handler throughout: event listeners move to the new engine, open
// console/thumbnail subscriptions are made again, and every VM's current info is re-announced
// so views that missed changes during the gap catch up.
import { LOCAL_HOST, type CallContext, type ContractHandler, type EventName, type EventPayloads, type Method, type MethodParams, type MethodResult, type VmRef } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { SubscriptionTable, trackStreamCall } from '../../shared/streams';
import { openEngine, type OpenEngineOptions, type OpenedEngine } from './open-engine';

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

/** A subscribe call to make again on the next engine. */
interface Subscription {
  method: Method;
  params: unknown;
  ctx: CallContext;
}

export interface TakeoverEvents {
  /** the connection to the owning engine was lost; a new one is being opened */
  onLost?(): void;
  /** a new engine connection is in place (role 'engine' when this process took over) */
  onReopened?(role: OpenedEngine['role']): void;
  /** reopening failed; calls fail until the next attempt succeeds */
  onError?(err: unknown): void;
}

export class TakeoverHandler implements ContractHandler {
  private current: OpenedEngine;
  private reopening: Promise<void> | null = null;
  private closed = false;
  private readonly listeners = new Set<Listener>();
  private detachCurrent: () => void = () => undefined;
  private readonly subs = new SubscriptionTable<Subscription>();
  /** VMs ("host\nid") the listeners have been told about, to announce the ones that vanished during a gap */
  private readonly known = new Set<string>();

  private constructor(
    first: OpenedEngine,
    private readonly opts: OpenEngineOptions,
    private readonly events: TakeoverEvents,
    private readonly retryMs: number,
  ) {
    this.current = first;
    this.watch(first);
  }

  static async open(opts: OpenEngineOptions, events: TakeoverEvents = {}, retryMs = 1000): Promise<TakeoverHandler> {
    return new TakeoverHandler(await openEngine(opts), opts, events, retryMs);
  }

  get role(): OpenedEngine['role'] {
    return this.current.role;
  }

  /** The in-process engine, when this process owns it. */
  get engine(): OpenedEngine['engine'] {
    return this.current.engine;
  }

  async handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>> {
    if (this.reopening) await this.reopening;
    if (this.closed) throw new FlotillaError('DISCONNECTED', 'the engine connection is closed');
    trackStreamCall(this.subs, method, params, ctx, () => ({ method, params, ctx }));
    const result = await this.current.handler.handle(method, params, ctx);
    if (method === 'vm.list') for (const vm of result as MethodResult<'vm.list'>) this.known.add(refKey(vm));
    return result;
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reopening?.catch(() => undefined);
    this.detachCurrent();
    await this.current.close();
  }

  private watch(opened: OpenedEngine): void {
    this.detachCurrent = opened.handler.onEvent((event, payload) => this.fanOut(event, payload));
    void opened.disconnected?.then(() => {
      if (this.closed || this.current !== opened) return;
      this.events.onLost?.();
      this.reopening = this.reopen().finally(() => (this.reopening = null));
    });
  }

  private fanOut<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    if (event === 'vm.changed') this.known.add(refKey(payload as EventPayloads['vm.changed']));
    if (event === 'vm.removed') this.known.delete(refKey(payload as EventPayloads['vm.removed']));
    for (const l of [...this.listeners]) l(event, payload);
  }

  private async reopen(): Promise<void> {
    this.detachCurrent();
    while (!this.closed) {
      let next: OpenedEngine;
      try {
        next = await openEngine(this.opts);
      } catch (err) {
        this.events.onError?.(err);
        await new Promise((r) => setTimeout(r, this.retryMs));
        continue;
      }
      if (this.closed) {
        await next.close();
        return;
      }
      this.current = next;
      this.watch(next);
      await this.resubscribe(next);
      await this.announceAll(next);
      this.events.onReopened?.(next.role);
      return;
    }
  }

  /** Live output resumes; the scrollback the new engine returns is not sent again (the view has it). */
  private async resubscribe(next: OpenedEngine): Promise<void> {
    for (const { key, clientId, value: s } of this.subs.entries()) {
      try {
        await next.handler.handle(s.method, s.params as never, s.ctx);
      } catch {
        this.subs.remove(key, clientId); // the VM is gone or stopped: the view will see that from vm.changed/vm.removed
      }
    }
  }

  private async announceAll(next: OpenedEngine): Promise<void> {
    const internal: CallContext = { clientId: 'takeover', emit: () => undefined, onClose: () => undefined };
    try {
      const vms = await next.handler.handle('vm.list', {}, internal);
      const now = new Set(vms.map((v) => refKey(v)));
      for (const key of [...this.known]) if (!now.has(key)) this.fanOut('vm.removed', refOf(key));
      for (const vm of vms) this.fanOut('vm.changed', vm);
    } catch (err) {
      this.events.onError?.(err);
    }
  }
}

function refKey(ref: VmRef): string {
  return `${ref.host}\n${ref.id}`;
}

function refOf(key: string): VmRef {
  const [host = LOCAL_HOST, id = ''] = key.split('\n');
  return { host, id };
}
