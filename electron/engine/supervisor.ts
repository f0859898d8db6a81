// One VM at run time (the engine keeps one per VM): its state machine (shared/state.ts; every
// transition records a reason) and its operations, each run as a job of the VM's job queue
// (vm-job-queue.ts), so guards are checked where the work happens and force stop pre-empts
// whatever runs. The parts live beside it:
//   qemu-process.ts  the process and its identity      qmp-session.ts   QMP, health, reconnect
//   stop-ladder.ts   powerdown → quit → kill           exit-policy.ts   exit verdict, disk check, restart
//   agent-watch.ts   the guest agent and IPs           runtime-record.ts vms/<id>/runtime.json
//   vm-launch.ts     what a start needs                vm-jobs.ts       adoption and settling an exit
//   vm-logs.ts       lifecycle.log + qemu.log          vm-stop-jobs.ts  graceful and forced stop jobs
//
// Decisions worth knowing:
// - A pid proven ours by /proc whose QMP does not answer is adopted with qmpHealthy=false, not
//   marked crashed: it still holds its ports and disks, and killing it is never the engine's call.
// - QEMU's stdout/stderr are pipes to the engine: QEMU ignores SIGPIPE, so when a short-lived
//   engine (the CLI) exits the VM keeps running; output after that is lost until adoption.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskCheck, LastExit, LogEntry, PortEntry, Progress } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { changedSettings, LOCAL_SETTINGS, settingsNeedingStop, settingWords, type VmPatch, type VmSpec } from '../../shared/spec';
import type { AgentState, VmState } from '../../shared/state';
import { canDelete, canEdit, canPause, canRestart, canResume, canStart, canTransition, isActive } from '../../shared/state';
import type { AgentClient } from './agent-client';
import { AgentWatch } from './agent-watch';
import { CappedLog } from './capped-log';
import { ConsoleHub } from './console-hub';
import { RestartPolicy } from './exit-policy';
import { qemuImgCheck, type CheckResult } from './images';
import type { HomeLayout } from './paths';
import type { PortAllocator } from './port-allocator';
import type { DefaultGuestBoot } from './qemu-args';
import type { QemuProcess, SpawnFn } from './qemu-process';
import type { QmpClient } from './qmp-client';
import type { QmpSession } from './qmp-session';
import type { BackoffOptions } from './restart-backoff';
import { emptyRecord, RuntimeRecordFile, type RuntimeRecord } from './runtime-record';
import { syncGuestClock } from './guest-clock';
import { ShareHelpers } from './shares/share-helpers';
import { screendumpPng, Thumbnailer } from './thumbnails';
import { VmJobQueue, type JobBody, type JobOptions } from './vm-job-queue';
import { VmJobs } from './vm-jobs';
import { VmStopJobs } from './vm-stop-jobs';
import { mergedTail } from './vm-logs';

export { describeExit } from './exit-policy';
export { parseHostfwdFailure, vmStateOfStatus } from './vm-launch';
export { stripStamp } from './vm-logs';
export { RUNTIME_FILE } from './runtime-record';
export type { SpawnFn } from './qemu-process';

export interface SupervisorDeps {
  layout: HomeLayout;
  ports: PortAllocator;
  spawn: SpawnFn;
  qemuBinary: string;
  accel: 'kvm' | 'tcg' | 'kvm:tcg';
  /** kernel/initrd/append of the built default guest; throws DEFAULT_IMAGE_MISSING if not built */
  defaultGuest: (vmName: string) => Promise<DefaultGuestBoot>;
  /** graceful stop deadline before `quit` */
  stopDeadlineMs: number;
  /** a graceful stop presses the power button again this often (default 5 s) */
  powerdownRepeatMs?: number;
  /** how long the agent may stay silent after boot before it is shown as unavailable */
  agentGraceMs: number;
  backoff?: BackoffOptions;
  /** `qemu-img check` after an unclean end (tests gate it) */
  diskCheck?: (path: string) => Promise<CheckResult>;
  /** asked inside the start job; throws to refuse the start (a linked clone's base must not change) */
  launchGuard?: (id: string) => void;
  now?: () => number;
  /** records the VM's owned disk files in its spec (a built-in VM's disk made at start) */
  setDisks?: (id: string, disks: string[]) => Promise<unknown>;
  /** the engine user's SSH public keys, passed to built-in VMs at boot (default: ~/.ssh/*.pub) */
  userPublicKeys?: () => Promise<string[]>;
}

