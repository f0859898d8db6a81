// What the engine asked the user to watch out for after an action that worked (a start that
// may run the host short of memory, with the numbers): shown on the tile, dismissable.
import type { ReactElement } from 'react';
import { Icon } from './icons';

export function InlineWarnings({ warnings, onDismiss }: { warnings: readonly string[]; onDismiss: () => void }): ReactElement | null {
  if (warnings.length === 0) return null;
  return (
    <div className="inline-warning" role="status">
      <Icon name="alert" size={16} />
      <div className="inline-error-body">
        {warnings.map((w) => (
          <p key={w}>{w}</p>
        ))}
      </div>
      <button type="button" className="icon-btn" aria-label="Dismiss warning" onClick={onDismiss}>
        <Icon name="close" size={14} />
      </button>
    </div>
  );
}
