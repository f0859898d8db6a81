// One domain on a libvirt host, as the engine's per-VM handle: lifecycle (start, graceful
// shutdown with a deadline then destroy, destroy, suspend, resume, reset), exec and IPs through
// the guest agent, stats, the console stream, snapshots, disks, shared folders, the CD and the VNC display. One job at a time
// per domain through the host's KeyedMutex; a force stop pre-empts a graceful stop in progress.
import type { DiskInfo, ExecResult, ExportResult, LogEntry, ShareInfo, SnapshotInfo, SshInfo, VmInfo } from '../../../../shared/contract';
import type { VmPatch } from '../../../../shared/spec';
import { FlotillaError } from '../../../../shared/errors';
import type { VmState } from '../../../../shared/state';
import type { VncTarget } from '../../display-proxy';
import type { VmHandle } from '../host';
import { updateBootFiles } from './boot-update';
import type { ConsoleKind } from './console';
import { DomainView } from './domain-view';
import { libvirtSshInfo } from './ssh-access';
import { agentReadFile, agentWriteFile, type WriteFileOptions } from '../../agent-files';
import { assertSnapshotAllowed, domainStatValues, statsFrom, guestExec, virshAgentRequest, VIRSH_FILE_CHUNK_BYTES, setDomainClock, snapshotCreate, snapshotDelete, snapshotDetails, snapshotList, snapshotRevert, type CpuSample } from './domain-ops';
import { defaultSnapshotName } from '../../lifecycle/snapshots';
import type { LibvirtDomain } from './domain-info';
import { domainChange, editDomain } from './domain-edit';
import type { LibvirtHost } from './libvirt-host';
import { cloneDomain } from './clone-domain';
import { addDomainDisk, changeDomainMedia, listDomainDisks, removeDomainDisk, resizeDomainDisk, type DomainRef } from './domain-disks';
import { uuidToId } from './virsh-parse';
import { addDomainShare, domainShareInfo, removeDomainShare } from './domain-shares';
import { shutdownDomain } from './domain-shutdown';
import { agentForUse, waitDomainAgent } from './agent-wait';

export class LibvirtVm implements VmHandle {
  private cpuSample: CpuSample | null = null;
  private agentBeforePause = false;
  /** its console, screen thumbnails and VNC endpoint (domain-view.ts) */
  private readonly view: DomainView;
  /** while a graceful stop waits for the guest: when it destroys the domain */
  stopDeadline: string | null = null;

  constructor(
    private readonly host: LibvirtHost,
    readonly uuid: string,
    virshBinary?: string,
  ) {
    this.view = new DomainView(host, uuid, () => this.d.state, virshBinary);
  }

  private get virsh() {
    return this.host.conn.virsh;
  }

  private get d(): LibvirtDomain {
    return this.host.dom(this.uuid.replace(/-/g, ''));
  }

  /** The domain while the host has it, undefined once it is gone (`d` throws NOT_FOUND then). */
  private live(): LibvirtDomain | undefined {
    try {
      return this.d;
    } catch {
      return undefined;
    }
  }

  private info(): VmInfo {
    return this.host.toInfo(this.d);
  }

  private job<T>(fn: () => Promise<T>): Promise<T> {
    return this.host.ops.run(this.uuid, fn);
  }

  /** Called by the host on every state change from the event stream. */
  onState(state: VmState): void {
    if (state !== 'running' && state !== 'paused') this.cpuSample = null;
    this.view.onState(state);
  }

  closeConsole(): void {
    this.view.openConsole?.detach();
  }

  /** The host dropped this VM (undefined, or the host is closing). */
  close(): void {
    this.view.close();
  }

  /** what the display proxy connects to, once displayUrl() resolved it */
  get vncTarget(): VncTarget | null {
    return this.view.vncTarget;
  }

  // ------------------------------------------------------------------ lifecycle

  start(opts: { waitAgent: boolean }): Promise<void> {
    return this.job(async () => {
      // a built-in guest Flotilla made boots the built-in Linux this computer has now, as a local VM does
      const st = this.d.state;
      if (st === 'running' || st === 'paused') throw new FlotillaError('ALREADY_RUNNING', `${this.d.name} is already ${st}`);
      if (this.info().spec.source.kind === 'default' && this.d.meta && (st === 'stopped' || st === 'crashed')) await updateBootFiles(this.host.bootContext(), this.uuid, this.d.name, (p) => this.host.progress(uuidToId(this.uuid), p));
      await this.virsh.run(['start', '--domain', this.uuid]);
      await this.host.waitFor(this.uuid, (x) => x?.state === 'running', 30_000);
      if (opts.waitAgent) await waitDomainAgent(this.host, this.virsh, () => this.d, this.host.agentWaitMs);
    });
  }

