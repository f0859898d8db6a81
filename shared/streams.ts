// The one bookkeeping of stream subscriptions (console, thumbnail, stats; declared in
// contract.ts's STREAMS). The engine, a socket client that shares one engine connection among
// several callers, and a shell that re-subscribes after taking over a lost engine all keep
// their subscriptions in a SubscriptionTable and read calls through streamCall(), so what a
// subscription is, how it is keyed and when it ends is written down once.
import type { CallContext, EventName, Method, VmRef } from './contract';
import { LOCAL_HOST, STREAMS, type StreamKind } from './contract-names';

export interface StreamCall {
  kind: StreamKind;
  action: 'subscribe' | 'unsubscribe';
  /** the VM for per-VM streams, null for engine-wide ones */
  ref: VmRef | null;
  /** the table key: one per stream and VM */
  key: string;
  event: EventName;
}

const BY_METHOD = new Map<string, { kind: StreamKind; action: 'subscribe' | 'unsubscribe' }>();
for (const [kind, s] of Object.entries(STREAMS) as [StreamKind, (typeof STREAMS)[StreamKind]][]) {
  BY_METHOD.set(s.subscribe, { kind, action: 'subscribe' });
  BY_METHOD.set(s.unsubscribe, { kind, action: 'unsubscribe' });
}

export function streamKey(kind: StreamKind, ref: VmRef | null): string {
  return ref ? `${kind}\n${ref.host}\n${ref.id}` : kind;
}

/** The stream a (validated) call subscribes to or leaves, or null for any other method. */
export function streamCall(method: Method, params: unknown): StreamCall | null {
  const m = BY_METHOD.get(method);
  if (!m) return null;
  const s = STREAMS[m.kind];
  const p = params as Partial<VmRef>;
  const ref = s.perVm ? { host: p.host ?? LOCAL_HOST, id: String(p.id) } : null;
  return { ...m, ref, key: streamKey(m.kind, ref), event: s.event };
}

/** Subscriptions by stream key and client id, each holding what the owner needs (a callback, the call to replay). */
export class SubscriptionTable<V> {
  private readonly byKey = new Map<string, Map<string, V>>();

  /** True when this is the stream's first subscriber. */
  add(key: string, clientId: string, value: V): boolean {
    let m = this.byKey.get(key);
    const first = !m;
    if (!m) this.byKey.set(key, (m = new Map()));
    m.set(clientId, value);
    return first;
  }

  /** True when this removed the stream's last subscriber. */
  remove(key: string, clientId: string): boolean {
    const m = this.byKey.get(key);
    if (!m?.delete(clientId)) return false;
    if (m.size > 0) return false;
    this.byKey.delete(key);
    return true;
  }

  has(key: string, clientId: string): boolean {
    return this.byKey.get(key)?.has(clientId) ?? false;
  }

  values(key: string): V[] {
    return [...(this.byKey.get(key)?.values() ?? [])];
  }

  size(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  entries(): { key: string; clientId: string; value: V }[] {
    return [...this.byKey].flatMap(([key, m]) => [...m].map(([clientId, value]) => ({ key, clientId, value })));
  }

  /** Drop every subscription of one stream (its VM is gone). */
  dropKey(key: string): void {
    this.byKey.delete(key);
  }
}

/**
 * Track one client's subscribe/unsubscribe call in `table`, and drop it when the client goes
 * away. `onLeft` runs whenever a subscribed client leaves a stream (unsubscribe or gone), with
 * `last` true when no subscriber is left, so the owner knows when to close its source.
 * Returns the call, or null if the method is not a stream.
 */
export function trackStreamCall<V>(
  table: SubscriptionTable<V>,
  method: Method,
  params: unknown,
  ctx: CallContext,
  value: () => V,
  onLeft?: (call: StreamCall, last: boolean) => void,
): { call: StreamCall; first: boolean } | null {
  const call = streamCall(method, params);
  if (!call) return null;
  const leave = (): void => {
    if (!table.has(call.key, ctx.clientId)) return;
    onLeft?.(call, table.remove(call.key, ctx.clientId));
  };
  if (call.action === 'unsubscribe') {
    leave();
    return { call, first: false };
  }
  const known = table.has(call.key, ctx.clientId);
  const first = table.add(call.key, ctx.clientId, value());
  if (!known) ctx.onClose(leave);
  return { call, first };
}
