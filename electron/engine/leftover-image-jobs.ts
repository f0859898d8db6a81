// qemu-img runs a killed engine left behind, and the next engine waiting for them.
//
// The disk work the engine does with qemu-img in place on a stopped VM (snapshot -c/-a/-d,
// resize) is short and cannot be undone halfway, so unlike a convert (images.ts diesWithEngine)
// it is not killed with the engine: killed mid-way it would leave leaked clusters, left alone
// it finishes. While it runs it holds the image's write lock, though, so the next engine must
// not start the VM or run qemu-img on that disk until it has exited. Otherwise a client retrying
// the job after a lost engine (shared/outlast-engine.ts) is refused with qemu-img's "Failed to
// get write lock", and a start fails the same way.
//
// At engine start every qemu-img running then (none is this engine's yet) is matched against
// each VM's disks; a VM with one gets a job at the head of its queue that waits for them.
import { basename } from 'node:path';
import { referencedDisk, type VmSpec } from '../../shared/spec';
import { JobAborted, type JobBody, type JobOptions } from './vm-job-queue';
import { parseProcStat } from './stats';
import { realProcFs, type ProcFs } from './proc-identity';

export interface ImageProc {
  pid: number;
  /** /proc/<pid>/stat starttime: the same pid later is another process */
  startTime: number;
  args: string[];
}

/** Every qemu-img process running now that is not a child of `self`. */
export async function runningImageProcs(fs: ProcFs = realProcFs, self = process.pid): Promise<ImageProc[]> {
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return [];
  }
  // every process at once: this runs at each engine start, which a desktop's hundreds of processes must not slow
  const found = await Promise.all(
    entries.map(async (e): Promise<ImageProc | null> => {
      const pid = Number(e);
      if (!/^\d+$/.test(e) || pid === self) return null;
      try {
        const args = (await fs.readFile(`/proc/${pid}/cmdline`)).split('\0');
        if (args.at(-1) === '') args.pop();
        if (basename(args[0] ?? '') !== 'qemu-img') return null;
        const st = parseProcStat(await fs.readFile(`/proc/${pid}/stat`));
        return st && st.ppid !== self && st.state !== 'Z' ? { pid, startTime: st.startTime, args } : null;
      } catch {
        return null; // gone meanwhile, or not ours to read
      }
    }),
  );
  return found.filter((p): p is ImageProc => p !== null);
}

/** The processes among `procs` that name one of `files`, or a file inside one of `dirs`, in their arguments. */
export function touching(procs: readonly ImageProc[], files: readonly string[], dirs: readonly string[]): ImageProc[] {
  const prefixes = dirs.map((d) => (d.endsWith('/') ? d : `${d}/`));
  return procs.filter((p) => p.args.slice(1).some((a) => files.includes(a) || prefixes.some((d) => a.startsWith(d))));
}

/** What a leftover qemu-img is doing, for the tile and the log: "qemu-img snapshot on disk.qcow2 (pid 42)". */
export function describeImageProc(p: ImageProc): string {
  const file = p.args.slice(2).find((a) => a.startsWith('/'));
  return `qemu-img ${p.args[1] ?? ''}${file ? ` on ${basename(file)}` : ''} (pid ${p.pid})`;
}

async function sameProcess(p: ImageProc, fs: ProcFs): Promise<boolean> {
  try {
    const st = parseProcStat(await fs.readFile(`/proc/${p.pid}/stat`));
    return !!st && st.startTime === p.startTime && st.state !== 'Z' && st.state !== 'X';
  } catch {
    return false;
  }
}

/** Resolves once none of `procs` runs any more; rejects with the signal's reason when it aborts. */
export async function untilGone(procs: readonly ImageProc[], signal: AbortSignal, opts: { fs?: ProcFs; pollMs?: number } = {}): Promise<void> {
  const fs = opts.fs ?? realProcFs;
  let left = [...procs];
  for (;;) {
    const alive = await Promise.all(left.map((p) => sameProcess(p, fs)));
    left = left.filter((_, i) => alive[i]);
    if (left.length === 0) return;
    const reason = (): Error => (signal.reason instanceof Error ? signal.reason : new JobAborted('cancelled'));
    // a cancel that came during the check above (before, this path cleared a timer not yet made)
    if (signal.aborted) throw reason();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', done);
        resolve();
      }, opts.pollMs ?? 100);
      const done = (): void => {
        clearTimeout(timer);
        reject(reason());
      };
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** What of a VM's supervisor the wait below uses. */
interface QueuedVm {
  spec: VmSpec;
  lifecycle(text: string): void;
  job<T>(opts: JobOptions, body: JobBody<T>): Promise<T>;
}

/**
 * A qemu-img a killed engine left working on this VM's disks (a snapshot or resize of the
 * stopped VM) holds their write lock until it finishes: the VM's next job waits for it. Called
 * right after the VM's init is queued, so no start or job of the VM comes before. The wait shows
 * as the VM's job progress and can be cancelled.
 */
export function waitForLeftoverImageJobs(vm: QueuedVm, vmDir: string, procs: readonly ImageProc[]): void {
  const ref = referencedDisk(vm.spec);
  const left = touching(procs, ref ? [ref] : [], [vmDir]);
  if (left.length === 0) return;
  const what = left.map(describeImageProc).join(', ');
  vm.lifecycle(`waiting for ${what}, left running by the last engine, to finish with the disks`);
  vm.job({ kind: 'settle-disks', async: true, cancellable: true }, async (signal, progress) => {
    progress({ op: 'settle', percent: null, message: `Finishing ${what}`, cancellable: true });
    await untilGone(left, signal);
    vm.lifecycle(`${what} has finished`);
  }).catch((err: Error) => vm.lifecycle(`stopped waiting for ${what}: ${err.message}`));
}
