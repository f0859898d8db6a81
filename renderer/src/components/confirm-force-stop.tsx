// Force stop pulls the plug: the guest gets no chance to flush its disks. Ask first (the stop
// countdown's "Force now" skips this: there the user already asked for the stop).
import type { ReactElement } from 'react';
import { closeDialog, confirmForceStop, stopAllVms } from '../store/actions';
import { selectFiltered, selectStopAllNames } from '../store/selectors';
import { useStore } from '../store/store';
import { Modal } from './modal';

export function ConfirmForceStop({ id }: { id: string }): ReactElement | null {
  const name = useStore((s) => s.vms.byId[id]?.name);
  if (!name) return null;
  return (
    <Modal title={`Force stop ${name}?`} onClose={closeDialog} role="alertdialog" describedBy="force-desc">
      <div className="modal-body" id="force-desc">
        <p>
          This turns <strong>{name}</strong> off at once, like pulling its power cord. Anything the guest has not written to disk is lost. Stop shuts it down
          cleanly instead.
        </p>
      </div>
      <div className="modal-foot">
        <button type="button" className="btn" onClick={closeDialog} data-autofocus>
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={() => confirmForceStop(id)}>
          Force stop
        </button>
      </div>
    </Modal>
  );
}

export function ConfirmStopAll(): ReactElement {
  // joined inside the selector: a string compares by value, a fresh array would re-render forever
  const names = useStore(selectStopAllNames);
  const filtered = useStore(selectFiltered);
  return (
    <Modal title={filtered ? 'Stop the VMs shown?' : 'Stop all VMs?'} onClose={closeDialog} role="alertdialog" describedBy="stop-all-desc">
      <div className="modal-body" id="stop-all-desc">
        <p>Each running VM{filtered ? ' shown' : ''} is asked to shut down cleanly ({names}); one that does not within 30 seconds is forced off.</p>
      </div>
      <div className="modal-foot">
        <button type="button" className="btn" onClick={closeDialog} data-autofocus>
          Cancel
        </button>
        <button type="button" className="btn btn-primary" onClick={() => void stopAllVms()}>
          {filtered ? 'Stop all shown' : 'Stop all'}
        </button>
      </div>
    </Modal>
  );
}
