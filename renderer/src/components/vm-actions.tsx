// The lifecycle buttons for one VM, offered exactly as shared/state.ts's guards allow.
// Disabled while this VM has an action in flight; other VMs are unaffected.
import type { ReactElement } from 'react';
import { canDelete, canForceStop, canPause, canRestart, canResume, canStart, canStop } from '../../../shared/state';
import { openDialog, openVm, pauseVm, restartVm, resumeVm, startVm, stopVm } from '../store/actions';
import { useStore } from '../store/store';
import { Icon, type IconName } from './icons';

function IconAction({ icon, label, onClick, disabled, danger }: { icon: IconName; label: string; onClick: () => void; disabled: boolean; danger?: boolean }): ReactElement {
  return (
    <button type="button" className={`icon-btn${danger ? ' danger' : ''}`} aria-label={label} title={label} disabled={disabled} onClick={onClick}>
      <Icon name={icon} />
    </button>
  );
}

export function VmActions({ id, showOpen = true }: { id: string; showOpen?: boolean }): ReactElement | null {
  const state = useStore((s) => s.vms.byId[id]?.state);
  const busy = useStore((s) => (s.vms.ops[id]?.pending ?? null) !== null);
  if (!state) return null;
  const vm = { state };
  return (
    <div className="actions" role="group" aria-label="Actions">
      {canStart(vm) && (
        <button type="button" className="btn btn-primary btn-sm" disabled={busy} onClick={() => void startVm(id)}>
          <Icon name="play" size={14} /> Start
        </button>
      )}
      {canStop(vm) && (
        <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void stopVm(id)}>
          <Icon name="stop" size={14} /> Stop
        </button>
      )}
      {canPause(vm) && <IconAction icon="pause" label="Pause" disabled={busy} onClick={() => void pauseVm(id)} />}
      {canResume(vm) && <IconAction icon="play" label="Resume" disabled={busy} onClick={() => void resumeVm(id)} />}
      {canRestart(vm) && <IconAction icon="restart" label="Restart" disabled={busy} onClick={() => void restartVm(id)} />}
      {canForceStop(vm) && <IconAction icon="power" label="Force stop" danger disabled={false} onClick={() => openDialog({ kind: 'forceStop', id })} />}
      {canDelete(vm) && <IconAction icon="trash" label="Delete" danger disabled={busy} onClick={() => openDialog({ kind: 'delete', id })} />}
      <span className="spacer" />
      {showOpen && (
        <button type="button" className="btn btn-ghost btn-sm" onClick={() => openVm(id)}>
          Open <Icon name="open" size={14} />
        </button>
      )}
    </div>
  );
}
