// DEV ONLY (never bundled into dist/renderer): an in-memory fake engine implementing the
// renderer's Transport, for designing the UI and taking screenshots without QEMU.
// Loaded by dev/mock.html; `?scenario=empty` starts with no VMs.
import { capsOf, type DiskInfo, type Progress, type ShareInfo, type SnapshotInfo, type EventName, type EventPayloads, type Method, type MethodRequest, type MethodResult, type VmInfo, type VmStats } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { LOCAL_SETTINGS, vmConfigSchema, type VmConfig } from '../../shared/spec';
import type { VmState } from '../../shared/state';
import type { ConnectionStatus, Transport } from '../src/api/transport';

const BOOT = [
  '[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)',
  '[    0.412337] virtio_blk virtio1: [vda] 33554432 512-byte logical blocks',
  '[    0.733102] Run /init as init process',
  'flotilla-guest: mounting /proc /sys /dev',
  'flotilla-guest: starting qemu-ga on /dev/virtio-ports/org.qemu.guest_agent.0',
  'flotilla-guest: eth0 up, 10.0.2.15/24 via 10.0.2.2',
  '',
  'Flotilla default guest — login: root (no password)',
  '',
];

function screenPng(label: string, hue: number): string {
  const c = document.createElement('canvas');
  c.width = 640;
  c.height = 400;
  const g = c.getContext('2d');
  if (!g) return '';
  const grad = g.createLinearGradient(0, 0, 640, 400);
  grad.addColorStop(0, `hsl(${hue} 55% 38%)`);
  grad.addColorStop(1, `hsl(${hue + 40} 60% 22%)`);
  g.fillStyle = grad;
  g.fillRect(0, 0, 640, 400);
  g.fillStyle = 'rgba(255,255,255,0.92)';
  g.fillRect(0, 0, 640, 26);
  g.fillStyle = '#222';
  g.font = '13px sans-serif';
  g.fillText(`Activities      ${label}`, 12, 18);
  g.fillStyle = 'rgba(255,255,255,0.95)';
  g.fillRect(170, 120, 300, 160);
  g.fillStyle = '#333';
  g.font = 'bold 18px sans-serif';
  g.fillText('Install Debian', 255, 170);
  g.fillStyle = `hsl(${hue} 55% 45%)`;
  g.fillRect(250, 220, 140, 32);
  g.fillStyle = '#fff';
  g.font = '14px sans-serif';
  g.fillText('Continue', 290, 241);
  return c.toDataURL('image/png').split(',')[1] ?? '';
}

export class MockApi implements Transport {
  readonly nativePicker = false;
  private vms = new Map<string, VmInfo>();
  private consoles = new Map<string, string>();
  private listeners = new Map<EventName, Set<(p: unknown) => void>>();
  private subsConsole = new Set<string>();
  private subsThumb = new Set<string>();
  private seq = 1;
  private nextPort = 40022;
  private snaps = new Map<string, SnapshotInfo[]>();
  private disks = new Map<string, DiskInfo[]>();
  private shares = new Map<string, ShareInfo[]>();
  /** long jobs in flight (mock: a timer per VM id), so vm.cancelJob can stop them */
  private jobs = new Map<string, () => void>();

  constructor(scenario: string) {
    if (scenario !== 'empty') this.seed();
    setInterval(() => this.tick(), 1000);
  }

