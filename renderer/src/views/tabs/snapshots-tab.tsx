// A VM's snapshots (internal qcow2 snapshots): list with time, size and whether the RAM is in
// it; take one (running or stopped), revert to one and delete one, each confirmed first. While
// a snapshot job runs its progress shows above the tabs (with Cancel); the list reloads when it ends.
import { useCallback, useEffect, useState, type FormEvent, type ReactElement } from 'react';
import type { SnapshotInfo } from '../../../../shared/contract';
import { offerOp } from '../../../../shared/offers';
import { Field } from '../../components/fields';
import { Icon } from '../../components/icons';
import { ConfirmAction } from '../../components/confirm-action';
import { InlineError } from '../../components/inline-error';
import { Modal, ModalFoot } from '../../components/modal';
import { engineFieldErrors } from '../../lib/engine-field-errors';
import { formatBytes, relativeTime } from '../../lib/format';
import { createSnapshot, deleteSnapshot, listSnapshots, offersDiskOnly, revertSnapshot } from '../../store/lifecycle-actions';
import { useStore, type UiError } from '../../store/store';

type Ask = { kind: 'create' } | { kind: 'revert'; snap: SnapshotInfo } | { kind: 'delete'; snap: SnapshotInfo } | null;

function takenAt(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function CreateSnapshot({ id, onDone, onClose }: { id: string; onDone: () => void; onClose: () => void }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  if (!vm) return null;
  const running = vm.state === 'running';
  const take = async (diskOnly: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    const err = await createSnapshot(id, name.trim(), diskOnly);
    setBusy(false);
    if (err) return setError(err);
    onDone();
    onClose();
  };
  const fields = error ? engineFieldErrors(error, { paths: {}, hostPorts: [] }) : {};
  const diskOnly = offersDiskOnly(error);
  return (
    <Modal title={`Take a snapshot of ${vm.name}`} onClose={onClose}>
      <form
        noValidate
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void take(false);
        }}
      >
        <div className="modal-body">
          <Field label="Name" error={fields['name']} hint="Optional: without one it is named from the date and time">
            {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" data-autofocus placeholder="before-upgrade" value={name} onChange={(e) => (setName(e.target.value), setError(null))} />}
          </Field>
          <p className="hint">
            {running
              ? `${vm.name} keeps running. Its memory is saved with its disks, so reverting brings back the programs running now.`
              : `Saves ${vm.name}'s disks as they are now.`}
          </p>
          {error && diskOnly ? (
            <div className="confirm-inline" role="alert">
              {/* the engine's words name the CLI flag; here the button below is the way */}
              <p>{error.message.replace(/ \(--disk-only\)/, '')}</p>
              <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void take(true)}>
                Take a disk-only snapshot
              </button>
            </div>
          ) : (
            error && !fields['name'] && <InlineError error={error} onDismiss={() => setError(null)} />
          )}
        </div>
        <ModalFoot busy={busy} label="Take snapshot" busyLabel="Saving…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

export function SnapshotsTab({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const progress = useStore((s) => s.vms.byId[id]?.progress ?? null);
  const [list, setList] = useState<SnapshotInfo[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [ask, setAsk] = useState<Ask>(null);

  const [seq, setSeq] = useState(0);
  /** list again (after an action here) */
  const reload = useCallback((): void => setSeq((n) => n + 1), []);
  // on open, after an action, and whenever a job of this VM ends (one run from the CLI shows up too)
  useEffect(() => {
    if (progress !== null) return;
    let live = true;
    void listSnapshots(id).then((r) => {
      if (!live) return;
      setList(r.list);
      setError(r.error);
    });
    return () => {
      live = false;
    };
  }, [progress, seq, id]);

  if (!vm) return null;
  const offer = offerOp(vm, 'snapshots');
  const why = offer.shown ? offer.disabledReason : 'Not available on this host';
  const running = vm.state === 'running';
  const sorted = [...(list ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));

  return (
    <div className="snapshots-tab">
      <div className="pane-bar">
        <p className="muted snap-summary">
          {list === null ? 'Loading…' : list.length === 0 ? 'No snapshots yet' : `${list.length} snapshot${list.length === 1 ? '' : 's'}`}
        </p>
        <span className="spacer" />
        <button type="button" className="btn btn-primary btn-sm" disabled={why !== null} title={why ?? undefined} onClick={() => setAsk({ kind: 'create' })}>
          <Icon name="camera" size={14} /> Take snapshot
        </button>
      </div>
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
      {list && list.length === 0 && (
        <div className="snap-empty">
          <Icon name="camera" size={28} />
          <p>A snapshot saves {vm.name}&apos;s disks — and, while it runs, its memory — so you can come back to this moment later.</p>
        </div>
      )}
      {sorted.length > 0 && (
        <table className="snap-table" aria-label={`Snapshots of ${vm.name}`}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Taken</th>
              <th scope="col">Size</th>
              <th scope="col">Contents</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((s) => {
              const revertWhy = why ?? (running && !s.includesRam ? 'A disk-only snapshot: stop the VM to revert to it' : null);
              return (
                <tr key={s.name} data-testid={`snapshot-${s.name}`}>
                  <th scope="row" className="snap-name">
                    {s.name}
                  </th>
                  <td title={s.createdAt}>
                    {takenAt(s.createdAt)} <span className="muted">· {relativeTime(s.createdAt)}</span>
                  </td>
                  <td>{s.vmStateBytes > 0 ? formatBytes(s.vmStateBytes) : '—'}</td>
                  <td>
                    <span className={`pill ${s.includesRam ? 'pill-ram' : ''}`}>{s.includesRam ? 'Disks + RAM' : 'Disks only'}</span>
                  </td>
                  <td className="snap-actions">
                    <button
                      type="button"
                      className="btn btn-sm"
                      disabled={revertWhy !== null || progress !== null}
                      title={revertWhy ?? undefined}
                      aria-label={`Revert to ${s.name}`}
                      onClick={() => setAsk({ kind: 'revert', snap: s })}
                    >
                      <Icon name="restart" size={14} /> Revert
                    </button>
                    <button
                      type="button"
                      className="icon-btn danger"
                      disabled={why !== null || progress !== null}
                      title={why ?? `Delete ${s.name}`}
                      aria-label={`Delete ${s.name}`}
                      onClick={() => setAsk({ kind: 'delete', snap: s })}
                    >
                      <Icon name="trash" />
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {ask?.kind === 'create' && <CreateSnapshot id={id} onDone={() => reload()} onClose={() => setAsk(null)} />}
      {ask?.kind === 'revert' && (
        <ConfirmAction title={`Revert ${vm.name} to ${ask.snap.name}?`} action="Revert" danger onConfirm={() => revertSnapshot(id, ask.snap.name)} onClose={() => (setAsk(null), reload())}>
          <p>
            Everything that changed in {vm.name} since {takenAt(ask.snap.createdAt)} is lost.{' '}
            {running ? 'It goes on running from the moment the snapshot was taken.' : 'It stays stopped; its disks go back to that moment.'}
          </p>
        </ConfirmAction>
      )}
      {ask?.kind === 'delete' && (
        <ConfirmAction title={`Delete snapshot ${ask.snap.name}?`} action="Delete" danger onConfirm={() => deleteSnapshot(id, ask.snap.name)} onClose={() => (setAsk(null), reload())}>
          <p>{vm.name} stays as it is now; only the way back to {ask.snap.name} goes. This cannot be undone.</p>
        </ConfirmAction>
      )}
    </div>
  );
}