  /** Graceful: libvirt's shutdown (agent, then ACPI), repeated until a deadline, then destroy (domain-shutdown.ts). Force: destroy. */
  stop(opts: { force: boolean }): Promise<void> {
    const run = async () => {
      if (opts.force) await this.virsh.run(['destroy', '--domain', this.uuid]);
      else {
        const { host, uuid } = this;
        const deadline = (at: string | null) => ((this.stopDeadline = at), host.emitVm(uuid));
        await shutdownDomain({ uuid, name: this.d.name, virsh: this.virsh, waitFor: (u, p, ms) => host.waitFor(u, p, ms), current: () => this.live(), note: (l) => host.note(l), now: Date.now, deadline }, host.stopDeadlineMs);
      }
      await this.host.waitFor(this.uuid, (x) => !x || x.state === 'stopped' || x.state === 'crashed', 30_000);
    };
    return opts.force ? run() : this.job(run);
  }

  /** A hard reset of the running domain (libvirt's `reset`, as QEMU's system_reset). */
  restart(): Promise<void> {
    return this.job(() => this.virsh.run(['reset', '--domain', this.uuid]).then(() => undefined));
  }
  pause(): Promise<void> {
    return this.job(async () => {
      // whether the agent answered when the domain was paused (libvirt's agent state is unknown
      // while it is): the resume then sets the guest's clock through it
      const agentReady = this.d.agent === 'ready';
      await this.virsh.run(['suspend', '--domain', this.uuid]);
      await this.host.waitFor(this.uuid, (x) => x?.state === 'paused', 10_000);
      this.agentBeforePause = agentReady;
    });
  }
  resume(): Promise<void> {
    return this.job(async () => {
      await this.virsh.run(['resume', '--domain', this.uuid]);
      await this.host.waitFor(this.uuid, (x) => x?.state === 'running', 10_000);
      // the guest's clock stood still while it was paused (guest-clock.ts)
      const how = this.agentBeforePause ? await setDomainClock(this.virsh, this.uuid) : null;
      this.agentBeforePause = false;
      if (how) this.host.note(`domain ${this.d.name}: guest clock set (${how}) after the pause`);
    });
  }

  // ------------------------------------------------------------------ guest access

  async exec(command: string[], opts: { stdin?: string | Buffer; timeoutMs: number }): Promise<ExecResult> {
    await this.agentUp();
    return guestExec(this.virsh, this.uuid, command, opts);
  }

  private agentUp(): Promise<void> {
    return agentForUse(this.host, this.virsh, () => this.d);
  }

  async stats(): Promise<{ cpuPercent: number; rssBytes: number } | null> {
    const st = this.d.state;
    if (st !== 'running' && st !== 'paused') return null;
    return this.statsFromValues(await domainStatValues(this.virsh, this.uuid));
  }

  /** CPU % since the last sample, and RSS, from domstats values (this domain's, or the host's read of all: statsAll). */
  statsFromValues(values: Map<string, number>): { cpuPercent: number; rssBytes: number } {
    const r = statsFrom(values, this.cpuSample);
    this.cpuSample = r.sample;
    return { cpuPercent: r.cpuPercent, rssBytes: r.rssBytes };
  }

  async logs(tail: number): Promise<LogEntry[]> {
    return this.host.logLines(this.d.name, tail);
  }

  // files through the domain's agent, in chunks that fit virsh's command line (domain-ops.ts)
  async readFile(path: string, range?: { offset: number; length: number }): Promise<Buffer> {
    await this.agentUp();
    return agentReadFile(virshAgentRequest(this.virsh, this.uuid), path, range, { chunkBytes: VIRSH_FILE_CHUNK_BYTES });
  }
  async writeFile(path: string, data: Buffer, opts: WriteFileOptions = {}): Promise<number> {
    await this.agentUp();
    return agentWriteFile(virshAgentRequest(this.virsh, this.uuid), path, data, opts, { chunkBytes: VIRSH_FILE_CHUNK_BYTES });
  }