  private seed(): void {
    const add = (name: string, state: VmState, extra: Partial<VmConfig> = {}, info: Partial<VmInfo> = {}): void => {
      const vm = this.make(vmConfigSchema.parse({ name, source: { kind: 'default' }, forwards: [{ guestPort: 22 }], ...extra }));
      Object.assign(vm, { state, ...info });
      if (state === 'running') {
        vm.pid = 4000 + this.seq;
        vm.agent = 'ready';
        vm.ips = [`10.0.2.15`];
        this.consoles.set(vm.id, BOOT.join('\r\n') + '\r\n/ # uptime\r\n 12:01:07 up 3 min,  load average: 0.02, 0.04, 0.01\r\n/ # ');
      }
      this.vms.set(vm.id, vm);
    };
    add('linux-1', 'running', { cpus: 2, memoryMiB: 512 });
    const first = [...this.vms.values()][0];
    if (first) {
      const h = 3600_000;
      this.snaps.set(first.id, [
        { name: 'fresh-install', createdAt: new Date(Date.now() - 50 * h).toISOString(), vmStateBytes: 0, includesRam: false },
        { name: 'before-upgrade', createdAt: new Date(Date.now() - 3 * h).toISOString(), vmStateBytes: 187_432_960, includesRam: true },
        { name: 'nginx-configured', createdAt: new Date(Date.now() - 20 * 60_000).toISOString(), vmStateBytes: 201_326_592, includesRam: true },
      ]);
    }
    add('web-staging', 'running', { forwards: [{ proto: 'tcp', guestPort: 80 }, { proto: 'tcp', guestPort: 22 }] });
    add('debian-installer', 'running', { display: 'vnc', memoryMiB: 2048, cpus: 2, source: { kind: 'iso', path: '/home/me/Downloads/debian-12.iso', diskSizeGiB: 16 }, forwards: [] });
    add('build-runner', 'stopped', { memoryMiB: 1024 }, { reason: 'stopped by user' });
    add('flaky-kernel', 'crashed', { source: { kind: 'kernel', kernel: '/srv/vmlinuz-test' }, forwards: [] }, {
      reason: 'QEMU was killed by SIGKILL',
      lastExit: { at: new Date().toISOString(), code: null, signal: 'SIGKILL', reason: 'QEMU was killed by SIGKILL', logTail: ['qemu-system-x86_64: terminating on signal 9'] },
    });
    add('import-ubuntu', 'stopped', { source: { kind: 'disk', path: '/srv/images/ubuntu.qcow2', mode: 'copy' } }, { progress: { op: 'disk-import', percent: 42 } });
  }

  private make(cfg: VmConfig): VmInfo {
    const id = `mock${String(this.seq++).padStart(8, '0')}`;
    return {
      id,
      host: 'local',
      caps: capsOf([
        'lifecycle', 'pause', 'edit', 'forwards', 'console', 'exec', 'files', 'stats', 'logs', 'snapshots', 'clone', 'export', 'disks', 'media', 'shares',
        ...(cfg.display === 'vnc' ? (['display'] as const) : []),
      ]),
      settings: LOCAL_SETTINGS,
      broken: null,
      name: cfg.name,
      spec: { ...cfg, id, createdAt: new Date(Date.now() - this.seq * 3600_000).toISOString(), disks: ['disk.qcow2'] },
      state: 'stopped',
      reason: 'created',
      stateSince: new Date().toISOString(),
      pid: null,
      agent: 'unknown',
      ips: [],
      guestOs: null,
      ports: cfg.forwards.map((f) => ({ vmId: id, purpose: 'forward', proto: f.proto, hostPort: f.hostPort ?? this.nextPort++, guestPort: f.guestPort, host: '127.0.0.1' })),
      hasDisplay: cfg.display === 'vnc',
      progress: null,
      lastExit: null,
      lastDiskCheck: null,
      adopted: false,
      qmpHealthy: true,
      stopDeadline: null,
      agentLastSeen: null,
    };
  }

