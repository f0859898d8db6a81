// Api over the Electron preload bridge. The bridge returns envelopes; errors are rebuilt as
// FlotillaError so callers see the same typed errors as over WebSocket.
import type { EventName, EventPayloads, Method, MethodRequest, MethodResult } from '../../../shared/contract';
import { FlotillaError, parseWireError } from '../../../shared/errors';
import type { FlotillaBridge } from './bridge';
import type { ConnectionStatus, Transport } from './transport';

export class BridgeApi implements Transport {
  readonly nativePicker = true;
  constructor(private readonly bridge: FlotillaBridge) {}

  async invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    let env;
    try {
      env = await this.bridge.invoke(method, req);
    } catch (err) {
      throw new FlotillaError('DISCONNECTED', `the app's main process did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (env && env.ok === true) return env.value as MethodResult<M>;
    throw FlotillaError.fromWire(parseWireError(env && env.ok === false ? env.error : undefined));
  }

  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void {
    return this.bridge.on(event, cb as (p: unknown) => void);
  }

  onStatus(cb: (s: ConnectionStatus) => void): () => void {
    // IPC to our own main process does not drop; it is online for the window's lifetime.
    cb({ kind: 'online', generation: 1 });
    return () => {};
  }

  retryNow(): void {}
}
