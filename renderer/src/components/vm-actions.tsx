// The lifecycle buttons for one VM, offered exactly as shared/offers.ts allows: the state
// guards, what the VM's host can do (caps), and whether its spec could be read (broken).
// Disabled while this VM has an action in flight; other VMs are unaffected.
import type { ReactElement } from 'react';
import { offers } from '../../../shared/offers';
import { openDialog, openVm, pauseVm, restartVm, resumeVm, startVm, stopVm } from '../store/actions';
import { useStore } from '../store/store';
import { Icon, type IconName } from './icons';
import { VmMenu } from './vm-menu';

function IconAction({ icon, label, onClick, disabled, danger }: { icon: IconName; label: string; onClick: () => void; disabled: boolean; danger?: boolean }): ReactElement {
  return (
    <button type="button" className={`icon-btn${danger ? ' danger' : ''}`} aria-label={label} title={label} disabled={disabled} onClick={onClick}>
      <Icon name={icon} />
    </button>
  );
}

export function VmActions({ id, showOpen = true }: { id: string; showOpen?: boolean }): ReactElement | null {
  const state = useStore((s) => s.vms.byId[id]?.state);
  const caps = useStore((s) => s.vms.byId[id]?.caps);
  const broken = useStore((s) => s.vms.byId[id]?.broken ?? null);
  const busy = useStore((s) => (s.vms.ops[id]?.pending ?? null) !== null);
  if (!state || !caps) return null;
  const vm = { state, caps, broken };
  return (
    <div className="actions" role="group" aria-label="Actions">
      {offers(vm, 'start') && (
        <button type="button" className="btn btn-primary btn-sm" disabled={busy} onClick={() => void startVm(id)}>
          <Icon name="play" size={14} /> Start
        </button>
      )}
      {offers(vm, 'stop') && (
        <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void stopVm(id)}>
          <Icon name="stop" size={14} /> Stop
        </button>
      )}
      {offers(vm, 'pause') && <IconAction icon="pause" label="Pause" disabled={busy} onClick={() => void pauseVm(id)} />}
      {offers(vm, 'resume') && <IconAction icon="play" label="Resume" disabled={busy} onClick={() => void resumeVm(id)} />}
      {offers(vm, 'restart') && <IconAction icon="restart" label="Restart" disabled={busy} onClick={() => void restartVm(id)} />}
      {offers(vm, 'forceStop') && <IconAction icon="power" label="Force stop" danger disabled={false} onClick={() => openDialog({ kind: 'forceStop', id })} />}
      {offers(vm, 'delete') && <IconAction icon="trash" label="Delete" danger disabled={busy} onClick={() => openDialog({ kind: 'delete', id })} />}
      <VmMenu id={id} disabled={busy} />
      <span className="spacer" />
      {showOpen && (
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => openVm(id)}>
          Open <Icon name="open" size={14} />
        </button>
      )}
    </div>
  );
}
