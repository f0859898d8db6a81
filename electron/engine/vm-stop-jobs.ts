// Stopping a local VM: the graceful stop job (ACPI powerdown, then quit at the deadline) and the
// force stop that pre-empts whatever job runs (quit, then kill). Split from supervisor.ts, whose
// `stop()` forwards here; both settle the exit through vm-jobs.ts like any other exit.
import { FlotillaError } from '../../shared/errors';
import { canForceStop, canStop, isActive } from '../../shared/state';
import type { QemuProcess } from './qemu-process';
import { forcedStop, gracefulStop, POWERDOWN_REPEAT_MS, type LadderTarget } from './stop-ladder';
import type { Supervisor } from './supervisor';
import { JobAborted } from './vm-job-queue';

export class VmStopJobs {
  /** the force stop that pre-empted a job, for the pre-empted graceful stop to wait on */
  private forceStopping: Promise<void> = Promise.resolve();

  constructor(
    private readonly vm: Supervisor,
    /** settle the state after `proc` ended (VmJobs.settle) */
    private readonly settle: (proc: QemuProcess, reason: string) => Promise<void>,
  ) {}

  async stop(opts: { force?: boolean; deadlineMs?: number; reason?: string }): Promise<void> {
    if (opts.force) return this.forceStop(opts.reason ?? 'force-stopped by the user');
    const vm = this.vm;
    const reason = opts.reason ?? 'stopped by the user';
    // a VM that was up when the stop was asked and is down when its turn comes (another
    // client's stop, the guest powering off) is what the caller wanted: not an error
    const wasActive = isActive(vm);
    try {
      await vm.jobs.run({ kind: 'stop', cancellable: true }, async (signal) => {
        if (wasActive && !isActive(vm)) return;
        if (!canStop(vm)) throw new FlotillaError('INVALID_STATE', `${vm.spec.name} is ${vm.state}, not running`);
        const proc = vm.proc;
        if (!proc) throw new FlotillaError('INVALID_STATE', `${vm.spec.name} has no QEMU process`);
        vm.restartPolicy.cancel();
        const deadline = opts.deadlineMs ?? vm.deps.stopDeadlineMs;
        this.wantStopped();
        const wasPaused = vm.state === 'paused';
        vm.stopDeadline = new Date(vm.now() + deadline).toISOString();
        vm.transition('stopping', `graceful stop requested: ACPI powerdown, then quit after ${Math.round(deadline / 1000)} s`);
        await gracefulStop(this.ladder(proc), { deadlineMs: deadline, repeatMs: vm.deps.powerdownRepeatMs ?? POWERDOWN_REPEAT_MS, wasPaused, signal });
        if (signal.aborted) throw signal.reason as Error;
        if (proc.exited) await this.settle(proc, reason);
      });
    } catch (err) {
      // a force stop cut this stop short: the VM ends stopped all the same, once it has
      if (!(err instanceof JobAborted)) throw err;
      await this.forceStopping;
    }
  }

  private forceStop(reason: string): Promise<void> {
    const vm = this.vm;
    const wasActive = isActive(vm);
    const preempted = vm.jobs.preempt(reason);
    const done = vm.jobs.run({ kind: 'force-stop', front: true }, async () => {
      if (!canForceStop(vm) || !vm.proc) {
        // the job it pre-empted already ended the VM (an aborted start kills its QEMU), or
        // the VM went down while this waited
        if ((preempted || wasActive) && !isActive(vm)) return;
        throw new FlotillaError('INVALID_STATE', `${vm.spec.name} is ${vm.state}, not running`);
      }
      const proc = vm.proc;
      vm.restartPolicy.cancel();
      this.wantStopped();
      vm.stopDeadline = null;
      if (vm.state !== 'stopping') vm.transition('stopping', 'force stop requested: quit, then kill');
      else vm.hooks.changed();
      await forcedStop(this.ladder(proc));
      if (proc.exited) await this.settle(proc, reason);
    });
    this.forceStopping = done.catch(() => undefined);
    return done;
  }

  private wantStopped(): void {
    this.vm.record.wantRunning = false;
    this.vm.record.stopPending = true;
    this.vm.saveRecord();
  }

  private ladder(proc: QemuProcess): LadderTarget {
    const vm = this.vm;
    return {
      proc,
      qmpSock: vm.deps.layout.qmpSock(vm.id),
      qmp: () => vm.qmp,
      agent: () => (vm.agentWatch.state === 'ready' ? vm.agentWatch.client : null),
      agentReady: (ms) => vm.agentWatch.waitReady(ms).then(
        () => vm.agentWatch.client !== null,
        () => false,
      ),
      log: (t) => vm.lifecycle(t),
      now: vm.now,
    };
  }
}
