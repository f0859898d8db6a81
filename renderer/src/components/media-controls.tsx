// The VM view's CD drive: what is in it, Insert CD… (an ISO, through the picker) and Eject,
// running or stopped. Hidden when the VM's host cannot change media; disabled with the reason
// when the VM's state does not allow it (shared/offers.ts).
import type { ReactElement } from 'react';
import { cdMedium, offerOp } from '../../../shared/offers';
import { openDialog } from '../store/actions';
import { ejectCd } from '../store/lifecycle-actions';
import { useStore } from '../store/store';
import { Icon } from './icons';

export function MediaControls({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const busy = useStore((s) => (s.vms.ops[id]?.pending ?? null) !== null);
  if (!vm) return null;
  const insert = offerOp(vm, 'insertCd');
  const eject = offerOp(vm, 'ejectCd');
  if (!insert.shown && !eject.shown) return null;
  const medium = cdMedium(vm);
  const insertWhy = insert.shown ? insert.disabledReason : null;
  const ejectWhy = eject.shown ? eject.disabledReason : null;
  return (
    <div className="media" role="group" aria-label="CD drive">
      <Icon name="disc" size={14} />
      <span className="media-name" title={medium ?? undefined} data-testid={`vm-${vm.name}-cd`}>
        {typeof medium === 'string' ? medium.split('/').pop() : medium === null ? 'Empty drive' : 'No CD'}
      </span>
      {insert.shown && (
        <button type="button" className="btn btn-sm btn-ghost" disabled={busy || insertWhy !== null} title={insertWhy ?? 'Put an ISO image in the CD drive'} onClick={() => openDialog({ kind: 'insertCd', id })}>
          {typeof medium === 'string' ? 'Change CD…' : 'Insert CD…'}
        </button>
      )}
      {eject.shown && (
        <button type="button" className="btn btn-sm btn-ghost" disabled={busy || ejectWhy !== null} title={ejectWhy ?? 'Eject the CD'} onClick={() => void ejectCd(id)}>
          <Icon name="eject" size={14} /> Eject
        </button>
      )}
    </div>
  );
}
