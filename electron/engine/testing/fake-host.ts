// A second kind of host, in memory, for tests of the host seam (the seam is what is under
// test, not a backend): it proves that the router, the streams and the events reach VMs on any
// registered host by {host, id}, and that a host without an operation answers UNSUPPORTED.
import { capsOf, type HostInfo, type HostState, type VmInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { NO_SETTINGS, type VmConfig } from '../../../shared/spec';
import { unsupported, type Host, type HostListener, type StopAllResult, type VmHandle } from '../hosts/host';

export class FakeHost implements Host {
  readonly kind = 'fake';
  readonly vms = new Map<string, VmInfo>();
  private readonly listeners = new Set<HostListener>();
  private readonly changed = new Set<() => void>();
  private readonly consoles = new Map<string, Map<string, (d: string) => void>>();
  private state: HostState = 'connecting';
  private reason: string | null = 'not started';
  private seq = 0;

  constructor(
    readonly id: string,
    private readonly name = `Fake ${id}`,
  ) {}

  info(): HostInfo {
    return { id: this.id, name: this.name, kind: this.kind, state: this.state, reason: this.reason, vmCount: this.vms.size };
  }

  async start(): Promise<void> {
    this.setState('connected', null);
  }

  setState(state: HostState, reason: string | null): void {
    this.state = state;
    this.reason = reason;
    for (const cb of [...this.changed]) cb();
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  list(): VmInfo[] {
    return [...this.vms.values()].map((v) => structuredClone(v));
  }

  get(id: string): VmInfo {
    const vm = this.vms.get(id);
    if (!vm) throw new FlotillaError('NOT_FOUND', `no VM with id ${id} on host ${this.id}`);
    return structuredClone(vm);
  }

  find(nameOrId: string): VmInfo | undefined {
    return [...this.vms.values()].find((v) => v.id === nameOrId || v.name === nameOrId);
  }

  async create(config: VmConfig): Promise<VmInfo> {
    const id = `fake${String(++this.seq).padStart(8, '0')}`;
    const vm: VmInfo = {
      id,
      host: this.id,
      caps: capsOf(['lifecycle', 'console']),
      settings: NO_SETTINGS,
      broken: null,
      name: config.name,
      spec: { ...config, id, createdAt: '2026-01-01T00:00:00.000Z', disks: [] },
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
    };
    this.vms.set(id, vm);
    this.emit('vm.changed', structuredClone(vm));
    for (const cb of [...this.changed]) cb();
    return structuredClone(vm);
  }

  async delete(id: string): Promise<void> {
    this.get(id);
    this.vms.delete(id);
    this.emit('vm.removed', { host: this.id, id });
  }

  /** Console output from the fake guest. */
  consoleOut(id: string, data: string): void {
    for (const cb of this.consoles.get(id)?.values() ?? []) cb(data);
  }

  consoleSubscribers(id: string): number {
    return this.consoles.get(id)?.size ?? 0;
  }

  vm(id: string): VmHandle {
    this.get(id);
    const set = (state: VmInfo['state']) => async (): Promise<void> => {
      const vm = this.vms.get(id)!;
      vm.state = state;
      this.emit('vm.changed', structuredClone(vm));
    };
    const no = (what: string) => (): never => {
      throw unsupported(what, this.id);
    };
    return {
      start: set('running'),
      stop: set('stopped'),
      restart: set('running'),
      pause: no('pause'),
      resume: no('resume'),
      update: no('changing settings'),
      exec: no('exec'),
      readFile: no('file transfer'),
      writeFile: no('file transfer'),
      logs: async () => [],
      consoleSubscribe: (key, cb) => {
        let m = this.consoles.get(id);
        if (!m) this.consoles.set(id, (m = new Map()));
        m.set(key, cb);
        return 'fake scrollback\n';
      },
      consoleUnsubscribe: (key) => void this.consoles.get(id)?.delete(key),
      consoleInput: () => true,
      thumbnailSubscribe: no('the display'),
      thumbnailUnsubscribe: () => undefined,
      displayUrl: no('the display'),
      stats: async () => null,
    };
  }

  async stopAll(): Promise<StopAllResult> {
    return { stopped: [], keptRunning: [] };
  }

  onEvent(listener: HostListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onChanged(cb: () => void): () => void {
    this.changed.add(cb);
    return () => this.changed.delete(cb);
  }

  private emit: HostListener = (event, payload) => {
    for (const l of [...this.listeners]) l(event, payload);
  };
}