  private emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const cb of this.listeners.get(event) ?? []) cb(payload);
  }

  private statsOf(vm: VmInfo, t: number): VmStats {
    const phase = t / 9000 + vm.id.charCodeAt(vm.id.length - 1);
    const cpu = Math.max(0.5, 8 + 6 * Math.sin(phase) + 4 * Math.sin(phase * 3.1) + Math.random() * 3);
    const rss = vm.spec.memoryMiB * 1024 * 1024 * (0.45 + 0.05 * Math.sin(phase / 2));
    return { host: 'local', id: vm.id, t, cpuPercent: cpu, rssBytes: rss };
  }

  private tick(): void {
    // as the engine: one event per tick with every running VM's sample
    const t = Date.now();
    const samples = [...this.vms.values()].filter((vm) => vm.state === 'running').map((vm) => this.statsOf(vm, t));
    if (samples.length) this.emit('vm.statsBatch', { samples });
    for (const vm of this.vms.values()) {
      if (vm.progress && vm.progress.percent !== null && !this.jobs.has(vm.id)) {
        const percent = Math.min(100, vm.progress.percent + 3);
        const progress = percent >= 100 ? null : { ...vm.progress, percent };
        vm.progress = progress;
        this.emit('vm.progress', { host: 'local', id: vm.id, progress });
      }
    }
  }

  private change(vm: VmInfo, patch: Partial<VmInfo>): VmInfo {
    Object.assign(vm, patch, { stateSince: new Date().toISOString() });
    this.emit('vm.changed', { ...vm });
    return { ...vm };
  }

  private get(id: string): VmInfo {
    const vm = this.vms.get(id);
    if (!vm) throw new FlotillaError('NOT_FOUND', `no VM with id ${id}`);
    return vm;
  }

  private boot(vm: VmInfo): void {
    this.consoles.set(vm.id, '');
    let i = 0;
    const t = setInterval(() => {
      const line = BOOT[i++];
      if (line === undefined || vm.state !== 'running') {
        clearInterval(t);
        this.console(vm.id, '/ # ');
        this.change(vm, { agent: 'ready', ips: ['10.0.2.15'], guestOs: 'Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-28-amd64' });
        return;
      }
      this.console(vm.id, line + '\r\n');
    }, 250);
  }

  private console(id: string, data: string): void {
    this.consoles.set(id, (this.consoles.get(id) ?? '') + data);
    if (this.subsConsole.has(id)) this.emit('console.data', { host: 'local', id, data });
  }

  async invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    await new Promise((r) => setTimeout(r, 120));
    const r = req as Record<string, unknown>;
    const id = r['id'] as string;
    const out = (v: unknown): MethodResult<M> => v as MethodResult<M>;
    switch (method) {
      case 'engine.info':
        return out({ version: '0.1.0-mock', home: '/home/me/.local/share/flotilla', pid: 1, qemuVersion: '7.2.0', kvm: false, defaultImage: { ready: true, kernelVersion: '6.1.0-28-cloud-amd64', path: '' }, shell: 'serve' });
      case 'vm.list':
        // backfill a minute of stats once the store has the list, so sparklines have history
        setTimeout(() => {
          const running = [...this.vms.values()].filter((vm) => vm.state === 'running');
          for (let i = 0; i < 60; i++) this.emit('vm.statsBatch', { samples: running.map((vm) => this.statsOf(vm, Date.now() - (60 - i) * 1000)) });
        }, 50);
        return out([...this.vms.values()].map((v) => ({ ...v })));
      case 'vm.create': {
        const cfg = vmConfigSchema.parse((r['config'] as object) ?? {});
        if ([...this.vms.values()].some((v) => v.name === cfg.name)) throw new FlotillaError('NAME_TAKEN', `a VM named ${cfg.name} already exists`, { name: cfg.name });
        if (cfg.source.kind === 'iso' && !cfg.source.path.endsWith('.iso')) throw new FlotillaError('FILE_NOT_FOUND', `ISO not found: ${cfg.source.path}`, { path: cfg.source.path });
        const vm = this.make(cfg);
        this.vms.set(vm.id, vm);
        this.emit('vm.changed', { ...vm });
        return out({ ...vm });
      }
      case 'vm.start': {
        const vm = this.get(id);
        this.change(vm, { state: 'starting', reason: 'start requested' });
        await new Promise((res) => setTimeout(res, 600));
        const v = this.change(vm, { state: 'running', reason: 'QEMU started', pid: 5000 + this.seq, agent: 'connecting' });
        this.boot(vm);
        return out({ ...v, warnings: [] });
      }
      case 'vm.stop': {
        const vm = this.get(id);
        this.change(vm, { state: 'stopping', reason: 'ACPI power-down sent' });
        await new Promise((res) => setTimeout(res, 800));
        return out(this.change(vm, { state: 'stopped', reason: r['force'] ? 'forced off by user' : 'guest powered off', pid: null, agent: 'unknown', ips: [] }));
      }
      case 'vm.pause':
        return out(this.change(this.get(id), { state: 'paused', reason: 'paused by user' }));
      case 'vm.resume':
        return out(this.change(this.get(id), { state: 'running', reason: 'resumed by user' }));
      case 'vm.restart':
        return out(this.change(this.get(id), { state: 'running', reason: 'restarted by user' }));
      case 'vm.delete':
        this.get(id);
        this.vms.delete(id);
        this.emit('vm.removed', { host: 'local', id });
        return out({ id });
      case 'vm.update': {
        const vm = this.get(id);
        const patch = r['patch'] as Partial<VmConfig>;
        if (patch.name && [...this.vms.values()].some((v) => v.name === patch.name && v.id !== id)) throw new FlotillaError('NAME_TAKEN', `a VM named ${patch.name} already exists`, { name: patch.name });
        return out(this.change(vm, { name: patch.name ?? vm.name, spec: { ...vm.spec, ...patch } }));
      }
      case 'vm.exec': {
        const cmd = (r['command'] as string[]).slice(-1)[0] ?? '';
        if (cmd.startsWith('uname')) return out({ exitCode: 0, stdout: '6.1.0-28-cloud-amd64\n', stderr: '' });
        if (cmd.startsWith('false')) return out({ exitCode: 1, stdout: '', stderr: 'sh: false returned 1\n' });
        return out({ exitCode: 0, stdout: `ran: ${cmd}\n`, stderr: '' });
      }
      case 'vm.logs': {
        const vm = this.get(id);
        const t0 = Date.now() - 200_000;
        return out({
          entries: [
            { t: new Date(t0).toISOString(), source: 'lifecycle', text: 'created' },
            { t: new Date(t0 + 1000).toISOString(), source: 'lifecycle', text: 'stopped → starting: start requested' },
            { t: new Date(t0 + 1500).toISOString(), source: 'qemu', text: 'qemu-system-x86_64: -accel tcg: warning: KVM not available, using TCG' },
            { t: new Date(t0 + 2500).toISOString(), source: 'lifecycle', text: `starting → ${vm.state}: ${vm.reason}` },
          ],
        });
      }
      case 'console.subscribe':
        this.subsConsole.add(id);
        return out({ scrollback: this.consoles.get(id) ?? '' });
      case 'console.unsubscribe':
        this.subsConsole.delete(id);
        return out({ ok: true });
      case 'console.input': {
        const data = r['data'] as string;
        this.console(id, data.replace(/\r/g, '\r\n'));
        return out({ ok: true });
      }
      case 'console.resize':
        return out({ applied: false, reason: 'the stand-in engine has no guest' });
      case 'thumbnail.subscribe': {
        this.subsThumb.add(id);
        const vm = this.get(id);
        return out({ pngBase64: vm.hasDisplay ? screenPng(vm.name, 210 + this.seq * 7) : null });
      }
      case 'thumbnail.unsubscribe':
        this.subsThumb.delete(id);
        return out({ ok: true });
      case 'path.inspect': {
        const p = r['path'] as string;
        const ok = p.endsWith('.iso') || p.endsWith('.qcow2') || p.endsWith('web-staging.flotilla');
        return out({ path: p, exists: ok, readable: ok, isFile: ok, size: ok ? 658_505_728 : null, format: ok ? (p.endsWith('.iso') ? 'iso' : 'qcow2') : null });
      }
      case 'display.open':
        throw new FlotillaError('UNSUPPORTED', 'the mock engine has no VNC');
      case 'host.pickFile':
        throw new FlotillaError('UNSUPPORTED', 'no native picker in a browser');
      case 'host.list':
        return out([{ id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: this.vms.size }]);
      case 'stats.subscribe':
      case 'stats.unsubscribe':
        return out({ ok: true });
      case 'fs.list': {
        const path = (r['path'] as string | undefined) ?? '/home/me';
        const parent = path === '/' ? null : path.slice(0, path.lastIndexOf('/')) || '/';
        const entries =
          path === '/home/me'
            ? [
                { name: 'Downloads', kind: 'dir', size: null },
                { name: 'exports', kind: 'dir', size: null },
                { name: 'web-staging.flotilla', kind: 'file', size: 734_003_200 },
              ]
            : [{ name: 'debian-12.iso', kind: 'file', size: 658_505_728 }];
        return out({ path, parent, entries, truncated: false });
      }
      case 'snapshot.list':
        this.get(id);
        return out([...(this.snaps.get(id) ?? [])]);
      case 'snapshot.create': {
        const vm = this.get(id);
        const name = (r['name'] as string | undefined) ?? `snap-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`;
        const list = this.snaps.get(id) ?? [];
        if (list.some((x) => x.name === name)) throw new FlotillaError('NAME_TAKEN', `${vm.name} already has a snapshot named ${name}`, { field: 'name', name });
        if (name.includes('/')) throw new FlotillaError('INVALID_ARGUMENT', 'a snapshot name cannot contain /', { fields: [{ path: 'name', message: 'a snapshot name cannot contain /' }] });
        const ram = vm.state === 'running' && !r['diskOnly'];
        await this.job(vm, { op: 'snapshot', percent: null, message: `saving snapshot ${name}` }, 1500);
        const snap = { name, createdAt: new Date().toISOString(), vmStateBytes: ram ? vm.spec.memoryMiB * 400_000 : 0, includesRam: ram };
        this.snaps.set(id, [...list, snap]);
        return out(snap);
      }
      case 'snapshot.revert': {
        const vm = this.get(id);
        await this.job(vm, { op: 'snapshot', percent: null, message: `reverting to ${String(r['name'])}` }, 1000);
        return out({ ...vm });
      }
      case 'snapshot.delete':
        this.snaps.set(id, (this.snaps.get(id) ?? []).filter((x) => x.name !== r['name']));
        return out({ name: r['name'] });
      case 'vm.clone': {
        const src = this.get(id);
        const name = r['name'] as string;
        if ([...this.vms.values()].some((v) => v.name === name)) throw new FlotillaError('NAME_TAKEN', `a VM named ${name} already exists`, { name });
        await this.job(src, { op: 'clone', percent: 0, message: 'copying disk.qcow2' }, 3000);
        const vm = this.make({ ...src.spec, name });
        this.vms.set(vm.id, vm);
        this.emit('vm.changed', { ...vm });
        return out({ ...vm });
      }
      case 'vm.export': {
        const vm = this.get(id);
        const path = r['path'] as string;
        if (path.endsWith('web-staging.flotilla') && !r['force']) throw new FlotillaError('FILE_EXISTS', `${path} already exists; pass --force to overwrite it`, { path });
        await this.job(vm, { op: 'export', percent: 0, message: `exporting to ${path.split('/').pop() ?? path}` }, 3000);
        return out({ path, bytes: 734_003_200, formatVersion: 1 });
      }
      case 'vm.import': {
        const path = r['path'] as string;
        if (!path.endsWith('.flotilla')) throw new FlotillaError('BAD_ARCHIVE', `${path} cannot be imported: it is not a Flotilla export (no manifest.json); nothing was created`, { path });
        const name = (r['name'] as string | undefined) ?? (path.split('/').pop() ?? 'imported').replace(/\.flotilla$/, '');
        if ([...this.vms.values()].some((v) => v.name === name)) throw new FlotillaError('NAME_TAKEN', `a VM named ${name} already exists`, { name });
        const vm = this.make(vmConfigSchema.parse({ name, source: { kind: 'default' } }));
        await this.job(vm, { op: 'import', percent: 0, message: `importing ${path.split('/').pop() ?? path}` }, 3000);
        this.vms.set(vm.id, vm);
        this.emit('vm.changed', { ...vm });
        return out({ ...vm });
      }
      case 'share.list':
        this.get(id);
        return out([...(this.shares.get(id) ?? [])]);
      case 'share.add': {
        const vm = this.get(id);
        const hostPath = r['hostPath'] as string;
        const tag = (r['tag'] as string | undefined) ?? (hostPath.split('/').pop() ?? 'share').toLowerCase();
        const list = this.shares.get(id) ?? [];
        if (list.some((x) => x.tag === tag)) throw new FlotillaError('NAME_TAKEN', `${vm.name} already shares a folder tagged ${tag}`, { field: 'tag', name: tag });
        const share: ShareInfo = {
          tag,
          hostPath,
          readOnly: !!r['readOnly'],
          state: 'inactive',
          pid: null,
          reason: null,
          guestPath: vm.spec.source.kind === 'default' ? `/mnt/${tag}` : null,
          mountCommand: `mount -t virtiofs ${tag} /mnt/${tag}`,
        };
        this.shares.set(id, [...list, share]);
        return out(share);
      }
      case 'share.remove':
        this.shares.set(id, (this.shares.get(id) ?? []).filter((x) => x.tag !== r['tag']));
        return out({ tag: r['tag'] });
      case 'vm.cancelJob': {
        const cancel = this.jobs.get(id);
        cancel?.();
        return out({ cancelled: !!cancel });
      }
      case 'disk.list': {
        const vm = this.get(id);
        if (!this.disks.has(id)) {
          this.disks.set(id, vm.spec.disks.map((name, i) => ({ name, virtualSize: 8 * 2 ** 30, actualSize: 1_342_177_280, added: i > 0, ...(i === 0 ? { keptBecause: `it is the disk ${vm.name} was made with; only a disk added later can be removed` } : {}) })));
        }
        return out(this.disks.get(id));
      }
      case 'disk.resize': {
        const list = this.disks.get(id) ?? [];
        const d = list.find((x) => x.name === r['disk']) ?? list[0];
        const want = (r['sizeGiB'] as number) * 2 ** 30;
        if (!d) throw new FlotillaError('NOT_FOUND', 'no such disk');
        if (want <= d.virtualSize) throw new FlotillaError('INVALID_ARGUMENT', 'disks only grow', { fields: [{ path: 'sizeGiB', message: 'disks only grow' }] });
        d.virtualSize = want;
        return out({ ...d });
      }
      case 'disk.add': {
        const vm = this.get(id);
        const name = `extra-${vm.spec.disks.length}.qcow2`;
        this.disks.get(id)?.push({ name, virtualSize: (r['sizeGiB'] as number) * 2 ** 30, actualSize: 200_704, added: true });
        return out(this.change(vm, { spec: { ...vm.spec, disks: [...vm.spec.disks, name] } }));
      }
      case 'disk.remove': {
        const vm = this.get(id);
        const d = this.disks.get(id)?.find((x) => x.name === r['disk']);
        if (!d) throw new FlotillaError('NOT_FOUND', `${vm.name} has no disk ${String(r['disk'])}`);
        if (d.keptBecause) throw new FlotillaError('INVALID_STATE', `cannot remove ${d.name} from ${vm.name}: ${d.keptBecause}`);
        this.disks.set(id, this.disks.get(id)!.filter((x) => x !== d));
        return out(this.change(vm, { spec: { ...vm.spec, disks: vm.spec.disks.filter((x) => x !== d.name) } }));
      }
      case 'media.insert': {
        const path = r['path'] as string;
        if (!path.endsWith('.iso')) throw new FlotillaError('WRONG_FILE_TYPE', `${path} is not an ISO image`, { path, expected: 'iso', found: null });
        const vm = this.get(id);
        return out(this.change(vm, { spec: { ...vm.spec, cdrom: path } }));
      }
      case 'media.eject': {
        const vm = this.get(id);
        return out(this.change(vm, { spec: { ...vm.spec, cdrom: null } }));
      }
      default:
        throw new FlotillaError('UNSUPPORTED', `mock does not implement ${method}`);
    }
  }

  /** A long job: progress events (cancellable) until it ends after `ms`, or CANCELLED by vm.cancelJob. */
  private job(vm: VmInfo, start: Progress, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const report = (progress: Progress | null): void => {
        vm.progress = progress;
        this.emit('vm.progress', { host: 'local', id: vm.id, progress });
      };
      report({ ...start, cancellable: true });
      const timer = setInterval(() => {
        const pct = Math.min(100, ((Date.now() - t0) / ms) * 100);
        if (pct >= 100) {
          finish();
          resolve();
        } else if (start.percent !== null) report({ ...start, percent: pct, cancellable: true });
      }, 200);
      const finish = (): void => {
        clearInterval(timer);
        this.jobs.delete(vm.id);
        report(null);
      };
      this.jobs.set(vm.id, () => {
        finish();
        reject(new FlotillaError('CANCELLED', `${start.op} cancelled by the user`));
      });
    });
  }

  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(cb as (p: unknown) => void);
    return () => set.delete(cb as (p: unknown) => void);
  }

  onStatus(cb: (s: ConnectionStatus) => void): () => void {
    cb({ kind: 'online', generation: 1 });
    return () => {};
  }

  retryNow(): void {}
}
