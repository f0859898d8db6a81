// The VM's state as a colored badge with its word. The word is what tests and screen
// readers read; color is only a second cue.
import type { ReactElement } from 'react';
import type { VmState } from '../../../shared/state';

export function StateBadge({ name, state }: { name: string; state: VmState }): ReactElement {
  return (
    <span className={`badge badge-${state}`}>
      <span className="badge-dot" aria-hidden="true" />
      <span className="visually-hidden">State: </span>
      <span data-testid={`vm-${name}-state`}>{state}</span>
    </span>
  );
}
