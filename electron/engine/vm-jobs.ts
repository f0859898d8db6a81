// The bodies of a VM's process jobs: settling the state at engine start (adopting a live QEMU
// of ours), launching QEMU until QMP reports it running, and settling its exit. Each runs
// inside the VM's job queue (supervisor.ts queues them); a cancellable one observes its
// AbortSignal at every await point, so a force stop ends a start with one clear error
// wherever the start was.
import { stat } from 'node:fs/promises';
import { FlotillaError } from '../../shared/errors';
import type { VmSpec } from '../../shared/spec';
import { canTransition } from '../../shared/state';
import { bootLabel } from './console-hub';
import { checkDisks, describeExit, judgeExit, writableQcow2Disks } from './exit-policy';
import { findQemuBySocket, isOurQemu, readPidFile } from './proc-identity';
import { buildQemuArgs, consoleDropsWhenSlow, type QemuResources } from './qemu-args';
import { cleanRunFiles, LOG_TAIL_LINES, QemuProcess, readStartTime, type ExitInfo } from './qemu-process';
import { QmpClient } from './qmp-client';
import { connectQmpLoop, QmpSession, type QmpEventMsg } from './qmp-session';
import type { Supervisor } from './supervisor';
import { launchResources, parseHostfwdFailure, shareResources, vmStateOfStatus } from './vm-launch';
import { stripStamp } from './vm-logs';
import { JobAborted, step } from './vm-job-queue';

const START_ATTEMPTS = 3;

export class VmJobs {
  constructor(private readonly vm: Supervisor) {}

  private get deps(): Supervisor['deps'] {
    return this.vm.deps;
  }

  // ------------------------------------------------------------------ engine start

