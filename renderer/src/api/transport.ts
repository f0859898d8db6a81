// The renderer's view of a connection to the engine: the contract's `Api` plus a connection
// status. Both implementations (preload bridge, WebSocket) satisfy it; the UI never asks which.
import type { Api } from '../../../shared/contract';

export type ConnectionStatus =
  /** `reason`: why the previous connection ended, when this is a reconnect */
  | { kind: 'connecting'; attempt: number; reason?: string }
  | { kind: 'online'; generation: number }
  | { kind: 'offline'; reason: string; retryAt: number | null; attempt: number }
  | { kind: 'unauthorized'; reason: string };

export interface Transport extends Api {
  /** The shell can show a native file picker ('host.pickFile'); otherwise paths are typed. */
  readonly nativePicker: boolean;
  /** Called now with the current status, then on every change. An 'online' with a new
   *  generation means (re)connected: refetch state and re-subscribe streams. */
  onStatus(cb: (s: ConnectionStatus) => void): () => void;
  /** Skip the backoff wait and try to connect now. */
  retryNow(): void;
}
