// A VM the engine is still creating (disk being made or imported): it shows up as a tile at
// once, with the progress bar, and turns into the real tile when the engine commits it.
import type { ReactElement } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { dismissCreating } from '../store/actions';
import { selectHostName } from '../store/selectors';
import { useStore } from '../store/store';
import { InlineError } from './inline-error';
import { JobProgress } from './job-progress';

/** Keys of creations that have started disk work (or failed after it). */
export function useCreatingKeys(): string[] {
  return useStore(useShallow((s) => Object.values(s.vms.creating).filter((c) => c.vmId !== null).map((c) => c.key)));
}

export function CreatingTile({ k }: { k: string }): ReactElement | null {
  const c = useStore((s) => s.vms.creating[k]);
  const hostName = useStore((s) => (c?.host ? selectHostName(s, c.host) : null));
  if (!c) return null;
  return (
    <section className="tile tile-creating" aria-label={`VM ${c.name}`} aria-busy={!c.error}>
      <header className="tile-head">
        <h2 className="tile-name">{c.name}</h2>
        <span className={`badge ${c.error ? 'badge-crashed' : 'badge-starting'}`}>
          <span className="badge-dot" aria-hidden="true" />
          <span className="visually-hidden">State: </span>
          <span data-testid={`vm-${c.name}-state`}>{c.error ? 'failed' : c.op === 'import' ? 'importing' : 'creating'}</span>
        </span>
      </header>
      {hostName && (
        <p className="tile-host" aria-label={`${c.name} is on host ${hostName}`}>
          {hostName}
        </p>
      )}
      <div className="thumb thumb-creating">
        <div className="thumb-empty thumb-off">
          <span className="thumb-off-state">{c.error ? (c.op === 'import' ? 'Not imported' : 'Not created') : c.op === 'import' ? 'Importing' : 'Preparing the disk'}</span>
        </div>
      </div>
      {c.progress && c.vmId && <JobProgress id={c.vmId} progress={c.progress} {...(c.host ? { host: c.host } : {})} />}
      {c.error && <InlineError error={c.error} onDismiss={() => dismissCreating(k)} />}
    </section>
  );
}
