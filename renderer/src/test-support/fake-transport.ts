// Test helper: a Transport whose calls are answered by a function and whose events the test
// pushes by hand. For unit tests of renderer logic only; e2e runs against the real engine.
import { LOCAL_SETTINGS } from '../../../shared/spec';
import { capsOf, type EventName, type EventPayloads, type Method, type MethodRequest, type MethodResult, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { ConnectionStatus, Transport } from '../api/transport';

export type Answer = (method: Method, req: unknown) => unknown;

export class FakeTransport implements Transport {
  calls: { method: Method; req: unknown }[] = [];
  private listeners = new Map<EventName, Set<(p: unknown) => void>>();
  private statusCbs = new Set<(s: ConnectionStatus) => void>();
  status: ConnectionStatus = { kind: 'online', generation: 1 };
  nativePicker = false;

  constructor(private answer: Answer = () => ({ ok: true })) {}

  async invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    this.calls.push({ method, req });
    const v = this.answer(method, req);
    if (v instanceof FlotillaError) throw v;
    return (await v) as MethodResult<M>;
  }

  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb as (p: unknown) => void);
    return () => set.delete(cb as (p: unknown) => void);
  }

  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const cb of this.listeners.get(event) ?? []) cb(payload);
  }

  onStatus(cb: (s: ConnectionStatus) => void): () => void {
    this.statusCbs.add(cb);
    cb(this.status);
    return () => this.statusCbs.delete(cb);
  }

  setStatus(s: ConnectionStatus): void {
    this.status = s;
    for (const cb of this.statusCbs) cb(s);
  }

  retryNow(): void {}
}

let n = 0;
export function makeVm(name: string, patch: Partial<VmInfo> = {}): VmInfo {
  n++;
  const id = patch.id ?? `vm${String(n).padStart(10, '0')}`;
  return {
    id,
    host: 'local',
    caps: capsOf(['lifecycle', 'pause', 'edit', 'forwards', 'console', 'exec', 'files', 'stats', 'logs']),
    settings: LOCAL_SETTINGS,
    broken: null,
    name,
    spec: {
      id,
      name,
      createdAt: new Date(1_700_000_000_000 + n * 1000).toISOString(),
      disks: [],
      source: { kind: 'default', diskSizeGiB: 8 },
      cpus: 1,
      memoryMiB: 256,
      firmware: 'bios',
      display: 'none',
      forwards: [{ proto: 'tcp', guestPort: 22 }],
      restartPolicy: 'never',
      keepRunningOnQuit: false,
      autostart: false,
      sshKeys: [],
    },
    state: 'running',
    reason: 'started',
    stateSince: new Date().toISOString(),
    pid: 100 + n,
    agent: 'ready',
    ips: ['10.0.2.15'],
    guestOs: null,
    ports: [{ vmId: id, purpose: 'forward', proto: 'tcp', hostPort: 40000 + n, guestPort: 22, host: '127.0.0.1' }],
    hasDisplay: false,
    progress: null,
    lastExit: null,
    lastDiskCheck: null,
    adopted: false,
    qmpHealthy: true,
    stopDeadline: null,
    agentLastSeen: null,
    ...patch,
  };
}
