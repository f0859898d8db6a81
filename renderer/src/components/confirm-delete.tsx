// Deleting removes the VM's directory including its disks; say so plainly before doing it.
import type { ReactElement } from 'react';
import { closeDialog, deleteVm } from '../store/actions';
import { useStore } from '../store/store';
import { Modal } from './modal';

export function ConfirmDelete({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  if (!vm) return null;
  const reference = vm.spec.source.kind === 'disk' && vm.spec.source.mode === 'reference';
  return (
    <Modal title={`Delete ${vm.name}?`} onClose={closeDialog} role="alertdialog" describedBy="delete-desc">
      <div className="modal-body" id="delete-desc">
        <p>
          This permanently removes <strong>{vm.name}</strong> and its disks ({vm.spec.disks.length > 0 ? vm.spec.disks.join(', ') : 'its disk files'}) from
          this computer. This cannot be undone.
        </p>
        {reference && vm.spec.source.kind === 'disk' && <p className="hint">The referenced image {vm.spec.source.path} is yours and is kept.</p>}
      </div>
      <div className="modal-foot">
        <button type="button" className="btn" onClick={closeDialog} data-autofocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={() => void deleteVm(id)}>
          Delete VM and disks
        </button>
      </div>
    </Modal>
  );
}
