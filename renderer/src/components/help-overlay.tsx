// Lists the keyboard shortcuts (opened with `?`).
import type { ReactElement } from 'react';
import { closeDialog } from '../store/actions';
import { Modal } from './modal';

export const SHORTCUTS: readonly [string, string][] = [
  ['n', 'New VM'],
  ['/', 'Filter VMs by name'],
  ['s', 'Start or stop the focused VM'],
  ['Enter', 'Open the focused VM'],
  ['Esc', 'Close a dialog, or go back to all VMs'],
  ['Ctrl+Shift+C / V', 'Copy from or paste into the console'],
  ['Ctrl+Shift+F', 'Find in the console'],
  ['Ctrl+= / - / 0', 'Larger, smaller or default text in the console'],
  ['?', 'Show this help'],
];

export function HelpOverlay(): ReactElement {
  return (
    <Modal title="Keyboard shortcuts" onClose={closeDialog}>
      <dl className="shortcuts modal-body">
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </Modal>
  );
}
