// One VM's job queue: every operation on a VM (start, stop, force stop, pause, resume, restart,
// update, delete, exit settlement with its disk check, the on-failure restart, and long jobs
// such as a snapshot) runs as a job here, one at a time, in call order. The operation's guards
// (canStart, canEdit, …) are checked inside its job, so nothing can slip in between a check and
// the work it allows.
//
// Learnt from libvirt's domain job model (src/qemu/qemu_domainjob.c), simplified for one
// process per VM:
// - sync jobs are the short lifecycle operations; an async job (`async: true`) is a long one
//   that reports progress (VmInfo.progress and the vm.progress event) and can be cancelled
//   (`cancel()`, for the user's Cancel button);
// - a job that `cancellable` allows is handed an AbortSignal and must observe it at each await
//   point (see `step()`): force stop pre-empts it by aborting it, then runs first in the line,
//   as libvirt's destroy does not wait behind a stuck start.
import type { Progress } from '../../shared/contract';

export type JobKind =
  | 'adopt'
  | 'start'
  | 'stop'
  | 'force-stop'
  | 'pause'
  | 'resume'
  | 'restart'
  | 'update'
  | 'delete'
  | 'settle-exit'
  | 'auto-restart'
  | (string & {});

export interface JobOptions {
  kind: JobKind;
  /** a long job: reports progress and can be cancelled by the user */
  async?: boolean;
  /** force stop (and cancel(), for async jobs) may abort it through its signal */
  cancellable?: boolean;
}

export type JobBody<T> = (signal: AbortSignal, progress: (p: Progress | null) => void) => Promise<T>;

/** The reason a job's signal carries when it was aborted. */
export class JobAborted extends Error {
  constructor(readonly why: string) {
    super(why);
    this.name = 'JobAborted';
  }
}

export interface RunningJob {
  readonly kind: JobKind;
  readonly async: boolean;
  readonly cancellable: boolean;
}

interface Entry extends RunningJob {
  controller: AbortController;
  go: () => void;
}

/**
 * Await `p`, but stop waiting the moment the job is aborted (rejecting with its JobAborted).
 * What `p` was doing goes on; the aborted job's own cleanup stops it (e.g. kills QEMU).
 */
export function step<T>(signal: AbortSignal, p: Promise<T>): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

export class VmJobQueue {
  private running: Entry | null = null;
  private readonly waiting: Entry[] = [];

  constructor(private readonly onProgress: (p: Progress | null) => void = () => undefined) {}

  /** The job that runs now, if any. */
  get current(): RunningJob | null {
    return this.running;
  }

  /** A job runs or waits. */
  get busy(): boolean {
    return this.running !== null || this.waiting.length > 0;
  }

  /** Queue a job; it runs after every job queued before it (or first, with `front`). */
  run<T>(opts: JobOptions & { front?: boolean }, body: JobBody<T>): Promise<T> {
    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = {
        kind: opts.kind,
        async: opts.async === true,
        cancellable: opts.cancellable === true,
        controller,
        go: () => {
          this.running = entry;
          const progress = (p: Progress | null): void => {
            if (this.running === entry) this.onProgress(p);
          };
          // a job that throws synchronously must still free the queue
          void Promise.resolve()
            .then(() => body(controller.signal, progress))
            .then(resolve, reject)
            .finally(() => {
              if (entry.async) this.onProgress(null);
              this.running = null;
              this.next();
            });
        },
      };
      if (opts.front) this.waiting.unshift(entry);
      else this.waiting.push(entry);
      if (!this.running) this.next();
    });
  }

  /** Abort the running job if it allows it (force stop). True if a job was aborted. */
  preempt(why: string): boolean {
    const job = this.running;
    if (!job || !job.cancellable || job.controller.signal.aborted) return false;
    job.controller.abort(new JobAborted(why));
    return true;
  }

  /** The user cancels the running long job. True if there was one to cancel. */
  cancel(why = 'cancelled by the user'): boolean {
    const job = this.running;
    if (!job?.async) return false;
    return this.preempt(why);
  }

  private next(): void {
    if (this.running) return;
    this.waiting.shift()?.go();
  }
}
