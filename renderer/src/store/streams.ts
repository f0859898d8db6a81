// Reference-counted console and thumbnail subscriptions. Tiles and the VM view acquire a
// stream while they are visible and release it after; the engine is asked once per VM.
// After a reconnect every live stream is re-subscribed (the server forgot us).
import { getApi } from '../api/current';
import { vmRef } from './vm-ref';
import { useStore } from './store';

export const CONSOLE_CAP = 256 * 1024;

type Kind = 'console' | 'thumbnail';
const counts: Record<Kind, Map<string, number>> = { console: new Map(), thumbnail: new Map() };

/** Terminals register here for live console bytes; store text stays the source of scrollback. */
type Sink = { data: (chunk: string) => void; reset: (all: string) => void };
const sinks = new Map<string, Set<Sink>>();

export function addConsoleSink(id: string, sink: Sink): () => void {
  let set = sinks.get(id);
  if (!set) sinks.set(id, (set = new Set()));
  set.add(sink);
  return () => set.delete(sink);
}

function capText(text: string): string {
  if (text.length <= CONSOLE_CAP) return text;
  // cut at a line start so the terminal does not begin mid-escape-sequence
  const cut = text.indexOf('\n', text.length - CONSOLE_CAP);
  return text.slice(cut >= 0 ? cut + 1 : text.length - CONSOLE_CAP);
}

export function appendConsole(id: string, chunk: string): void {
  if (!counts.console.has(id)) return;
  useStore.setState((s) => ({ consoles: { ...s.consoles, text: { ...s.consoles.text, [id]: capText((s.consoles.text[id] ?? '') + chunk) } } }));
  for (const sink of sinks.get(id) ?? []) sink.data(chunk);
}

function setConsoleText(id: string, text: string): void {
  const capped = capText(text);
  useStore.setState((s) => ({ consoles: { ...s.consoles, text: { ...s.consoles.text, [id]: capped } } }));
  for (const sink of sinks.get(id) ?? []) sink.reset(capped);
}

export function setThumb(id: string, png: string | null): void {
  if (!counts.thumbnail.has(id)) return;
  useStore.setState((s) => {
    const thumbs = { ...s.consoles.thumbs };
    if (png) thumbs[id] = png;
    else delete thumbs[id];
    return { consoles: { ...s.consoles, thumbs } };
  });
}

async function subscribe(kind: Kind, id: string): Promise<void> {
  const api = getApi();
  try {
    if (kind === 'console') {
      const { scrollback } = await api.invoke('console.subscribe', vmRef(id));
      if (counts.console.has(id)) setConsoleText(id, scrollback);
    } else {
      const { pngBase64 } = await api.invoke('thumbnail.subscribe', vmRef(id));
      if (pngBase64) setThumb(id, pngBase64);
    }
  } catch {
    // not running yet, or disconnected: the VM's next state change / reconnect retries
  }
}

export function acquire(kind: Kind, id: string): () => void {
  const m = counts[kind];
  const n = m.get(id) ?? 0;
  m.set(id, n + 1);
  if (n === 0) void subscribe(kind, id);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (m.get(id) ?? 1) - 1;
    if (left > 0) {
      m.set(id, left);
      return;
    }
    m.delete(id);
    getApi()
      .invoke(kind === 'console' ? 'console.unsubscribe' : 'thumbnail.unsubscribe', vmRef(id))
      .catch(() => {});
    useStore.setState((s) => {
      const key = kind === 'console' ? 'text' : 'thumbs';
      const next = { ...s.consoles[key] };
      delete next[id];
      return { consoles: { ...s.consoles, [key]: next } };
    });
  };
}

/** Ask again for every stream someone holds: after reconnect, or when a VM (re)starts. */
export function resubscribeAll(onlyId?: string): void {
  for (const kind of ['console', 'thumbnail'] as const) {
    for (const id of counts[kind].keys()) if (!onlyId || id === onlyId) void subscribe(kind, id);
  }
}

export function resetStreams(): void {
  counts.console.clear();
  counts.thumbnail.clear();
  sinks.clear();
}