  /**
   * Name, vCPUs and memory of a shut-off domain, its note (description) and autostart at any time
   * (LIBVIRT_SETTINGS), with libvirt's own commands (domain-edit.ts); the rest is `virsh edit`'s.
   */
  update(patch: VmPatch): Promise<void> {
    return this.job(async () => {
      const spec = this.info().spec;
      const st = this.d.state;
      const change = domainChange(spec, patch, { state: st, host: this.host.id, name: this.d.name });
      if (!change) return;
      try {
        // a built-in guest Flotilla made takes its hostname from its kernel command line
        await editDomain(this.virsh, this.uuid, { cpus: spec.cpus, memoryMiB: spec.memoryMiB, running: st === 'running' || st === 'paused', builtIn: spec.source.kind === 'default' }, change);
      } finally {
        // what did change shows, even when a later command failed
        await this.host.loadDomain(this.uuid).catch(() => undefined);
      }
    });
  }

  /** `flotilla ssh` into the built-in guest (ssh-access.ts); not a job: it waits for the guest's SSH server */
  sshInfo(): Promise<SshInfo> {
    const running = () => this.live()?.state === 'running';
    return libvirtSshInfo({ virsh: this.virsh, uuid: this.uuid, vm: this.info(), jump: this.host.conn.sshJump(), hostId: this.host.id, home: this.host.opts.home, readGuestFile: (path) => this.readFile(path), agentUp: () => this.agentUp(), running });
  }

  consoleSubscribe(key: string, cb: (data: string) => void): string {
    return this.view.console().subscribe(key, cb);
  }
  consoleUnsubscribe(key: string): void {
    this.view.openConsole?.unsubscribe(key); // stays attached (onState)
  }
  /** what the console is attached to: the lossless port, a console device, or virsh (no binding) */
  get consoleKind(): ConsoleKind | null {
    return this.view.openConsole?.kind ?? null;
  }
  consoleInput(data: string): boolean {
    return this.view.console().input(data);
  }

  // ------------------------------------------------------------------ snapshots (libvirt's own API)

  snapshotCreate(name: string | undefined, opts: { diskOnly: boolean }): Promise<SnapshotInfo> {
    return this.job(async () => {
      assertSnapshotAllowed({ name: this.d.name, stopped: this.info().state === 'stopped', shares: this.d.shares ?? [], uefi: this.d.uefi === true }, opts.diskOnly);
      const snap = name ?? defaultSnapshotName(new Date());
      await snapshotCreate(this.virsh, this.uuid, snap);
      return snapshotDetails(this.virsh, this.uuid, snap);
    });
  }
  async snapshots(): Promise<SnapshotInfo[]> {
    const names = await snapshotList(this.virsh, this.uuid);
    return Promise.all(names.map((n) => snapshotDetails(this.virsh, this.uuid, n)));
  }
  snapshotRevert(name: string): Promise<void> {
    return this.job(async () => {
      await snapshotRevert(this.virsh, this.uuid, name);
      // revert replaces the QEMU process: the event stream reports the new state
      await this.host.waitFor(this.uuid, (x) => x?.state === 'running' || x?.state === 'stopped' || x?.state === 'paused', 30_000);
    });
  }
  snapshotDelete(name: string): Promise<void> {
    return this.job(() => snapshotDelete(this.virsh, this.uuid, name));
  }

  // ------------------------------------------------------------------ clone and export (clone-domain.ts, transfers.ts)

  /** A full copy of the shut-off domain on the same host (linked clones are local only). */
  async clone(name: string, opts: { linked: boolean; start: boolean }): Promise<VmInfo> {
    if (opts.linked) throw new FlotillaError('UNSUPPORTED', `linked clones are made on the local host only (the base disk must never change, which nothing on ${this.host.id} would enforce); make a full clone`, { field: 'linked' });
    if (this.host.find(name)) throw new FlotillaError('NAME_TAKEN', `a domain named ${name} exists on host ${this.host.id}`, { field: 'name' });
    const uuid = await this.job(async () => {
      this.requireShutOff('cloning it');
      return cloneDomain(this.virsh, this.host.volumeJournal, { uuid: this.uuid, name: this.d.name, builtIn: this.diskRef().builtIn }, name);
    });
    return this.host.defined(uuid, opts.start);
  }

  /** To an archive on this computer (export-domain.ts), with progress on the tile and Cancel. */
  exportTo = (path: string, force: boolean): Promise<ExportResult> => this.host.transfers.exportVm(this.uuid, path, force, () => this.requireShutOff('exporting it'));
  cancelJob = (): boolean => this.host.transfers.cancelExport(this.uuid);

  // ------------------------------------------------------------------ shared folders (domain-shares.ts)

