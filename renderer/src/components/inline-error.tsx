// An engine error shown where it belongs (a tile, a form), with its code and detail.
import type { ReactElement } from 'react';
import type { UiError } from '../store/store';
import { Icon } from './icons';

function detailText(details: unknown): string | null {
  if (details === undefined || details === null) return null;
  if (typeof details === 'string') return details;
  const d = details as { fields?: unknown; logTail?: unknown; stderr?: unknown };
  // field errors: the message already says each in plain words, and the form shows them by the field
  if (Array.isArray(d.fields)) return null;
  if (Array.isArray(d.logTail)) return d.logTail.join('\n');
  if (typeof d.stderr === 'string') return d.stderr;
  try {
    return JSON.stringify(details, null, 2);
  } catch {
    return null;
  }
}

export function InlineError({ error, onDismiss }: { error: UiError; onDismiss?: () => void }): ReactElement {
  const detail = detailText(error.details);
  return (
    <div className="inline-error" role="alert">
      <Icon name="alert" size={16} />
      <div className="inline-error-body">
        <p>
          {error.action && <strong>{error.action} failed: </strong>}
          {error.message}
        </p>
        {detail && (
          <details>
            <summary>Details ({error.code})</summary>
            <pre>{detail}</pre>
          </details>
        )}
      </div>
      {onDismiss && (
        <button type="button" className="icon-btn" aria-label="Dismiss error" onClick={onDismiss}>
          <Icon name="close" size={14} />
        </button>
      )}
    </div>
  );
}
