// One VM's QEMU, supervised the way lima's QEMU driver does it: spawn detached in its own
// process group with an argument array and -pidfile, pipe stdout/stderr into a capped log,
// talk QMP, keep a promise for the process's exit, stop with powerdown → deadline → quit →
// SIGKILL, and clean pidfile and sockets every time. The state machine is shared/state.ts;
// every transition records a reason. Also: crash detection (child 'exit' for our own
// children; QMP close + pid polling for adopted ones), the on-failure restart policy,
// adoption of a live QEMU on engine start, and the guest agent's readiness loop.
//
// Decisions worth knowing:
// - vms/<id>/runtime.json (beside vm.json, not in it: the spec is the user's, this is the
//   engine's) keeps wantRunning/stopPending/lastExit/lastDiskCheck across engine restarts, so
//   a QEMU missing at start is told apart as a crash or a stop, and a stop cut short by an
//   engine death is finished by the next engine.
// - A pid proven ours by /proc (exe + our QMP socket in its cmdline) whose QMP does not answer
//   is adopted with qmpHealthy=false, not marked crashed: it still holds its ports and disks,
//   and killing it is never the engine's call. QMP is retried quietly.
// - QEMU's stdout/stderr are pipes to the engine: QEMU ignores SIGPIPE, so when a short-lived
//   engine (the CLI) exits the VM keeps running; output after that is lost until adoption.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { copyFile, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AgentState, VmState } from '../../shared/state';
import { canForceStop, canPause, canRestart, canResume, canStart, canStop, canTransition, isActive } from '../../shared/state';
import type { DiskCheck, LastExit, LogEntry, PortEntry, Progress } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import type { VmSpec } from '../../shared/spec';
import { AgentClient } from './agent-client';
import { writeFileAtomic } from './atomic-file';
import { CappedLog } from './capped-log';
import { ConsoleHub } from './console-hub';
import { qemuImgCheck, qemuImgInfo } from './images';
import type { KeyedMutex } from './mutex';
import type { HomeLayout } from './paths';
import type { PortAllocator } from './port-allocator';
import { findQemuBySocket, isOurQemu, isPidAlive, readPidFile } from './proc-identity';
import { buildQemuArgs, OVMF_VARS_FILE, OVMF_VARS_TEMPLATE, type DefaultGuestBoot, type QemuResources } from './qemu-args';
import { QmpClient } from './qmp-client';
import { RestartBackoff, type BackoffOptions } from './restart-backoff';
import { parseProcStat } from './stats';
import { screendumpPng, Thumbnailer } from './thumbnails';

export type SpawnFn = (cmd: string, args: readonly string[], opts: SpawnOptions) => ChildProcess;

export interface SupervisorDeps {
  layout: HomeLayout;
  ports: PortAllocator;
  mutex: KeyedMutex;
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
  now?: () => number;
}

export interface SupervisorHooks {
  changed(): void;
  log(entry: LogEntry): void;
  progress(p: Progress | null): void;
}

/** What survives an engine restart besides the spec (vms/<id>/runtime.json). */
interface RuntimeRecord {
  /** the user wants this VM up: a missing QEMU at engine start is a crash, not a stop */
  wantRunning: boolean;
  /** a stop began and QEMU had not exited yet */
  stopPending?: boolean;
  /** the last QEMU crashed (lastExit says how) and nothing started it since */
  crashed?: boolean;
  lastExit: LastExit | null;
  lastDiskCheck: DiskCheck | null;
}

export const RUNTIME_FILE = 'runtime.json';
const START_ATTEMPTS = 3;
const QMP_CONNECT_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 50;
const LIVENESS_POLL_MS = 250;
const AGENT_PING_MS = 5000;
const QMP_HEALTH_MS = 5000;
/** how often a graceful stop presses the power button again */
const POWERDOWN_REPEAT_MS = 5000;
/**
 * After SIGKILL the exit is certain; what remains is our own cleanup (sockets, port release with
 * an fsync'd ports.json, disk check), which under a 20-VM stop takes seconds. A stop returns only
 * once the VM is really stopped, so the next start never meets "already stopping".
 */
const AFTER_KILL_SETTLE_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** The host port QEMU could not bind, from its "Could not set up host forwarding rule" error. */
export function parseHostfwdFailure(lines: readonly string[]): { proto: 'tcp' | 'udp'; hostPort: number } | null {
  for (const l of lines) {
    const m = /Could not set up host forwarding rule '(tcp|udp):[^:']*:(\d+)-/.exec(l);
    if (m) return { proto: m[1] as 'tcp' | 'udp', hostPort: Number(m[2]) };
  }
  return null;
}

/** Human words for how a QEMU process ended. */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `QEMU was killed by ${signal}`;
  if (code === null) return 'QEMU exited (exit status unknown: it was not started by this engine)';
  return code === 0 ? 'QEMU exited' : `QEMU exited with code ${code}`;
}

/** Lines of our timestamped logs are "<ISO time> <text>". */
export function stripStamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '');
}

/**
 * Our state for a QMP run status: only 'running' runs guest code; every other status
 * (paused, prelaunch, suspended, inmigrate, io-error, ...) is paused. Spawn, adoption and
 * the health probe must agree, or an adopted VM flips state on the next probe.
 */
export function vmStateOfStatus(status: string): 'running' | 'paused' {
  return status === 'running' ? 'running' : 'paused';
}

interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export class Supervisor {
  state: VmState = 'stopped';
  reason = 'not started';
  stateSince: string;
  pid: number | null = null;
  agentState: AgentState = 'unknown';
  ips: string[] = [];
  progress: Progress | null = null;
  lastExit: LastExit | null = null;
  lastDiskCheck: DiskCheck | null = null;
  adopted = false;
  qmpHealthy = true;

  readonly console: ConsoleHub;
  readonly thumbnails: Thumbnailer;

  private readonly qemuLog: CappedLog;
  private readonly lifecycleLog: CappedLog;
  private readonly backoff: RestartBackoff;
  private readonly now: () => number;
  private child: ChildProcess | null = null;
  private qmp: QmpClient | null = null;
  private agent: AgentClient | null = null;
  /** bumps with every QEMU process; stale callbacks of an older one are ignored */
  private generation = 0;
  private launching = false;
  private startTime: number | null = null;
  private runningSince = 0;
  private stopRequested: { reason: string } | null = null;
  private guestShutdown = false;
  private exitInfo: ExitInfo | null = null;
  private exitWaiters: (() => void)[] = [];
  private pollTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private wantRunning = false;
  private stopPending = false;
  private crashedRecord = false;
  private closed = false;
  private agentWaiters: (() => void)[] = [];
  private onLaunchExit: (() => void) | null = null;
  private wakeAgentLoop: (() => void) | null = null;
  /** our own stop/cont is in flight: its STOP/RESUME event is not news, the caller records the reason */
  private ownRunChange = 0;
  /** what the current QEMU process printed (the log file also holds earlier runs) */
  private recentOutput: string[] = [];
  private ipsFetchedAt = 0;
  private runtimeWrite: Promise<void> = Promise.resolve();

  constructor(
    readonly id: string,
    private readonly getSpec: () => VmSpec,
    private readonly deps: SupervisorDeps,
    private readonly hooks: SupervisorHooks,
  ) {
    this.now = deps.now ?? Date.now;
    this.stateSince = new Date(this.now()).toISOString();
    const logs = deps.layout.vmLogsDir(id);
    this.qemuLog = new CappedLog(join(logs, 'qemu.log'));
    this.lifecycleLog = new CappedLog(join(logs, 'lifecycle.log'));
    this.console = new ConsoleHub({ sockPath: deps.layout.serialSock(id), logFile: join(logs, 'serial.log') });
    this.thumbnails = new Thumbnailer(() => this.captureScreen());
    this.backoff = new RestartBackoff(deps.backoff);
  }

  get spec(): VmSpec {
    return this.getSpec();
  }

  // ------------------------------------------------------------------ engine start

  /** Load what the last engine knew, then adopt a live QEMU of ours or settle the state. */
  async init(): Promise<void> {
    await this.loadRuntime();
    const { layout } = this.deps;
    const qmpSock = layout.qmpSock(this.id);
    let pid = await readPidFile(layout.pidFile(this.id));
    // An engine killed between spawn and QEMU writing its pidfile leaves a QEMU we can
    // only find by its (unique) QMP socket path.
    // (Only worth a /proc scan when the run dir exists: a spawn always creates it first.)
    if (pid === null && (await stat(layout.runDir(this.id)).catch(() => null))) pid = await findQemuBySocket(qmpSock);
    if (pid !== null) {
      const verdict = await isOurQemu(pid, qmpSock);
      if (verdict.ours) {
        await this.adopt(pid);
        return;
      }
      this.lifecycle(`not adopting: ${verdict.why}; leaving that process alone`);
    }
    await this.cleanRunFiles();
    await this.deps.ports.release(this.id);
    this.stopPending = false;
    if (this.wantRunning) {
      this.state = 'crashed';
      this.reason = 'QEMU was not running when the engine started';
      this.lastExit = {
        at: new Date(this.now()).toISOString(),
        code: null,
        signal: null,
        reason: this.reason,
        logTail: await this.qemuTail(),
      };
      this.lifecycle(`→ crashed: ${this.reason}`);
      await this.checkDisks();
      this.wantRunning = false;
      this.crashedRecord = true;
      this.saveRuntime();
      if (this.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
    } else if (this.crashedRecord) {
      // crashed under an earlier engine and not started since: still crashed, same reason
      this.state = 'crashed';
      this.reason = this.lastExit?.reason ?? 'QEMU crashed';
      if (this.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
    } else {
      this.state = 'stopped';
      this.reason = this.lastExit?.reason ?? 'not started';
    }
  }

  private async adopt(pid: number): Promise<void> {
    const gen = ++this.generation;
    this.pid = pid;
    this.adopted = true;
    this.exitInfo = null;
    this.stopRequested = null;
    this.guestShutdown = false;
    this.startTime = await this.readStartTime(pid);
    await this.deps.ports.mark(this.id, this.deps.ports.entries(this.id));
    let status = 'running';
    try {
      const qmp = await QmpClient.connect(this.deps.layout.qmpSock(this.id), { timeoutMs: 3000 });
      this.attachQmp(qmp, gen);
      status = (await qmp.execute<{ status: string }>('query-status')).status;
      this.qmpHealthy = true;
    } catch (err) {
      // Proven ours by /proc but QMP is silent: never kill it; keep trying to reach it.
      this.qmpHealthy = false;
      this.lifecycle(`adopted QEMU ${pid} but QMP does not answer (${(err as Error).message}); will keep trying`);
      void this.reconnectQmp(gen);
    }
    this.state = vmStateOfStatus(status);
    this.reason = `adopted running QEMU (pid ${pid})`;
    this.stateSince = new Date(this.now()).toISOString();
    this.runningSince = this.now();
    // the engine that died was in the middle of stopping this VM: finish that stop
    const stopWasRequested = this.stopPending;
    this.wantRunning = true;
    this.crashedRecord = false;
    this.lifecycle(`→ ${this.state}: ${this.reason}`);
    this.startLivenessPoll(gen);
    this.console.attach();
    void this.agentLoop(gen);
    this.hooks.changed();
    if (stopWasRequested) {
      this.lifecycle('a stop was requested before the engine restarted; finishing it');
      void this.stop({ reason: 'stopped (requested before the engine restarted)' }).catch((err: unknown) =>
        this.lifecycle(`could not finish the stop: ${(err as Error).message}`),
      );
    }
  }

  // ------------------------------------------------------------------ start

  async start(opts: { waitAgent?: boolean; agentTimeoutMs?: number } = {}): Promise<void> {
    await this.deps.mutex.run(this.id, async () => {
      if (isActive(this)) {
        throw new FlotillaError('ALREADY_RUNNING', `${this.spec.name} is already ${this.state}`);
      }
      if (!canStart(this)) throw new FlotillaError('INVALID_STATE', `cannot start ${this.spec.name} while it is ${this.state}`);
      this.cancelRestart();
      this.backoff.reset();
      await this.launch('start requested', 'stopped');
    });
    if (opts.waitAgent) await this.waitAgent(opts.agentTimeoutMs ?? 180_000);
  }

  /** Wait until the agent answers; AGENT_UNAVAILABLE if it gives up or the VM goes away. */
  async waitAgent(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while (this.agentState !== 'ready') {
      if (!isActive(this)) throw new FlotillaError('AGENT_UNAVAILABLE', `${this.spec.name} is ${this.state}; its agent cannot answer`);
      if (this.agentState === 'unavailable') {
        throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${this.spec.name} does not answer (is qemu-guest-agent running in the guest?)`);
      }
      const left = deadline - this.now();
      if (left <= 0) {
        throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${this.spec.name} did not answer within ${Math.round(timeoutMs / 1000)} s`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.agentWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Spawn QEMU and bring it to running. The caller holds the VM's mutex. */
  private async launch(reason: string, failState: 'stopped' | 'crashed'): Promise<void> {
    this.transition('starting', reason);
    this.stopRequested = null;
    this.guestShutdown = false;
    this.adopted = false;
    this.launching = true;
    const spec = this.spec;
    try {
      const res = await this.resources(spec);
      await this.deps.ports.release(this.id);
      let forwards = await this.deps.ports.allocateMany(
        this.id,
        spec.forwards.map((f) => ({ purpose: 'forward' as const, proto: f.proto, guestPort: f.guestPort, hostPort: f.hostPort })),
      );
      for (let attempt = 1; ; attempt++) {
        const failure = await this.spawnAndConnect(spec, { ...res, forwards });
        if (!failure) break;
        const stop = this.pendingStop();
        if (stop) throw new FlotillaError('QEMU_FAILED', `start of ${spec.name} was aborted: ${stop.reason}`);
        const bind = parseHostfwdFailure(failure.tail);
        const ours = bind !== null && forwards.some((f) => f.hostPort === bind.hostPort && f.proto === bind.proto);
        if (bind && ours && attempt < START_ATTEMPTS) {
          const requested = spec.forwards.some((f) => f.hostPort === bind.hostPort && f.proto === bind.proto);
          if (requested) {
            throw new FlotillaError('PORT_TAKEN', `host port ${bind.hostPort}/${bind.proto} is already in use; choose another port for this forward`, {
              hostPort: bind.hostPort,
              proto: bind.proto,
            });
          }
          this.lifecycle(`QEMU could not bind host port ${bind.hostPort}; retrying with a fresh port (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
          await this.deps.ports.replace(this.id, bind.hostPort);
          forwards = this.deps.ports.entries(this.id).filter((p) => p.purpose === 'forward');
          continue;
        }
        const last = failure.tail.filter((l) => l.trim()).slice(-3).join(' | ') || describeExit(failure.exit.code, failure.exit.signal);
        throw new FlotillaError('QEMU_FAILED', `QEMU failed to start ${spec.name}: ${last}`, { logTail: failure.tail });
      }
      this.launching = false;
      this.wantRunning = true;
      this.crashedRecord = false;
      this.saveRuntime();
      if (this.exitInfo) {
        // died between QMP answering and now: let the exit path report it
        this.finishExit();
      }
    } catch (err) {
      this.launching = false;
      await this.killIfOurs();
      // the exit of a QEMU we just killed (or that failed) is part of this failed start, not a crash
      this.generation++;
      this.teardownProcess();
      await this.cleanRunFiles();
      await this.deps.ports.release(this.id);
      const why = err instanceof Error ? err.message : String(err);
      const to = this.stopRequested ? 'stopped' : failState;
      if (this.stopRequested) this.stopRequested = null;
      if (this.state !== to && canTransition(this.state, to)) this.transition(to, `start failed: ${why}`);
      this.lastExit = { at: new Date(this.now()).toISOString(), code: null, signal: null, reason: `start failed: ${why}`, logTail: this.recentOutput.length ? this.recentOutput.slice(-LOG_TAIL_LINES) : await this.qemuTail() };
      this.wantRunning = false;
      this.crashedRecord = this.state === 'crashed';
      this.saveRuntime();
      this.hooks.changed();
      this.resolveExitWaiters();
      throw err;
    }
  }

  private async resources(spec: VmSpec): Promise<Omit<QemuResources, 'forwards'>> {
    const { layout } = this.deps;
    await layout.ensureRunDir(this.id);
    await this.cleanRunFiles();
    const vmDir = layout.vmDir(this.id);
    const res: Omit<QemuResources, 'forwards'> = {
      qemuBinary: this.deps.qemuBinary,
      accel: this.deps.accel,
      qmpSock: layout.qmpSock(this.id),
      serialSock: layout.serialSock(this.id),
      agentSock: layout.agentSock(this.id),
      vncSock: layout.vncSock(this.id),
      pidFile: layout.pidFile(this.id),
      vmDir,
    };
    const src = spec.source;
    if (src.kind === 'default') res.defaultGuest = await this.deps.defaultGuest(spec.name);
    if (src.kind === 'disk' && src.mode === 'reference') res.referenceDiskFormat = (await qemuImgInfo(src.path)).format;
    if (src.kind === 'kernel' && src.disk) res.referenceDiskFormat = (await qemuImgInfo(src.disk)).format;
    if (spec.firmware === 'uefi') {
      const vars = join(vmDir, OVMF_VARS_FILE);
      // normally copied at create time; recreate if the user removed it
      await copyFile(OVMF_VARS_TEMPLATE, vars, 1 /* COPYFILE_EXCL */).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      res.ovmfVars = vars;
    }
    return res;
  }

  /** One QEMU process until QMP reports it running. Returns the failure if it died first. */
  private async spawnAndConnect(spec: VmSpec, res: QemuResources): Promise<{ exit: ExitInfo; tail: string[] } | null> {
    const args = buildQemuArgs(spec, res);
    const gen = ++this.generation;
    this.exitInfo = null;
    this.recentOutput = [];
    this.lifecycle(`spawning ${this.deps.qemuBinary} ${args.join(' ')}`);
    // QEMU creates its sockets, pidfile and screendumps with our umask: make them 0600 from
    // birth (the child inherits the umask at fork, inside this synchronous call)
    const oldUmask = process.umask(0o077);
    let child: ChildProcess;
    try {
      child = this.deps.spawn(this.deps.qemuBinary, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: res.vmDir,
      });
    } finally {
      process.umask(oldUmask);
    }
    this.child = child;
    this.pid = child.pid ?? null;
    const closed = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    this.pipeOutput(child);
    child.once('error', (err) => {
      const line = `could not run ${this.deps.qemuBinary}: ${err.message}`;
      this.qemuLog.write(`${new Date(this.now()).toISOString()} ${line}\n`);
      this.remember([line]);
      this.onProcessExit(gen, { code: 127, signal: null });
    });
    child.once('exit', (code, signal) => this.onProcessExit(gen, { code, signal }));

    const died = new Promise<'died'>((resolve) => (this.onLaunchExit = () => resolve('died')));
    const qmp = await Promise.race([this.connectQmpLoop(res.qmpSock, gen), died]);
    if (qmp === 'died' || qmp === null || this.exitInfo) {
      if (qmp && qmp !== 'died') qmp.close();
      if (!this.exitInfo) {
        // QMP never came up but QEMU lives: treat as a failed start
        await this.killIfOurs();
      }
      await Promise.race([closed, sleep(1000)]);
      const exit = this.exitInfo ?? { code: null, signal: null };
      this.teardownProcess();
      return { exit, tail: this.recentOutput.slice(-LOG_TAIL_LINES) };
    }
    this.attachQmp(qmp, gen);
    await this.deps.layout.restrictSockets(this.id).catch(() => undefined);
    this.startTime = this.pid ? await this.readStartTime(this.pid) : null;
    const status = (await qmp.execute<{ status: string }>('query-status')).status;
    this.runningSince = this.now();
    this.transition(vmStateOfStatus(status), `QEMU is ${status} (pid ${this.pid})`);
    this.console.attach();
    void this.agentLoop(gen);
    return null;
  }

  private pipeOutput(child: ChildProcess): void {
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        if (partial.length > 8192) {
          lines.push(partial);
          partial = '';
        }
        const stamp = new Date(this.now()).toISOString();
        if (lines.length) this.qemuLog.write(lines.map((l) => `${stamp} ${l}\n`).join(''));
        this.remember(lines);
      });
      stream.on('end', () => {
        if (partial) {
          this.qemuLog.write(`${new Date(this.now()).toISOString()} ${partial}\n`);
          this.remember([partial]);
        }
        partial = '';
      });
      stream.on('error', () => undefined);
    }
  }

  private remember(lines: string[]): void {
    this.recentOutput.push(...lines.filter((l) => l.trim() !== ''));
    if (this.recentOutput.length > 4 * LOG_TAIL_LINES) this.recentOutput.splice(0, this.recentOutput.length - LOG_TAIL_LINES);
  }

  private async connectQmpLoop(sock: string, gen: number): Promise<QmpClient | null> {
    const deadline = this.now() + QMP_CONNECT_TIMEOUT_MS;
    while (gen === this.generation && !this.exitInfo && this.now() < deadline) {
      try {
        return await QmpClient.connect(sock, { timeoutMs: 5000 });
      } catch {
        await sleep(50);
      }
    }
    return null;
  }

  private attachQmp(qmp: QmpClient, gen: number): void {
    this.qmp = qmp;
    this.qmpHealthy = true;
    qmp.on('protocol-error', () => {
      if (gen !== this.generation || !this.qmpHealthy) return;
      this.qmpHealthy = false;
      this.lifecycle('QMP sent something malformed; the VM is left alone and QMP is probed again');
      this.hooks.changed();
    });
    this.startHealthCheck(gen);
    qmp.on('event', (e: { event: string; data?: Record<string, unknown> }) => {
      if (gen !== this.generation) return;
      this.onQmpEvent(e);
    });
    qmp.on('close', () => {
      if (gen !== this.generation || this.qmp !== qmp) return;
      this.qmp = null;
      if (this.exitInfo || !isActive(this)) return;
      if (this.adopted) {
        // not our child: no 'exit' event will come; look at the pid right now
        void this.checkLiveness(gen).then((alive) => {
          if (alive && gen === this.generation) {
            this.qmpHealthy = false;
            this.hooks.changed();
            void this.reconnectQmp(gen);
          }
        });
      } else {
        this.qmpHealthy = false;
        this.hooks.changed();
        void this.reconnectQmp(gen);
      }
    });
  }

  /**
   * Every few seconds ask QMP for the run state: keeps our state equal to QEMU's (someone
   * may pause it behind our back) and marks QMP unhealthy, never killing the VM for it.
   */
  private startHealthCheck(gen: number): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => void this.checkHealth(gen), QMP_HEALTH_MS);
    this.healthTimer.unref();
  }

  private async checkHealth(gen: number): Promise<void> {
    const qmp = this.qmp;
    if (!qmp || gen !== this.generation || this.exitInfo || this.launching || this.ownRunChange > 0) return;
    if (this.state !== 'running' && this.state !== 'paused') return;
    try {
      const { status } = await qmp.execute<{ status: string }>('query-status', {}, { timeoutMs: 3000 });
      if (gen !== this.generation || this.exitInfo) return;
      // an operation of ours (pause, resume, stop…) is under way: it records its own transition
      const busy = this.ownRunChange > 0 || this.deps.mutex.isBusy(this.id);
      if (!this.qmpHealthy) {
        this.qmpHealthy = true;
        this.lifecycle('QMP answers again');
        this.hooks.changed();
      }
      if (busy) return;
      const paused = vmStateOfStatus(status) === 'paused';
      if (paused && this.state === 'running' && !this.stopRequested) this.transition('paused', `QEMU reports ${status}`);
      else if (!paused && this.state === 'paused') this.transition('running', 'QEMU reports running');
    } catch {
      if (gen !== this.generation || this.exitInfo || !this.qmpHealthy) return;
      this.qmpHealthy = false;
      this.lifecycle('QMP did not answer query-status; the VM is left alone');
      this.hooks.changed();
    }
  }

  private async reconnectQmp(gen: number): Promise<void> {
    while (gen === this.generation && !this.exitInfo && !this.closed && isActive(this) && !this.qmp) {
      await sleep(1000);
      if (gen !== this.generation || this.exitInfo || this.closed) return;
      try {
        const qmp = await QmpClient.connect(this.deps.layout.qmpSock(this.id), { timeoutMs: 3000 });
        if (gen !== this.generation || this.exitInfo || this.closed) {
          qmp.close();
          return;
        }
        this.attachQmp(qmp, gen);
        this.lifecycle('QMP connection restored');
        this.hooks.changed();
        return;
      } catch {
        /* keep trying quietly */
      }
    }
  }

  private onQmpEvent(e: { event: string; data?: Record<string, unknown> }): void {
    switch (e.event) {
      case 'SHUTDOWN':
        if (e.data?.guest === true) this.guestShutdown = true;
        this.lifecycle(`QMP SHUTDOWN (${String(e.data?.reason ?? 'unknown')})`);
        break;
      case 'STOP':
        if (this.state === 'running' && !this.stopRequested && this.ownRunChange === 0) this.transition('paused', 'QEMU paused the guest');
        break;
      case 'RESUME':
        if (this.state === 'paused' && this.ownRunChange === 0) this.transition('running', 'QEMU resumed the guest');
        break;
      case 'RESET':
        // the guest's agent is gone with the old boot: reconnect now instead of waiting for a failed ping
        this.agent?.close();
        this.agent = null;
        if (this.agentState === 'ready') this.setAgent('connecting');
        this.wakeAgentLoop?.();
        break;

      default:
        break;
    }
  }

  // ------------------------------------------------------------------ exit

  private onProcessExit(gen: number, exit: ExitInfo): void {
    if (gen !== this.generation || this.exitInfo) return;
    this.exitInfo = exit;
    if (this.launching) {
      // launch() reports this as a start failure
      this.onLaunchExit?.();
      return;
    }
    this.finishExit();
  }

  /** QEMU is gone: settle the state, free everything, maybe restart. */
  private finishExit(): void {
    const exit = this.exitInfo ?? { code: null, signal: null };
    const requested = this.stopRequested;
    const guestOff = this.guestShutdown && exit.signal === null;
    const upFor = this.now() - this.runningSince;
    this.stopPending = false;
    void (async () => {
      this.teardownProcess();
      await this.cleanRunFiles();
      await this.deps.ports.release(this.id);
      const tail = await this.qemuTail();
      const at = new Date(this.now()).toISOString();
      // an adopted QEMU's exit status is unknowable (not our child): no signal seen counts as clean
      const clean = exit.signal === null && (exit.code === 0 || exit.code === null);
      if (requested || guestOff) {
        const reason = requested ? requested.reason : 'the guest powered off';
        this.lastExit = { at, code: exit.code, signal: exit.signal, reason: clean ? reason : `${reason} (${describeExit(exit.code, exit.signal)})`, logTail: tail };
        this.stopRequested = null;
        this.wantRunning = false;
        this.crashedRecord = false;
        if (canTransition(this.state, 'stopped')) this.transition('stopped', this.lastExit.reason);
        if (!clean) await this.checkDisks();
        this.saveRuntime();
        this.resolveExitWaiters();
        return;
      }
      const reason = describeExit(exit.code, exit.signal);
      this.lastExit = { at, code: exit.code, signal: exit.signal, reason, logTail: tail };
      this.wantRunning = false;
      this.crashedRecord = true;
      if (canTransition(this.state, 'crashed')) this.transition('crashed', reason);
      this.resolveExitWaiters();
      await this.checkDisks();
      this.saveRuntime();
      if (this.spec.restartPolicy === 'on-failure' && !this.closed) this.scheduleRestart(upFor);
    })().catch((err: unknown) => this.lifecycle(`cleanup after exit failed: ${String(err)}`));
  }

  private scheduleRestart(upForMs: number): void {
    const delay = this.backoff.nextDelay(upForMs);
    this.lifecycle(`restart policy on-failure: restarting in ${(delay / 1000).toFixed(0)} s (failure ${this.backoff.failures})`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.deps.mutex
        .run(this.id, async () => {
          if (this.closed || this.state !== 'crashed') return;
          await this.launch('restarting after a crash (restart policy on-failure)', 'crashed');
        })
        .catch((err: unknown) => {
          this.lifecycle(`restart failed: ${(err as Error).message}`);
          if (this.state === 'crashed' && !this.closed && this.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
        });
    }, delay);
    this.restartTimer.unref();
  }

  private cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private teardownProcess(): void {
    this.stopLivenessPoll();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.qmp?.close();
    this.qmp = null;
    this.agent?.close();
    this.agent = null;
    this.setAgent('unknown', []);
    this.console.detach();
    this.thumbnails.stop();
    this.child?.stdout?.destroy();
    this.child?.stderr?.destroy();
    this.child = null;
    this.pid = null;
    this.startTime = null;
    this.adopted = false;
    this.qmpHealthy = true;
  }

  private resolveExitWaiters(): void {
    for (const w of this.exitWaiters.splice(0)) w();
  }

  /** Resolves true once the current QEMU is gone (exit handled), false on timeout. */
  private waitExit(ms: number): Promise<boolean> {
    // Not `pid === null`: teardown clears the pid before the exit is settled (ports released,
    // state stopped), and a stop that returned then left the VM "already stopping".
    if (!isActive(this)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Is our QEMU (same pid, same start time) still there? Reports its death if not. */
  private async checkLiveness(gen: number): Promise<boolean> {
    const pid = this.pid;
    if (pid === null || gen !== this.generation) return false;
    const alive = (await isPidAlive(pid)) && (this.startTime === null || (await this.readStartTime(pid)) === this.startTime);
    if (!alive && gen === this.generation && !this.child) this.onProcessExit(gen, { code: null, signal: null });
    return alive;
  }

  private startLivenessPoll(gen: number): void {
    this.stopLivenessPoll();
    this.pollTimer = setInterval(() => void this.checkLiveness(gen), LIVENESS_POLL_MS);
    this.pollTimer.unref();
  }

  private stopLivenessPoll(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private async readStartTime(pid: number): Promise<number | null> {
    try {
      return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'))?.startTime ?? null;
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------ stop, pause, resume, restart

  async stop(opts: { force?: boolean; deadlineMs?: number; reason?: string } = {}): Promise<void> {
    if (opts.force) return this.forceStop(opts.reason ?? 'force-stopped by the user');
    await this.deps.mutex.run(this.id, async () => {
      if (this.state === 'stopping') {
        await this.waitExit(opts.deadlineMs ?? this.deps.stopDeadlineMs);
        return;
      }
      if (!canStop(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}, not running`);
      this.cancelRestart();
      const deadline = opts.deadlineMs ?? this.deps.stopDeadlineMs;
      this.stopRequested = { reason: opts.reason ?? 'stopped by the user' };
      this.wantRunning = false;
      this.stopPending = true;
      this.saveRuntime();
      const wasPaused = this.state === 'paused';
      this.transition('stopping', `graceful stop requested: ACPI powerdown, then quit after ${Math.round(deadline / 1000)} s`);
      const qmp = this.qmp;
      if (qmp && wasPaused) await qmp.execute('cont', {}, { timeoutMs: 2000 }).catch(() => undefined);
      if (await this.askGuestToPowerOff(deadline)) return;
      this.lifecycle(`the guest did not power off within ${Math.round(deadline / 1000)} s; sending QMP quit`);
      if (this.qmp) await this.qmp.execute('quit', {}, { timeoutMs: 2000 }).catch(() => undefined);
      if (await this.waitExit(3000)) return;
      this.lifecycle('QEMU ignored quit; killing its process group');
      await this.killIfOurs();
      await this.waitExit(AFTER_KILL_SETTLE_MS);
    });
  }

  /**
   * Agent shutdown plus the ACPI power button, pressed again every few seconds until the
   * deadline: a press that lands while the guest is still booting (before its acpid or agent
   * runs, e.g. right after a reset) is lost, and a person would simply press again.
   */
  private async askGuestToPowerOff(deadlineMs: number): Promise<boolean> {
    const end = this.now() + deadlineMs;
    for (;;) {
      if (this.agent && this.agentState === 'ready') await this.agent.shutdown('powerdown').catch(() => undefined);
      if (this.qmp) await this.qmp.execute('system_powerdown', {}, { timeoutMs: 2000 }).catch(() => undefined);
      const left = end - this.now();
      if (left <= 0) return false;
      if (await this.waitExit(Math.min(this.deps.powerdownRepeatMs ?? POWERDOWN_REPEAT_MS, left))) return true;
    }
  }

  private async forceStop(reason: string): Promise<void> {
    if (!canForceStop(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}, not running`);
    this.cancelRestart();
    this.stopRequested = { reason };
    this.wantRunning = false;
    this.stopPending = true;
    this.saveRuntime();
    if (this.state !== 'stopping') this.transition('stopping', 'force stop requested: quit, then kill');
    if (this.qmp) await this.qmp.execute('quit', {}, { timeoutMs: 1000 }).catch(() => undefined);
    if (await this.waitExit(2000)) return;
    await this.killIfOurs();
    await this.waitExit(AFTER_KILL_SETTLE_MS);
  }

  /** SIGKILL the process group, but only after proving the pid is still our QEMU. */
  private async killIfOurs(): Promise<void> {
    const pid = this.pid;
    if (pid === null) return;
    const child = this.child;
    const ours = child ? child.exitCode === null && child.signalCode === null : (await isOurQemu(pid, this.deps.layout.qmpSock(this.id))).ours;
    if (!ours) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  async pause(): Promise<void> {
    await this.deps.mutex.run(this.id, async () => {
      if (!canPause(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a running VM can be paused`);
      await this.ownRunStateChange(() => this.requireQmp().execute('stop'));
      if (this.state === 'running') this.transition('paused', 'paused by the user');
    });
  }

  async resume(): Promise<void> {
    await this.deps.mutex.run(this.id, async () => {
      if (!canResume(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a paused VM can be resumed`);
      await this.ownRunStateChange(() => this.requireQmp().execute('cont'));
      if (this.state === 'paused') this.transition('running', 'resumed by the user');
      this.wakeAgentLoop?.();
    });
  }

  /** A hardware reset of the same QEMU process (same pid, same ports). */
  async restart(): Promise<void> {
    await this.deps.mutex.run(this.id, async () => {
      if (!canRestart(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}; only a running or paused VM can be restarted`);
      const qmp = this.requireQmp();
      await qmp.execute('system_reset');
      if (this.state === 'paused') {
        await this.ownRunStateChange(() => qmp.execute('cont'));
        this.transition('running', 'reset and resumed by the user');
      } else {
        this.reason = 'reset by the user';
        this.stateSince = new Date(this.now()).toISOString();
        this.lifecycle('reset by the user');
        this.hooks.changed();
      }
      this.setAgent('connecting');
    });
  }

  private async ownRunStateChange<T>(fn: () => Promise<T>): Promise<T> {
    this.ownRunChange++;
    try {
      return await fn();
    } finally {
      this.ownRunChange--;
    }
  }

  /** read through a method: TypeScript would otherwise keep the narrowing from before an await */
  private pendingStop(): { reason: string } | null {
    return this.stopRequested;
  }

  private requireQmp(): QmpClient {
    if (!this.qmp) throw new FlotillaError('QMP_ERROR', `QEMU of ${this.spec.name} is not answering on QMP`);
    return this.qmp;
  }

  // ------------------------------------------------------------------ agent

  private setAgent(state: AgentState, ips?: string[]): void {
    const changed = state !== this.agentState || (ips !== undefined && ips.join() !== this.ips.join());
    this.agentState = state;
    if (ips !== undefined) this.ips = ips;
    if (state === 'ready' || !isActive(this)) for (const w of this.agentWaiters.splice(0)) w();
    if (changed) this.hooks.changed();
  }

  /** connecting → ready (ping) or unavailable (silent past the grace period); keeps retrying quietly. */
  private async agentLoop(gen: number): Promise<void> {
    const sock = this.deps.layout.agentSock(this.id);
    const graceEnd = this.now() + this.deps.agentGraceMs;
    this.setAgent('connecting');
    while (gen === this.generation && !this.closed && isActive(this) && !this.exitInfo) {
      if (!this.agent) {
        try {
          const a = await AgentClient.connect(sock, { timeoutMs: 3000 });
          if (gen !== this.generation || this.closed || this.exitInfo) {
            a.close();
            return;
          }
          await a.ping(3000);
          this.agent = a;
          this.setAgent('ready');
          this.lifecycle('guest agent is ready');
        } catch {
          if (this.agentState !== 'unavailable' && this.now() > graceEnd) {
            this.setAgent('unavailable');
            this.lifecycle('the guest agent did not answer; the VM runs without it');
          }
          await this.agentNap(this.agentState === 'unavailable' ? 5000 : 1000);
          continue;
        }
      }
      const a = this.agent;
      if (!a) continue;
      try {
        if (this.state === 'running') {
          await a.ping(5000);
          if (this.agentState !== 'ready') this.setAgent('ready');
          if (this.ips.length === 0 || this.now() - this.ipsFetchedAt > 30_000) {
            const ips = await a.ips().catch(() => this.ips);
            this.ipsFetchedAt = this.now();
            this.setAgent('ready', ips);
          }
        }
      } catch {
        if (gen !== this.generation) return;
        a.close();
        if (this.agent === a) this.agent = null;
        this.setAgent('connecting');
        continue;
      }
      await this.agentNap(this.ips.length === 0 ? 1000 : AGENT_PING_MS);
    }
  }

  /** A pause of the agent loop that a reset or resume cuts short. */
  private agentNap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.wakeAgentLoop === done) this.wakeAgentLoop = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wakeAgentLoop = done;
    });
  }

  /** The agent, waiting briefly for it when it is still connecting. */
  async agentClient(waitMs = 30_000): Promise<AgentClient> {
    if (!isActive(this)) throw new FlotillaError('INVALID_STATE', `${this.spec.name} is ${this.state}, not running`);
    if (this.agentState !== 'ready' && this.agentState !== 'unavailable') await this.waitAgent(waitMs).catch(() => undefined);
    if (!this.agent || this.agentState !== 'ready') {
      throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${this.spec.name} is not available (qemu-guest-agent must run in the guest)`);
    }
    return this.agent;
  }

  // ------------------------------------------------------------------ display, logs, disks

  vncSocket(): string | null {
    if (this.spec.display !== 'vnc' || !isActive(this) || this.pid === null) return null;
    return this.deps.layout.vncSock(this.id);
  }

  private async captureScreen(): Promise<Buffer | null> {
    if (this.spec.display !== 'vnc' || !this.qmp || (this.state !== 'running' && this.state !== 'paused')) return null;
    return screendumpPng(this.qmp, join(this.deps.layout.runDir(this.id), 'shot.png'));
  }

  async logs(tail: number): Promise<LogEntry[]> {
    const parse = (source: LogEntry['source'], lines: string[]): LogEntry[] =>
      lines.map((l) => {
        const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(l);
        return { t: m?.[1] ?? '', source, text: m?.[2] ?? l };
      });
    const [life, qemu] = await Promise.all([this.lifecycleLog.tail(tail), this.qemuLog.tail(tail)]);
    const all = [...parse('lifecycle', life), ...parse('qemu', qemu)].filter((e) => e.text !== '');
    all.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
    return all.slice(-tail);
  }

  private async qemuTail(): Promise<string[]> {
    try {
      return (await this.qemuLog.tail(LOG_TAIL_LINES)).map(stripStamp);
    } catch {
      return [];
    }
  }

  /** After an unclean death: `qemu-img check` on the VM's own qcow2 disks. */
  private async checkDisks(): Promise<void> {
    const paths = this.spec.disks.filter((d) => d.endsWith('.qcow2')).map((d) => join(this.deps.layout.vmDir(this.id), d));
    // a disk the user named by reference was being written by this QEMU too
    const src = this.spec.source;
    const ref = src.kind === 'disk' && src.mode === 'reference' ? src.path : src.kind === 'kernel' ? src.disk : undefined;
    if (ref && (await qemuImgInfo(ref).then((i) => i.format === 'qcow2', () => false))) paths.push(ref);
    for (const path of paths) {
      const d = basename(path);
      try {
        const r = await qemuImgCheck(path);
        this.lastDiskCheck = { at: new Date(this.now()).toISOString(), disk: path, exitCode: r.exitCode, summary: r.summary };
        this.lifecycle(`qemu-img check ${d}: exit ${r.exitCode} (${r.summary})`);
      } catch (err) {
        this.lastDiskCheck = { at: new Date(this.now()).toISOString(), disk: path, exitCode: 1, summary: (err as Error).message };
      }
      this.hooks.changed();
    }
  }

  // ------------------------------------------------------------------ bookkeeping

  private transition(to: VmState, reason: string): void {
    if (!canTransition(this.state, to)) {
      throw new FlotillaError('INVALID_STATE', `${this.spec.name} cannot go from ${this.state} to ${to}`);
    }
    const from = this.state;
    this.state = to;
    this.reason = reason;
    this.stateSince = new Date(this.now()).toISOString();
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

  private async cleanRunFiles(): Promise<void> {
    const { layout } = this.deps;
    await Promise.all(
      [layout.pidFile(this.id), layout.qmpSock(this.id), layout.serialSock(this.id), layout.agentSock(this.id), layout.vncSock(this.id), join(layout.runDir(this.id), 'shot.png')].map((p) =>
        rm(p, { force: true }),
      ),
    );
  }

  /** Remove the run dir entirely (VM deleted). */
  async removeRunDir(): Promise<void> {
    await rm(this.deps.layout.runDir(this.id), { recursive: true, force: true });
  }

  private async loadRuntime(): Promise<void> {
    try {
      const raw = JSON.parse(await readFile(join(this.deps.layout.vmDir(this.id), RUNTIME_FILE), 'utf8')) as Partial<RuntimeRecord>;
      this.wantRunning = raw.wantRunning === true;
      this.stopPending = raw.stopPending === true;
      this.crashedRecord = raw.crashed === true;
      this.lastExit = raw.lastExit ?? null;
      this.lastDiskCheck = raw.lastDiskCheck ?? null;
    } catch {
      /* first start of this VM, or unreadable: start clean */
    }
  }

  private saveRuntime(): void {
    const rec: RuntimeRecord = {
      wantRunning: this.wantRunning,
      stopPending: this.stopPending,
      crashed: this.crashedRecord,
      lastExit: this.lastExit,
      lastDiskCheck: this.lastDiskCheck,
    };
    const file = join(this.deps.layout.vmDir(this.id), RUNTIME_FILE);
    this.runtimeWrite = this.runtimeWrite
      .then(() => writeFileAtomic(file, JSON.stringify(rec, null, 2) + '\n'))
      .catch(() => undefined);
  }

  /** Let pending writes land (tests, engine close). */
  async flush(): Promise<void> {
    await this.runtimeWrite;
  }

  /** Forwarded ports of the running QEMU. */
  ports(): PortEntry[] {
    return this.deps.ports.entries(this.id);
  }

  /**
   * Let go of QEMU without stopping it (engine shutdown): it keeps running detached and the
   * next engine adopts it.
   */
  async detach(): Promise<void> {
    this.closed = true;
    this.cancelRestart();
    this.stopLivenessPoll();
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.generation++;
    this.qmp?.close();
    this.qmp = null;
    this.agent?.close();
    this.agent = null;
    this.thumbnails.close();
    if (this.child) {
      this.child.stdout?.destroy();
      this.child.stderr?.destroy();
      this.child.removeAllListeners();
      this.child.unref();
      this.child = null;
    }
    for (const w of this.agentWaiters.splice(0)) w();
    await this.console.close();
    await this.flush();
    await this.lifecycleLog.close();
    await this.qemuLog.close();
  }
}
