// The process-wide Api, set once at startup (main.tsx) or by a test. Actions reach the engine
// only through this.
import type { Transport } from './transport';

let current: Transport | null = null;

export function setApi(api: Transport | null): void {
  current = api;
}

export function getApi(): Transport {
  if (!current) throw new Error('Api not initialised');
  return current;
}
