// Imports in flight, so the user can cancel one. An import has no VM (so no job queue) until it
// commits; its vm.progress events name the id the new VM will have, and vm.cancelJob with that
// id aborts it here. The import observes the signal at every chunk it extracts or uploads and
// removes what it made, so a cancelled import leaves nothing behind. One per host (local: the
// store's staging directory; libvirt: its pool's volumes).
import type { Progress, ImportResult } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';

type Report = (id: string, p: Progress | null) => void;

export class ImportJobs {
  private readonly byId = new Map<string, AbortController>();

  /**
   * Runs `work`, whose progress goes out through `report` marked cancellable; the id its first
   * progress names is the one vm.cancelJob aborts.
   */
  run(report: Report, work: (progress: Report, signal: AbortSignal) => Promise<ImportResult>): Promise<ImportResult> {
    const ac = new AbortController();
    const progress: Report = (id, p) => {
      if (p) this.byId.set(id, ac);
      report(id, p && { ...p, cancellable: true });
    };
    const done = (failed: boolean): void => {
      for (const [id, c] of this.byId) {
        if (c !== ac) continue;
        this.byId.delete(id);
        // a failed import's bar must not hang on (a committed one cleared its own)
        if (failed) report(id, null);
      }
    };
    return work(progress, ac.signal).then(
      (vm) => (done(false), vm),
      (err: unknown) => {
        done(true);
        throw err;
      },
    );
  }

  /** false when no import makes a VM with this id (or it is already cancelled) */
  cancel(id: string): boolean {
    const ac = this.byId.get(id);
    if (!ac || ac.signal.aborted) return false;
    ac.abort(new FlotillaError('CANCELLED', 'import cancelled by the user'));
    return true;
  }
}
