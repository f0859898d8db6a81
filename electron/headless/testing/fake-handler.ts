// A small ContractHandler for transport tests (the transport is the unit under test): it
// answers vm.list, streams console data to subscribers and records client lifetimes.
import { LOCAL_SETTINGS } from '../../../shared/spec';
import { capsOf, type CallContext, type ContractHandler, type EventName, type EventPayloads, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

export function fakeVm(id: string, name: string, over: Partial<VmInfo> = {}): VmInfo {
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
      createdAt: '2026-01-01T00:00:00.000Z',
      disks: [],
      source: { kind: 'default', diskSizeGiB: 8 },
      cpus: 1,
      memoryMiB: 256,
      firmware: 'bios',
      display: 'none',
      forwards: [],
      sshKeys: [],
      restartPolicy: 'never',
      keepRunningOnQuit: false,
      autostart: false,
    },
    state: 'stopped',
    reason: 'created',
    stateSince: '2026-01-01T00:00:00.000Z',
    pid: null,
    agent: 'unknown',
    ips: [],
    guestOs: null,
    ports: [],
    hasDisplay: false,
    progress: null,
    lastExit: null,
    lastDiskCheck: null,
    adopted: false,
    qmpHealthy: true,
    stopDeadline: null,
    agentLastSeen: null,
    ...over,
  };
}

export class FakeHandler implements ContractHandler {
  readonly vms: VmInfo[] = [fakeVm('aaaaaaaaaaaa', 'alpha')];
  readonly consoleSubs = new Map<string, CallContext>();
  readonly closedClients: string[] = [];
  private readonly listeners = new Set<Listener>();

  async handle(method: string, params: unknown, ctx: CallContext): Promise<never> {
    const p = params as { id?: string };
    switch (method) {
      case 'vm.list':
        return this.vms as never;
      case 'console.subscribe':
        this.consoleSubs.set(ctx.clientId, ctx);
        ctx.onClose(() => {
          this.consoleSubs.delete(ctx.clientId);
          this.closedClients.push(ctx.clientId);
        });
        return { scrollback: `scrollback of ${p.id}\n` } as never;
      case 'vm.get': {
        const vm = this.vms.find((v) => v.id === p.id);
        if (!vm) throw new FlotillaError('NOT_FOUND', `no VM with id ${p.id}`);
        return vm as never;
      }
      default:
        throw new FlotillaError('UNSUPPORTED', `fake handler does not do ${method}`);
    }
  }

  onEvent(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  broadcast<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const l of this.listeners) l(event, payload);
  }

  /** Push console output to every subscriber, as the console hub does. */
  consoleOut(id: string, data: string): void {
    for (const ctx of this.consoleSubs.values()) ctx.emit('console.data', { host: 'local', id, data });
  }
}