export interface SupervisorHooks {
  changed(): void;
  log(entry: LogEntry): void;
  progress(p: Progress | null): void;
}

export class Supervisor {
  state: VmState = 'stopped';
  reason = 'not started';
  stateSince: string;
  progress: Progress | null = null;
  /** while a graceful stop runs: when it turns into quit/kill (for the UI's countdown) */
  stopDeadline: string | null = null;

  readonly console: ConsoleHub;
  readonly thumbnails: Thumbnailer;
  readonly jobs: VmJobQueue;
  readonly agentWatch: AgentWatch;
  readonly qemuLog: CappedLog;
  readonly now: () => number;
  readonly restartPolicy: RestartPolicy;
  readonly recordFile: RuntimeRecordFile;
  record: RuntimeRecord = emptyRecord();
  /** the virtiofsd helpers of the VM's shared folders */
  readonly shareHelpers: ShareHelpers;
  /** the QEMU process, while there is one */
  proc: QemuProcess | null = null;
  session: QmpSession | null = null;
  runningSince = 0;
  /** the engine let go of this VM (shutdown or delete): timers and loops end */
  detached = false;

  private readonly lifecycleLog: CappedLog;
  private readonly run: VmJobs;
  private readonly stops: VmStopJobs;

  constructor(
    readonly id: string,
    private readonly getSpec: () => VmSpec,
    readonly deps: SupervisorDeps,
    readonly hooks: SupervisorHooks,
  ) {
    this.now = deps.now ?? Date.now;
    this.stateSince = new Date(this.now()).toISOString();
    const logs = deps.layout.vmLogsDir(id);
    this.qemuLog = new CappedLog(join(logs, 'qemu.log'));
    this.lifecycleLog = new CappedLog(join(logs, 'lifecycle.log'));
    this.console = new ConsoleHub({ sockPath: deps.layout.serialSock(id), logFile: join(logs, 'serial.log') });
    this.thumbnails = new Thumbnailer(() => this.captureScreen());
    this.restartPolicy = new RestartPolicy(deps.backoff);
    this.recordFile = new RuntimeRecordFile(deps.layout.vmDir(id));
    this.jobs = new VmJobQueue((p) => this.setProgress(p));
    this.agentWatch = new AgentWatch(deps.layout.agentSock(id), deps.agentGraceMs, this.now, {
      name: () => this.spec.name,
      state: () => this.state,
      log: (t) => this.lifecycle(t),
      changed: () => this.agentChanged(),
    });
    this.shareHelpers = new ShareHelpers({
      id,
      layout: deps.layout,
      spawn: deps.spawn,
      record: () => this.record,
      saveRecord: () => this.saveRecord(),
      log: (t) => this.lifecycle(t),
      changed: () => this.hooks.changed(),
      qemuAlive: async () => this.proc !== null && this.proc.exited === null && (await this.proc.checkAlive()),
    });
    this.run = new VmJobs(this);
    this.stops = new VmStopJobs(this, (proc, reason) => this.run.settle(proc, reason));
  }

