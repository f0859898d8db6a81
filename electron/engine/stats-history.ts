// The last few stats samples of each running VM, kept by the engine so a window that opens
// (or reloads) draws full sparklines at once instead of starting empty (issue 14 #11). Filled
// by the stats sampler (streams.ts), which samples while any client listens. A VM's history
// is one run of its QEMU: a new pid starts it afresh, a stopped VM has none. A libvirt domain
// has no pid of ours: its run is keyed 'domain', and its stop (a tick that sees it stopped) ends it.
import type { VmStats } from '../../shared/contract';

/** Matches the renderer's sparkline window (STATS_WINDOW): one sample a second for a minute. */
export const STATS_HISTORY_LENGTH = 60;

const key = (host: string, id: string): string => `${host}\n${id}`;

export class StatsHistory {
  private readonly byVm = new Map<string, { run: number | string; ring: VmStats[] }>();

  constructor(private readonly length = STATS_HISTORY_LENGTH) {}

  push(sample: VmStats, runKey: number | string): void {
    const k = key(sample.host, sample.id);
    let run = this.byVm.get(k);
    if (!run || run.run !== runKey) this.byVm.set(k, (run = { run: runKey, ring: [] }));
    run.ring.push(sample);
    if (run.ring.length > this.length) run.ring.splice(0, run.ring.length - this.length);
  }

  forget(host: string, id: string): void {
    this.byVm.delete(key(host, id));
  }

  /** Every VM's samples, oldest first per VM; copies, so callers cannot change the history. */
  all(): VmStats[] {
    return [...this.byVm.values()].flatMap((run) => run.ring.map((s) => ({ ...s })));
  }
}