  async shares(): Promise<ShareInfo[]> {
    return (this.d.shares ?? []).map((s) => domainShareInfo(s, this.diskRef()));
  }
  async shareAdd(req: { hostPath: string; tag?: string; readOnly: boolean }): Promise<ShareInfo> {
    const share = await this.shutOffJob('adding a shared folder', () => addDomainShare(this.diskRef(), req));
    return domainShareInfo(share, { running: false, builtIn: this.diskRef().builtIn });
  }
  async shareRemove(tag: string): Promise<void> {
    // a tag it does not have is refused first, whatever its state
    await this.shutOffJob('removing a shared folder', () => removeDomainShare(this.diskRef(), tag, () => this.requireShutOff('removing a shared folder')), false);
  }

  // ------------------------------------------------------------------ disks (domain-disks.ts)

  private diskRef(): DomainRef {
    const d = this.d;
    return {
      virsh: this.virsh,
      uuid: this.uuid,
      name: d.name,
      host: this.host.id,
      local: !this.host.conn.master,
      running: d.state === 'running' || d.state === 'paused',
      builtIn: this.info().spec.source.kind === 'default' && d.meta !== null,
      snapshots: () => snapshotList(this.virsh, this.uuid),
      storageLock: (fn) => this.host.ops.run('storage', fn),
      journal: this.host.volumeJournal,
    };
  }

  /** INVALID_STATE unless the domain is shut off, naming what waits for that. */
  private requireShutOff(doing: string): void {
    const d = this.d;
    if (d.state !== 'stopped' && d.state !== 'crashed') throw new FlotillaError('INVALID_STATE', `stop ${d.name} before ${doing} (it is ${d.state})`);
  }

  /** A change to the shut-off domain's definition (`check`: refused first unless shut off), read again before the answer. */
  private shutOffJob<T>(doing: string, fn: () => Promise<T>, check = true): Promise<T> {
    return this.job(async () => {
      if (check) this.requireShutOff(doing);
      const out = await fn();
      await this.host.loadDomain(this.uuid);
      return out;
    });
  }

  disks(): Promise<DiskInfo[]> {
    return listDomainDisks(this.diskRef());
  }
  resizeDisk(disk: string | undefined, sizeGiB: number): Promise<DiskInfo> {
    return this.job(async () => {
      const st = this.d.state;
      if (st !== 'running' && st !== 'paused' && st !== 'stopped' && st !== 'crashed') throw new FlotillaError('INVALID_STATE', `${this.d.name} is ${st}; resize it once it is running or stopped`);
      return resizeDomainDisk(this.diskRef(), disk, sizeGiB);
    });
  }
  async addDisk(sizeGiB: number): Promise<void> {
    await this.shutOffJob('adding a disk', () => addDomainDisk(this.diskRef(), sizeGiB));
  }
  removeDisk(disk: string): Promise<void> {
    return this.shutOffJob('removing a disk', () => removeDomainDisk(this.diskRef(), disk));
  }

  // ------------------------------------------------------------------ CD (virsh change-media)

  /**
   * Puts an image (a path on the host) in the domain's CD drive, or empties it (null): the live
   * drive and the definition while it runs, the definition when it is shut off, as virt-manager
   * does. The domain is read again before this returns, so the answer shows the new medium.
   */
  changeMedia(iso: string | null): Promise<void> {
    return this.job(async () => {
      const d = this.d;
      if (!d.cdrom) throw new FlotillaError('UNSUPPORTED', `${d.name} has no CD drive; add one to its definition (virt-manager, or virsh edit on ${this.host.id}) to change CDs`, { what: 'media' });
      const st = d.state;
      if (st !== 'running' && st !== 'paused' && st !== 'stopped' && st !== 'crashed') throw new FlotillaError('INVALID_STATE', `${d.name} is ${st}; change its CD once it is running or stopped`);
      if (await changeDomainMedia(this.diskRef(), d.cdrom, iso)) await this.host.loadDomain(this.uuid);
    });
  }

  // ------------------------------------------------------------------ display (domain-view.ts)

  thumbnailSubscribe(key: string, cb: (pngBase64: string) => void): string | null {
    return this.view.thumbnailSubscribe(key, cb);
  }
  thumbnailUnsubscribe(key: string): void {
    this.view.thumbnailUnsubscribe(key);
  }
  vncEndpoint(): Promise<VncTarget> {
    return this.view.vncEndpoint();
  }

  /** A single-use loopback WebSocket URL for noVNC (the engine's display proxy, as for local VMs). */
  async displayUrl(): Promise<string> {
    await this.view.vncEndpoint();
    return this.host.display.open(this.uuid.replace(/-/g, ''));
  }
}