  async init(): Promise<void> {
    const vm = this.vm;
    vm.record = await vm.recordFile.load();
    const pid = await this.liveQemu(true);
    if (pid !== null) {
      await this.adopt(pid);
      return;
    }
    const { layout, ports } = this.deps;
    await vm.shareHelpers.reapLeftovers();
    await cleanRunFiles(layout, vm.id);
    await ports.release(vm.id);
    const rec = vm.record;
    rec.stopPending = false;
    rec.agent = 'unknown';
    rec.ips = [];
    rec.agentSeenAt = null;
    if (rec.wantRunning) {
      vm.state = 'crashed';
      vm.reason = 'QEMU was not running when the engine started';
      rec.lastExit = { at: new Date(vm.now()).toISOString(), code: null, signal: null, reason: vm.reason, logTail: await this.qemuTail() };
      vm.lifecycle(`→ crashed: ${vm.reason}`);
      await this.checkDisks();
      rec.wantRunning = false;
      rec.crashed = true;
      vm.saveRecord();
      if (vm.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
    } else if (rec.crashed) {
      // crashed under an earlier engine and not started since: still crashed, same reason
      vm.state = 'crashed';
      vm.reason = rec.lastExit?.reason ?? 'QEMU crashed';
      if (vm.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
    } else {
      vm.state = 'stopped';
      vm.reason = rec.lastExit?.reason ?? 'not started';
    }
  }

  /** The pid of a live QEMU of this VM (its pidfile, or a /proc scan for our QMP socket). */
  private async liveQemu(scan: boolean): Promise<number | null> {
    const { layout } = this.deps;
    const qmpSock = layout.qmpSock(this.vm.id);
    let pid = await readPidFile(layout.pidFile(this.vm.id));
    // An engine killed between spawn and QEMU writing its pidfile leaves a QEMU we can only
    // find by its (unique) QMP socket path; only worth a scan when the run dir exists.
    if (pid === null && scan && (await stat(layout.runDir(this.vm.id)).catch(() => null))) pid = await findQemuBySocket(qmpSock);
    if (pid === null) return null;
    const verdict = await isOurQemu(pid, qmpSock);
    if (verdict.ours) return pid;
    if (scan) this.vm.lifecycle(`not adopting: ${verdict.why}; leaving that process alone`);
    return null;
  }

  /**
   * Take over a live QEMU of ours. The VM is running (adopted) from the first line on: a step
   * that fails later (ports.json on a full disk, a silent QMP) is logged and leaves it so,
   * because a VM shown stopped while its QEMU lives is one a later start would clobber.
   */
  private async adopt(pid: number): Promise<void> {
    const vm = this.vm;
    const rec = vm.record;
    const proc = await QemuProcess.adopt(pid);
    this.own(proc);
    vm.state = 'running';
    vm.reason = `adopted running QEMU (pid ${pid})`;
    vm.stateSince = new Date(vm.now()).toISOString();
    vm.runningSince = vm.now();
    // the engine that died was in the middle of stopping this VM: finish that stop
    const stopWasRequested = rec.stopPending;
    rec.wantRunning = true;
    rec.crashed = false;
    const session = this.openSession(proc);
    const tryStep = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
      try {
        await fn();
        return true;
      } catch (err) {
        vm.lifecycle(`adopted QEMU ${pid} but could not ${what}: ${(err as Error).message}`);
        return false;
      }
    };
    await tryStep('take over its shared folders\' helpers', () => vm.shareHelpers.adopt());
    await tryStep('record its forwarded ports (they stay reserved in memory)', () => this.deps.ports.mark(vm.id, this.deps.ports.entries(vm.id)));
    const reached = await tryStep('reach QMP; will keep trying', async () => {
      const qmp = await QmpClient.connect(this.deps.layout.qmpSock(vm.id), { timeoutMs: 3000 });
      if (proc !== vm.proc) return qmp.close();
      session.attach(qmp);
      vm.state = vmStateOfStatus((await qmp.execute<{ status: string }>('query-status')).status);
    });
    if (!reached) session.markUnhealthy();
    vm.lifecycle(`→ ${vm.state}: ${vm.reason}`);
    // what the guest printed before this engine: the console, tiles and `logs --serial` show it
    vm.console.restoreFromLog();
    vm.console.attach({ dropsWhenSlow: consoleDropsWhenSlow(proc.argv) });
    vm.agentWatch.seed(rec.agent, rec.ips, rec.agentSeenAt);
    vm.agentWatch.begin();
    vm.saveRecord();
    vm.hooks.changed();
    if (stopWasRequested) {
      vm.lifecycle('a stop was requested before the engine restarted; finishing it');
      void vm.stop({ reason: 'stopped (requested before the engine restarted)' }).catch((err: unknown) => vm.lifecycle(`could not finish the stop: ${(err as Error).message}`));
    }
  }

  // ------------------------------------------------------------------ start

  /** Spawn QEMU and bring it to running; the caller is a start job. */
  async launch(signal: AbortSignal, reason: string, failState: 'stopped' | 'crashed'): Promise<void> {
    const vm = this.vm;
    const { ports } = this.deps;
    // a QEMU of this VM still lives (an adoption that failed before it was recorded):
    // never clean its files or kill it; take it over instead
    const live = await this.liveQemu(false);
    if (live !== null) {
      await this.adopt(live);
      throw new FlotillaError('ALREADY_RUNNING', `${vm.spec.name} is already running (its QEMU, pid ${live}, is adopted now)`);
    }
    vm.transition('starting', reason);
    let spec = vm.spec;
    let proc: QemuProcess | null = null;
    try {
      // not step(): it lets go of its one long wait itself and ends its writes before this goes on
      const res = await launchResources({ ...this.deps, log: (t) => vm.lifecycle(t) }, vm.id, spec, signal);
      // launchResources may have recorded a built-in VM's new disk in the spec
      spec = vm.spec;
      await step(signal, ports.release(vm.id));
      let forwards = await step(
        signal,
        ports.allocateMany(
          vm.id,
          spec.forwards.map((f) => ({ purpose: 'forward' as const, proto: f.proto, guestPort: f.guestPort, hostPort: f.hostPort })),
        ),
      );
      for (let attempt = 1; ; attempt++) {
        // virtiofsd serves one QEMU and exits with it: each attempt starts them afresh
        // not step(): the helpers watch the signal themselves, and an aborted start cleans up only
        // once none is still being spawned
        if (spec.shares?.length) Object.assign(res, await shareResources(vm, spec, res, signal));
        signal.throwIfAborted();
        const args = buildQemuArgs(spec, { ...res, forwards });
        vm.lifecycle(`spawning ${this.deps.qemuBinary} ${args.join(' ')}`);
        proc = QemuProcess.spawn({ spawn: this.deps.spawn, binary: this.deps.qemuBinary, args, cwd: res.vmDir, log: vm.qemuLog, now: vm.now });
        this.own(proc);
        const failure = await this.connect(signal, proc, { ...res, forwards });
        if (!failure) break;
        const bind = parseHostfwdFailure(failure.tail);
        const ours = bind !== null && forwards.some((f) => f.hostPort === bind.hostPort && f.proto === bind.proto);
        if (bind && ours && attempt < START_ATTEMPTS) {
          if (spec.forwards.some((f) => f.hostPort === bind.hostPort && f.proto === bind.proto)) {
            throw new FlotillaError('PORT_TAKEN', `host port ${bind.hostPort}/${bind.proto} is already in use; choose another port for this forward`, { hostPort: bind.hostPort, proto: bind.proto });
          }
          vm.lifecycle(`QEMU could not bind host port ${bind.hostPort}; retrying with a fresh port (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
          this.release(proc);
          await step(signal, ports.replace(vm.id, bind.hostPort));
          forwards = ports.entries(vm.id).filter((p) => p.purpose === 'forward');
          continue;
        }
        const last = failure.tail.filter((l) => l.trim()).slice(-3).join(' | ') || describeExit(failure.exit.code, failure.exit.signal);
        throw new FlotillaError('QEMU_FAILED', `QEMU failed to start ${spec.name}: ${last}`, { logTail: failure.tail });
      }
      vm.record.wantRunning = true;
      vm.record.crashed = false;
      vm.record.stopPending = false;
      vm.saveRecord();
    } catch (caught) {
      const aborted = signal.aborted;
      const err = aborted ? new FlotillaError('ABORTED', `start of ${spec.name} was aborted: ${(signal.reason as JobAborted).why}`) : caught;
      const tail = proc?.tail() ?? [];
      if (proc) {
        // the exit of a QEMU we just killed (or that failed) is part of this failed start, not a crash
        proc.settled = true;
        await proc.kill(this.deps.layout.qmpSock(vm.id));
        await proc.waitExit(5000);
        this.teardown(proc);
      }
      await vm.shareHelpers.stopAll();
      await cleanRunFiles(this.deps.layout, vm.id);
      await ports.release(vm.id);
      const why = err instanceof Error ? err.message : String(err);
      const to = aborted ? 'stopped' : failState;
      if (vm.state !== to && canTransition(vm.state, to)) vm.transition(to, aborted ? why : `start failed: ${why}`);
      vm.record.lastExit = { at: new Date(vm.now()).toISOString(), code: null, signal: null, reason: aborted ? why : `start failed: ${why}`, logTail: tail.length ? tail : await this.qemuTail() };
      vm.record.wantRunning = false;
      vm.record.stopPending = false;
      vm.record.crashed = vm.state === 'crashed';
      vm.saveRecord();
      vm.hooks.changed();
      throw err;
    }
  }

  /** One QEMU process until QMP reports it running. Returns the failure if it died first. */
  private async connect(signal: AbortSignal, proc: QemuProcess, res: QemuResources): Promise<{ exit: ExitInfo; tail: string[] } | null> {
    const vm = this.vm;
    const died = new Promise<'died'>((resolve) => proc.onExit(() => resolve('died')));
    const connecting = connectQmpLoop(res.qmpSock, () => proc.exited !== null || signal.aborted, vm.now);
    // a connection that arrives after this start gave up must not leak
    const discard = (): void => void connecting.then((c) => c?.close());
    const qmp = await step(signal, Promise.race([connecting, died])).catch((err: unknown) => {
      discard();
      throw err;
    });
    if (qmp === 'died' || qmp === null || proc.exited) {
      discard();
      if (!proc.exited) await proc.kill(res.qmpSock); // QMP never came up but QEMU lives
      await step(signal, Promise.race([proc.drained, new Promise((r) => setTimeout(r, 1000))]));
      await proc.waitExit(1000);
      const exit = proc.exited ?? { code: null, signal: null };
      return { exit, tail: proc.tail() };
    }
    this.openSession(proc).attach(qmp);
    await step(signal, this.deps.layout.restrictSockets(vm.id).catch(() => undefined));
    if (proc.pid) proc.startTime = await step(signal, readStartTime(proc.pid));
    const status = (await step(signal, qmp.execute<{ status: string }>('query-status'))).status;
    vm.runningSince = vm.now();
    vm.transition(vmStateOfStatus(status), `QEMU is ${status} (pid ${proc.pid})`);
    vm.console.separateBoot(bootLabel(vm.spec.name, new Date(vm.now())));
    vm.console.attach({ dropsWhenSlow: consoleDropsWhenSlow(proc.argv) });
    vm.agentWatch.begin();
    return null;
  }

  // ------------------------------------------------------------------ the process and its exit

  /** Make `proc` the VM's process; its exit is settled by a job unless a running job settles it. */
  private own(proc: QemuProcess): void {
    const vm = this.vm;
    vm.proc = proc;
    proc.onExit(() => {
      if (vm.detached || proc.settled) return;
      vm.agentWatch.release();
      void vm.jobs.run({ kind: 'settle-exit', front: true }, () => this.settle(proc, null)).catch((err: unknown) => vm.lifecycle(`cleanup after exit failed: ${String(err)}`));
    });
  }

  private openSession(proc: QemuProcess): QmpSession {
    const vm = this.vm;
    vm.session?.end();
    const session = new QmpSession(this.deps.layout.qmpSock(vm.id), {
      log: (t) => vm.lifecycle(t),
      changed: () => vm.hooks.changed(),
      over: () => vm.detached || proc.exited !== null || vm.proc !== proc,
      busy: () => vm.jobs.busy,
      event: (e) => this.onEvent(proc, e),
      status: (status) => {
        const paused = vmStateOfStatus(status) === 'paused';
        if (paused && vm.state === 'running') vm.transition('paused', `QEMU reports ${status}`);
        else if (!paused && vm.state === 'paused') vm.transition('running', 'QEMU reports running');
      },
      // not our child (adopted): no 'exit' event will come; look at the pid right now
      closed: () => proc.checkAlive(),
    });
    vm.session = session;
    return session;
  }

  private onEvent(proc: QemuProcess, e: QmpEventMsg): void {
    const vm = this.vm;
    switch (e.event) {
      case 'SHUTDOWN':
        if (e.data?.guest === true) proc.guestShutdown = true;
        vm.lifecycle(`QMP SHUTDOWN (${String(e.data?.reason ?? 'unknown')})`);
        break;
      // while a job runs it records its own transitions (pause, resume, stop)
      case 'STOP':
        if (vm.state === 'running' && !vm.jobs.busy) vm.transition('paused', 'QEMU paused the guest');
        break;
      case 'RESUME':
        if (vm.state === 'paused' && !vm.jobs.busy) vm.transition('running', 'QEMU resumed the guest');
        break;
      case 'RESET':
        // the guest's agent is gone with the old boot: reconnect now instead of waiting for a failed ping
        vm.agentWatch.reset();
        break;
      default:
        break;
    }
  }

  /**
   * Forget a process: its session, agent and console socket go with it. Console and thumbnail
   * subscribers stay: the console reconnects and the thumbnail clock keeps ticking (a capture
   * with no QEMU is skipped), so both keep flowing across a restart.
   */
  private teardown(proc: QemuProcess): void {
    const vm = this.vm;
    proc.release();
    if (vm.proc !== proc) return;
    vm.session?.end();
    vm.session = null;
    vm.agentWatch.end();
    vm.console.detach();
    vm.proc = null;
  }

  private release(proc: QemuProcess): void {
    proc.settled = true;
    this.teardown(proc);
  }

  /**
   * QEMU is gone: settle the state, free everything, check the disks after an unclean end and
   * maybe restart. Runs inside a job (the one that stopped it, or a settle-exit job).
   */
  async settle(proc: QemuProcess, requested: string | null): Promise<void> {
    const vm = this.vm;
    if (proc.settled) return;
    proc.settled = true;
    const exit = proc.exited ?? { code: null, signal: null };
    const verdict = judgeExit(exit, requested, proc.guestShutdown);
    const upFor = vm.now() - vm.runningSince;
    this.teardown(proc);
    await vm.shareHelpers.stopAll();
    await cleanRunFiles(this.deps.layout, vm.id);
    await this.deps.ports.release(vm.id);
    const rec = vm.record;
    rec.lastExit = { at: new Date(vm.now()).toISOString(), code: exit.code, signal: exit.signal, reason: verdict.reason, logTail: await this.qemuTail() };
    rec.wantRunning = false;
    rec.stopPending = false;
    rec.crashed = verdict.to === 'crashed';
    rec.agent = 'unknown';
    rec.ips = [];
    rec.agentSeenAt = null;
    if (canTransition(vm.state, verdict.to)) vm.transition(verdict.to, verdict.reason);
    vm.saveRecord();
    if (!verdict.clean) await this.checkDisks();
    vm.saveRecord();
    if (verdict.to === 'crashed' && vm.spec.restartPolicy === 'on-failure' && !vm.detached) this.scheduleRestart(upFor);
  }

  private scheduleRestart(upForMs: number): void {
    const vm = this.vm;
    const delay = vm.restartPolicy.schedule(upForMs, () => {
      void vm.jobs
        .run({ kind: 'auto-restart', cancellable: true }, async (signal) => {
          if (vm.detached || vm.state !== 'crashed') return;
          await this.launch(signal, 'restarting after a crash (restart policy on-failure)', 'crashed');
        })
        .catch((err: unknown) => {
          vm.lifecycle(`restart failed: ${(err as Error).message}`);
          if (vm.state === 'crashed' && !vm.detached && vm.spec.restartPolicy === 'on-failure') this.scheduleRestart(0);
        });
    });
    vm.lifecycle(`restart policy on-failure: restarting in ${(delay / 1000).toFixed(0)} s (failure ${vm.restartPolicy.failures})`);
  }

  /** After an unclean death: `qemu-img check` on the qcow2 disks QEMU was writing. */
  private async checkDisks(): Promise<void> {
    const vm = this.vm;
    const spec: VmSpec = vm.spec;
    const paths = await writableQcow2Disks(spec, this.deps.layout.vmDir(vm.id));
    await checkDisks(paths, (p) => vm.diskCheck(p), vm.now, (c, line) => {
      vm.record.lastDiskCheck = c;
      vm.lifecycle(line);
      vm.hooks.changed();
    });
  }

  private async qemuTail(): Promise<string[]> {
    try {
      return (await this.vm.qemuLog.tail(LOG_TAIL_LINES)).map(stripStamp);
    } catch {
      return [];
    }
  }
}
