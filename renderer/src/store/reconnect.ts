// Waiting for the connection to the engine to come back, for a job that outlasts its engine (the
// Files tab's transfers, clone, export and import).
import { FlotillaError } from '../../../shared/errors';
import type { ConnectionStatus } from '../api/transport';
import { useStore } from './store';

/**
 * Resolves once the connection to the engine is back (a new one, not the one that just failed);
 * rejects with `lost` if the engine refuses this window for good, CANCELLED on Cancel.
 */
export function untilReconnected(lost: FlotillaError, signal: AbortSignal): Promise<void> {
  const at = useStore.getState().ui.connection;
  const failedGeneration = at.kind === 'online' ? at.generation : null;
  return new Promise((resolve, reject) => {
    const finish = (settle: () => void): void => {
      off();
      signal.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = (): void => finish(() => reject(new FlotillaError('CANCELLED', 'cancelled while waiting for the engine')));
    const check = (c: ConnectionStatus): void => {
      if (c.kind === 'online' && c.generation !== failedGeneration) finish(resolve);
      else if (c.kind === 'unauthorized') finish(() => reject(lost));
    };
    const off = useStore.subscribe((s) => check(s.ui.connection));
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) onAbort();
    else check(at);
  });
}
