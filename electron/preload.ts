// Preload (sandboxed, context-isolated): exposes window.flotillaBridge with a generic invoke
// and on, restricted to contract names. ipcRenderer itself never reaches the page. Bundled to
// CJS by esbuild, so importing shared/ works despite the sandbox's require('electron') only.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { isEventName, isMethod } from '../shared/contract-names';
import type { Envelope } from '../shared/rpc';
import { IPC_EVENT, IPC_INVOKE } from './shell/ipc-channels';

type Listener = (payload: unknown) => void;
const listeners = new Map<string, Set<Listener>>();

ipcRenderer.on(IPC_EVENT, (_e: IpcRendererEvent, event: unknown, payload: unknown) => {
  if (!isEventName(event)) return;
  for (const cb of [...(listeners.get(event) ?? [])]) {
    try {
      cb(payload);
    } catch (err) {
      console.error(`flotilla: ${event} listener failed`, err);
    }
  }
});

const bridge = {
  shell: 'electron' as const,
  invoke(method: unknown, req: unknown): Promise<Envelope<unknown>> {
    if (!isMethod(method)) {
      return Promise.resolve({ ok: false, error: { code: 'UNKNOWN_METHOD', message: `unknown method: ${String(method).slice(0, 64)}` } });
    }
    return ipcRenderer.invoke(IPC_INVOKE, method, req) as Promise<Envelope<unknown>>;
  },
  on(event: unknown, cb: unknown): () => void {
    if (!isEventName(event)) throw new Error(`unknown event: ${String(event).slice(0, 64)}`);
    if (typeof cb !== 'function') throw new Error('listener must be a function');
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    const fn = cb as Listener;
    set.add(fn);
    return () => void set.delete(fn);
  },
};

contextBridge.exposeInMainWorld('flotillaBridge', bridge);
