// What a QEMU exit means and what follows it: a stop that was asked for (by the user or the
// guest) or a crash; after an unclean end, `qemu-img check` on the disks QEMU was writing;
// and the on-failure restart policy with its backoff. The VM runtime runs all of this inside
// the VM's job queue, so nothing (a Start, say) can act on the disks while they are checked.
import { basename, join } from 'node:path';
import type { DiskCheck } from '../../shared/contract';
import { referencedDisk, type VmSpec } from '../../shared/spec';
import type { CheckResult } from './images';
import { qemuImgInfo } from './images';
import type { ExitInfo } from './qemu-process';
import { RestartBackoff, type BackoffOptions } from './restart-backoff';

/** Human words for how a QEMU process ended. */
export function describeExit(code: number | null, signal: string | null): string {
  if (signal) return `QEMU was killed by ${signal}`;
  if (code === null) return 'QEMU exited (exit status unknown: it was not started by this engine)';
  return code === 0 ? 'QEMU exited' : `QEMU exited with code ${code}`;
}

export interface ExitVerdict {
  to: 'stopped' | 'crashed';
  reason: string;
  /** no signal and a zero (or unknowable) status: no disk check needed */
  clean: boolean;
}

/** A requested stop (`requested` names who asked) or a guest power-off is a stop; anything else a crash. */
export function judgeExit(exit: ExitInfo, requested: string | null, guestShutdown: boolean): ExitVerdict {
  // an adopted QEMU's exit status is unknowable (not our child): no signal seen counts as clean
  const clean = exit.signal === null && (exit.code === 0 || exit.code === null);
  const asked = requested ?? (guestShutdown && exit.signal === null ? 'the guest powered off' : null);
  if (asked !== null) return { to: 'stopped', reason: clean ? asked : `${asked} (${describeExit(exit.code, exit.signal)})`, clean };
  return { to: 'crashed', reason: describeExit(exit.code, exit.signal), clean: false };
}

/** The qcow2 disks a VM's QEMU writes: its own, and one it names by reference. */
export async function writableQcow2Disks(spec: VmSpec, vmDir: string): Promise<string[]> {
  const paths = spec.disks.filter((d) => d.endsWith('.qcow2')).map((d) => join(vmDir, d));
  const ref = referencedDisk(spec);
  if (ref && (await qemuImgInfo(ref).then((i) => i.format === 'qcow2', () => false))) paths.push(ref);
  return paths;
}

/** `qemu-img check` each disk; a check that cannot run is a result too. */
export async function checkDisks(paths: string[], check: (path: string) => Promise<CheckResult>, now: () => number, report: (c: DiskCheck, line: string) => void): Promise<void> {
  for (const path of paths) {
    const at = (): string => new Date(now()).toISOString();
    try {
      const r = await check(path);
      report({ at: at(), disk: path, exitCode: r.exitCode, summary: r.summary }, `qemu-img check ${basename(path)}: exit ${r.exitCode} (${r.summary})`);
    } catch (err) {
      report({ at: at(), disk: path, exitCode: 1, summary: (err as Error).message }, `qemu-img check ${basename(path)} could not run: ${(err as Error).message}`);
    }
  }
}

/** on-failure: restart after a crash, with a backoff that resets once a run lasted. */
export class RestartPolicy {
  private readonly backoff: RestartBackoff;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: BackoffOptions | undefined) {
    this.backoff = new RestartBackoff(opts);
  }

  get failures(): number {
    return this.backoff.failures;
  }

  /** Call `restart` after the backoff for a run that lasted `upForMs`; returns the delay. */
  schedule(upForMs: number, restart: () => void): number {
    this.cancel();
    const delay = this.backoff.nextDelay(upForMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      restart();
    }, delay);
    this.timer.unref();
    return delay;
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A start by the user: the count of failures in a row begins again. */
  reset(): void {
    this.cancel();
    this.backoff.reset();
  }
}
