// A question before an action that cannot be undone (revert or delete a snapshot, remove a disk):
// the action runs from the dialog, which stays open with the engine's error if it fails.
import { useState, type ReactElement } from 'react';
import type { UiError } from '../store/store';
import { InlineError } from './inline-error';
import { Modal } from './modal';

export function ConfirmAction({
  title,
  children,
  action,
  danger,
  onConfirm,
  onClose,
}: {
  title: string;
  children: ReactElement;
  action: string;
  danger?: boolean;
  onConfirm: () => Promise<UiError | null>;
  onClose: () => void;
}): ReactElement {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  return (
    <Modal title={title} onClose={onClose} role="alertdialog" describedBy="confirm-action-desc">
      <div className="modal-body" id="confirm-action-desc">
        {children}
        {error && <InlineError error={error} onDismiss={() => setError(null)} />}
      </div>
      <div className="modal-foot">
        <button type="button" className="btn" onClick={onClose} data-autofocus>
          Cancel
        </button>
        <button
          type="button"
          className={`btn ${danger ? 'btn-danger' : 'btn-primary'}`}
          disabled={busy}
          onClick={() => {
            setBusy(true);
            void onConfirm().then((err) => {
              setBusy(false);
              if (err) setError(err);
              else onClose();
            });
          }}
        >
          {busy ? `${action}…` : action}
        </button>
      </div>
    </Modal>
  );
}
