// What the long VM operations (export, import, clone) need from the engine, as one small interface,
// so they live outside engine.ts and their tests can hand in a real store with a plain runner.
// Each operation on an existing VM runs as a long job in that VM's queue (vm-job-queue.ts): its
// guards are checked inside the job, its progress shows on the VM's tile, and it can be cancelled.
import type { Progress, VmInfo } from '../../../shared/contract';
import type { VmSpec } from '../../../shared/spec';
import type { VmState } from '../../../shared/state';
import type { HomeLayout } from '../paths';
import type { VmStore } from '../vm-store';
import type { TempJournal } from './temp-journal';

export interface OpsContext {
  layout: HomeLayout;
  store: VmStore;
  journal: TempJournal;
  engineVersion: string;
  /**
   * Run `fn` as a long job in the VM's job queue: no start, stop or other job runs meanwhile;
   * `progress` shows on the VM's tile; `signal` aborts when the user cancels or force-stops.
   */
  runJob<T>(id: string, kind: string, fn: (signal: AbortSignal, progress: (p: Progress | null) => void) => Promise<T>): Promise<T>;
  /** throws INVALID_STATE (naming `doing`) unless the VM is stopped or crashed; call inside runJob */
  requireStopped(id: string, doing: string): void;
  /** progress of work that is not (yet) a VM's job: an import */
  progress(id: string, p: Progress | null): void;
  /** the VM's state now */
  state(id: string): VmState;
  /** a QMP command on the VM's running QEMU */
  qmp<T = unknown>(id: string, command: string, args?: object, opts?: { timeoutMs?: number }): Promise<T>;
  info(id: string): VmInfo;
  /** set the guest's clock to the host's through its agent (guest-clock.ts); never throws */
  syncClock(id: string): Promise<unknown>;
  /**
   * The guest's RAM was replaced (a snapshot with RAM was loaded): a request the agent had been
   * sent but not yet answered is gone with it, so drop the connection and let it reconnect.
   */
  agentReset(id: string): void;
  /** tell every client the VM changed (after a spec change) */
  changed(id: string): void;
  /** a VM that store.create just committed: supervise it, announce it, start it if asked */
  added(spec: VmSpec, start: boolean): Promise<VmInfo>;
}

/** Whole percent of done/total, for Progress (0 when total is 0). */
export function percentOf(done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
}
