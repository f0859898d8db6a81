// The action under way on a VM ("Stopping…"), beside its state badge. When the badge already says
// the same ("Starting" while "Starting…" runs) the words stay for screen readers only and the
// spinner alone shows: the tile said "Starting… Starting".
import type { ReactElement } from 'react';
import type { VmState } from '../../../shared/state';

export function pendingRepeatsState(pending: string, state: VmState): boolean {
  return pending.replace(/…$/, '').toLowerCase() === state;
}

export function PendingStatus({ pending, state }: { pending: string; state: VmState }): ReactElement {
  return (
    <span className="pending" role="status">
      <span className="spinner" aria-hidden="true" />
      {pendingRepeatsState(pending, state) ? <span className="visually-hidden">{pending}</span> : pending}
    </span>
  );
}
