// Imports in flight, so the user can cancel one. An import has no VM (so no job queue) until it
// commits; its vm.progress events name the id the new VM will have, and vm.cancelJob with that
// id aborts it here. transfer.ts observes the signal at every chunk it extracts and the store
// sweeps the staging directory, so a cancelled import leaves nothing behind.
import type { ImportResult } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { OpsContext } from './ops-context';
import { importVm } from './transfer';

export class ImportJobs {
  private readonly byId = new Map<string, AbortController>();

  run(ops: OpsContext, path: string, opts: { name?: string; start: boolean }): Promise<ImportResult> {
    const ac = new AbortController();
    const tracked: OpsContext = {
      ...ops,
      progress: (id, p) => {
        if (p) this.byId.set(id, ac);
        ops.progress(id, p && { ...p, cancellable: true });
      },
    };
    const done = (failed: boolean): void => {
      for (const [id, c] of this.byId) {
        if (c !== ac) continue;
        this.byId.delete(id);
        // a failed import's bar must not hang on (a committed one cleared its own)
        if (failed) ops.progress(id, null);
      }
    };
    return importVm(tracked, path, opts.name, opts.start, ac.signal).then(
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