  get spec(): VmSpec {
    return this.getSpec();
  }
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }
  get adopted(): boolean {
    return this.proc?.adopted ?? false;
  }
  get qmpHealthy(): boolean {
    return this.session?.healthy ?? true;
  }
  get qmp(): QmpClient | null {
    return this.session?.client ?? null;
  }
  get agentState(): AgentState {
    return this.agentWatch.state;
  }
  /** what the guest's agent says it runs, once it has said (guest-os.ts) */
  get guestOs(): string | null {
    return this.agentWatch.os;
  }

  get ips(): string[] {
    return this.agentWatch.ips;
  }
  /** set when agent state and IPs are the last known ones from the runtime record */
  get agentLastSeen(): string | null {
    return this.agentWatch.seenAt;
  }
  get lastExit(): LastExit | null {
    return this.record.lastExit;
  }
  get lastDiskCheck(): DiskCheck | null {
    return this.record.lastDiskCheck;
  }

  /** Cancel the running long job (export, clone, …); false when none runs. */
  cancelJob(): boolean {
    return this.jobs.cancel();
  }

  /** Run `body` as a job of this VM (the API later long jobs such as snapshots use). */
  job<T>(opts: JobOptions, body: JobBody<T>): Promise<T> {
    return this.jobs.run(opts, body);
  }

  // ------------------------------------------------------------------ operations

  /** Load what the last engine knew, then adopt a live QEMU of ours or settle the state. */
  init(): Promise<void> {
    return this.jobs.run({ kind: 'adopt' }, () => this.run.init());
  }

  async start(opts: { waitAgent?: boolean; agentTimeoutMs?: number; reason?: string } = {}): Promise<void> {
    await this.jobs.run({ kind: 'start', cancellable: true }, async (signal) => {
      if (isActive(this)) throw new FlotillaError('ALREADY_RUNNING', `${this.spec.name} is already ${this.state}`);
      if (!canStart(this)) throw new FlotillaError('INVALID_STATE', `cannot start ${this.spec.name} while it is ${this.state}`);
      this.deps.launchGuard?.(this.id);
      this.restartPolicy.reset();
      await this.run.launch(signal, opts.reason ?? 'start requested', 'stopped');
    });
    if (opts.waitAgent) await this.waitAgent(opts.agentTimeoutMs ?? 180_000);
  }

  /** Wait until the agent answers; AGENT_UNAVAILABLE if it gives up or the VM goes away. */
  waitAgent(timeoutMs: number): Promise<void> {
    return this.agentWatch.waitReady(timeoutMs);
  }

  /** Graceful (powerdown, then quit at the deadline) or forced; vm-stop-jobs.ts runs both. */
  stop(opts: { force?: boolean; deadlineMs?: number; reason?: string } = {}): Promise<void> {
    return this.stops.stop(opts);
  }

  async pause(): Promise<void> {
    await this.jobs.run({ kind: 'pause', cancellable: true }, async () => {
      if (!canPause(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a running VM can be paused`);
      await this.requireQmp().execute('stop');
      if (this.state === 'running') this.transition('paused', 'paused by the user');
    });
  }

  async resume(): Promise<void> {
    await this.jobs.run({ kind: 'resume', cancellable: true }, async () => {
      if (!canResume(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a paused VM can be resumed`);
      await this.requireQmp().execute('cont');
      if (this.state === 'paused') this.transition('running', 'resumed by the user');
      this.agentWatch.nudge();
      // the guest's clock stood still while it was paused (guest-clock.ts); an agent that answered
      // before the pause (or, for an engine that just adopted the VM, the last time one looked)
      // sets it now, before the resume returns: a few seconds at most
      const how = this.agentWatch.state === 'ready' ? await this.setGuestClock(3000) : null;
      if (how) this.lifecycle(`guest clock set to the host's (${how}): it stood still while paused`);
    });
  }

  /** A hardware reset of the same QEMU process (same pid, same ports). */
  async restart(): Promise<void> {
    await this.jobs.run({ kind: 'restart', cancellable: true }, async () => {
      if (!canRestart(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a running or paused VM can be restarted`);
      const qmp = this.requireQmp();
      await qmp.execute('system_reset');
      if (this.state === 'paused') {
        await qmp.execute('cont');
        this.transition('running', 'reset and resumed by the user');
      } else {
        this.reason = 'reset by the user';
        this.stateSince = new Date(this.now()).toISOString();
        this.lifecycle('reset by the user');
        this.hooks.changed();
      }
      this.agentWatch.reset();
    });
  }

  /**
   * Change the spec (`apply` writes it). Settings that wait for a stopped VM (settingsNeedingStop:
   * its hardware, firmware and display) are refused while it is not; the rest (its name, note,
   * forwards and what Flotilla does around it) apply at any time. Checked in the queue, against
   * the spec as it is then; `apply` gets the settings the patch changes.
   */
  update<T>(patch: VmPatch, apply: (changed: (keyof VmPatch)[]) => Promise<T>): Promise<T> {
    return this.jobs.run({ kind: 'update' }, async () => {
      const changed = changedSettings(this.spec, patch);
      const needStop = settingsNeedingStop(changed, LOCAL_SETTINGS);
      if (needStop.length > 0 && !canEdit(this)) {
        throw new FlotillaError('INVALID_STATE', `stop ${this.spec.name} before changing its ${settingWords(needStop)} (it is ${this.state}); its ${settingWords(LOCAL_SETTINGS.live)} can change while it runs`);
      }
      return apply(changed);
    });
  }

  /** Delete the VM (`remove` deletes its files), only while it is stopped: checked in the queue. */
  delete(remove: () => Promise<void>): Promise<void> {
    return this.jobs.run({ kind: 'delete' }, async () => {
      if (!canDelete(this)) throw new FlotillaError('INVALID_STATE', `stop ${this.spec.name} before deleting it`);
      await remove();
    });
  }

  requireQmp(): QmpClient {
    const qmp = this.qmp;
    if (!qmp) throw new FlotillaError('QMP_ERROR', `QEMU of ${this.spec.name} is not answering on QMP`);
    return qmp;
  }

  /** Sets the guest's clock to the host's through its agent (guest-clock.ts); null when it could not. */
  setGuestClock(waitMs: number): Promise<'guest-set-time' | 'date' | null> {
    return this.agentWatch.agent(waitMs).then(syncGuestClock, () => null);
  }

  /** The agent, waiting briefly for it when it is still connecting. */
  agentClient(waitMs = 30_000): Promise<AgentClient> {
    return this.agentWatch.agent(waitMs);
  }

  vncSocket(): string | null {
    if (this.spec.display !== 'vnc' || !isActive(this) || this.pid === null) return null;
    return this.deps.layout.vncSock(this.id);
  }

  private async captureScreen(): Promise<Buffer | null> {
    const qmp = this.qmp;
    if (this.spec.display !== 'vnc' || !qmp || (this.state !== 'running' && this.state !== 'paused')) return null;
    return screendumpPng(qmp, join(this.deps.layout.runDir(this.id), 'shot.png'));
  }

  logs(tail: number): Promise<LogEntry[]> {
    return mergedTail(this.lifecycleLog, this.qemuLog, tail);
  }

  transition(to: VmState, reason: string): void {
    if (!canTransition(this.state, to)) {
      throw new FlotillaError('INVALID_STATE', `${this.spec.name} cannot go from ${this.state} to ${to}`);
    }
    const from = this.state;
    this.state = to;
    this.reason = reason;
    this.stateSince = new Date(this.now()).toISOString();
    if (to !== 'stopping') this.stopDeadline = null;
    this.lifecycle(`${from} → ${to}: ${reason}`);
    this.hooks.changed();
  }

  lifecycle(text: string): void {
    const t = new Date(this.now()).toISOString();
    this.lifecycleLog.write(`${t} ${text.replace(/\n/g, ' ')}\n`);
    this.hooks.log({ t, source: 'lifecycle', text });
  }

  setProgress(p: Progress | null): void {
    this.progress = p;
    this.hooks.progress(p);
    this.hooks.changed();
  }

  private agentChanged(): void {
    const w = this.agentWatch;
    // kept for the next engine (a one-shot CLI engine answers `list` from it)
    if (w.seenAt === null && (w.state === 'ready' || w.state === 'unavailable')) {
      this.record.agent = w.state;
      this.record.ips = [...w.ips];
      this.record.agentSeenAt = new Date(this.now()).toISOString();
      this.saveRecord();
    }
    this.hooks.changed();
  }

  saveRecord(): void {
    this.recordFile.save(this.record);
  }

  /** Let pending writes land (tests, engine close). */
  async flush(): Promise<void> {
    await this.recordFile.flush();
  }

  /** Forwarded ports of the running QEMU. */
  ports(): PortEntry[] {
    return this.deps.ports.entries(this.id);
  }

  /** Remove the run dir entirely (VM deleted). */
  async removeRunDir(): Promise<void> {
    await rm(this.deps.layout.runDir(this.id), { recursive: true, force: true });
  }

  diskCheck(path: string): Promise<CheckResult> {
    return (this.deps.diskCheck ?? qemuImgCheck)(path);
  }

  /**
   * Let go of QEMU without stopping it (engine shutdown): it keeps running detached and the
   * next engine adopts it.
   */
  async detach(): Promise<void> {
    this.detached = true;
    this.restartPolicy.cancel();
    this.session?.end();
    this.session = null;
    this.agentWatch.end();
    this.thumbnails.close();
    this.proc?.release();
    this.shareHelpers.release();
    await this.console.close();
    await this.recordFile.close();
    await this.lifecycleLog.close();
    await this.qemuLog.close();
  }
}
