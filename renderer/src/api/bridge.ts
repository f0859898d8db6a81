// What the Electron preload exposes on window (see electron/preload.ts). Declared here so the
// renderer can type it without importing anything from electron/.
import type { EventName, Method } from '../../../shared/contract';
import type { Envelope } from '../../../shared/rpc';

export interface FlotillaBridge {
  shell: 'electron';
  invoke(method: Method, req: unknown): Promise<Envelope<unknown>>;
  on(event: EventName, cb: (payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    flotillaBridge?: FlotillaBridge;
  }
}
