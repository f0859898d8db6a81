// Deleting removes the VM's directory including its disks; say so plainly before doing it.
// On a libvirt host the domain's disks live in the host's storage pools, apart from its
// definition: the user chooses whether they go too (as virt-manager asks).
import { useState, type ReactElement } from 'react';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { closeDialog, deleteVm } from '../store/actions';
import { useStore } from '../store/store';
import { Modal } from './modal';

export function ConfirmDelete({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [storage, setStorage] = useState(false);
  if (!vm) return null;
  if (vm.host !== LOCAL_HOST) {
    return (
      <Modal title={`Delete ${vm.name}?`} onClose={closeDialog} role="alertdialog" describedBy="delete-desc">
        <div className="modal-body" id="delete-desc">
          <p>
            This removes <strong>{vm.name}</strong>&apos;s definition from the host <strong>{vm.host}</strong>. This cannot be undone.
          </p>
          <label className="check">
            <input type="checkbox" checked={storage} onChange={(e) => setStorage(e.target.checked)} /> Also delete its disks from the host&apos;s storage
          </label>
          <p className="field-hint">Only its own disks: the image in its CD drive and any read-only or shared disk stay, as other VMs may use them.</p>
        </div>
        <div className="modal-foot">
          <button type="button" className="btn" onClick={closeDialog} data-autofocus>
            Cancel
          </button>
          <button type="button" className="btn btn-danger" onClick={() => void deleteVm(id, { storage })}>
            {storage ? 'Delete VM and disks' : 'Delete VM, keep disks'}
          </button>
        </div>
      </Modal>
    );
  }
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
