// The last few stats samples of each running VM, kept by the engine so a window that opens
// (or reloads) draws full sparklines at once instead of starting empty (issue 14 #11).
// A VM's history ends with its run: a stopped VM has no live numbers.
import type { VmStats } from '../../shared/contract';

/** Matches the renderer's sparkline window (STATS_WINDOW): one sample a second for a minute. */
export const STATS_HISTORY_LENGTH = 60;

export class StatsHistory {
  private readonly byId = new Map<string, VmStats[]>();

  constructor(private readonly length = STATS_HISTORY_LENGTH) {}

  push(sample: VmStats): void {
    let ring = this.byId.get(sample.id);
    if (!ring) this.byId.set(sample.id, (ring = []));
    ring.push(sample);
    if (ring.length > this.length) ring.splice(0, ring.length - this.length);
  }

  forget(id: string): void {
    this.byId.delete(id);
  }

  /** Every VM's samples, oldest first per VM; copies, so callers cannot change the history. */
  all(): VmStats[] {
    return [...this.byId.values()].flatMap((ring) => ring.map((s) => ({ ...s })));
  }
}
