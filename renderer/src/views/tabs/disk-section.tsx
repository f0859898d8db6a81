// Settings → Disks: the VM's own disks with their sizes; Grow (running or stopped, never
// shrink: the field refuses a size not above the current one), Add disk and Remove (stopped; only
// a disk added later, and only once no snapshot or linked clone needs it: the row says which).
import { useCallback, useEffect, useState, type ReactElement } from 'react';
import type { DiskInfo } from '../../../../shared/contract';
import { offerOp } from '../../../../shared/offers';
import { ConfirmAction } from '../../components/confirm-action';
import { Field } from '../../components/fields';
import { Icon } from '../../components/icons';
import { InlineError } from '../../components/inline-error';
import { formatBytes } from '../../lib/format';
import { openDialog } from '../../store/actions';
import { fieldErrors } from '../../store/errors';
import { listDisks, minGrowGiB, parseGiB, removeDisk, resizeDisk } from '../../store/lifecycle-actions';
import { useStore, type UiError } from '../../store/store';

/** What is wrong with a grow-to size typed for a disk of `virtualSize` bytes, or null. */
export function growError(text: string, virtualSize: number): string | null {
  const gib = parseGiB(text);
  if (gib === null) return 'A whole number of GiB, from 1 to 4096';
  const min = minGrowGiB(virtualSize);
  if (gib < min) return `Disks only grow: choose ${min} GiB or more (it is ${formatBytes(virtualSize)})`;
  return null;
}

function DiskRow({ id, disk, why, removeWhy, onRemove, onDone }: { id: string; disk: DiskInfo; why: string | null; removeWhy: string | null; onRemove: () => void; onDone: () => void }): ReactElement {
  const [size, setSize] = useState(String(minGrowGiB(disk.virtualSize)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const local = growError(size, disk.virtualSize);
  const shown = local ?? fieldErrors(error)['sizeGiB'];
  const grow = async (): Promise<void> => {
    const gib = parseGiB(size);
    if (local || gib === null) return;
    setBusy(true);
    setError(await resizeDisk(id, disk.name, gib));
    setBusy(false);
    onDone();
  };
  return (
    <tr data-testid={`disk-${disk.name}`}>
      <th scope="row" className="snap-name">
        {disk.name}
        {disk.backingFile && <div className="muted field-hint">linked to {disk.backingFile.split('/').slice(-2).join('/')}</div>}
        {disk.path && (
          <div className="muted field-hint disk-path" title={disk.path}>
            {disk.path}
          </div>
        )}
        {disk.guestMount && (
          <div className="muted field-hint disk-kept">
            at <code>{disk.guestMount}</code> in the guest
          </div>
        )}
        {disk.added && disk.keptBecause && <div className="muted field-hint disk-kept">Kept: {disk.keptBecause}</div>}
      </th>
      <td className="nowrap">{formatBytes(disk.virtualSize)}</td>
      <td className="nowrap">{disk.actualSize === null ? '—' : formatBytes(disk.actualSize)}</td>
      <td className="disk-grow-cell">
        <div className="disk-row">
          <Field label={`Grow ${disk.name} to (GiB)`} error={shown ?? undefined}>
            {(p) => <input {...p} type="number" min={minGrowGiB(disk.virtualSize)} max={4096} value={size} disabled={why !== null || busy} onChange={(e) => (setSize(e.target.value), setError(null))} />}
          </Field>
          <button type="button" className="btn btn-sm disk-grow" disabled={why !== null || busy || local !== null} title={why ?? undefined} onClick={() => void grow()}>
            {busy ? 'Growing…' : 'Grow'}
          </button>
        </div>
        {error && !fieldErrors(error)['sizeGiB'] && <InlineError error={error} onDismiss={() => setError(null)} />}
      </td>
      <td className="disk-remove-cell">
        {disk.added && (
          <button
            type="button"
            className="btn btn-sm btn-ghost"
            aria-label={`Remove ${disk.name}`}
            disabled={removeWhy !== null || disk.keptBecause !== undefined || busy}
            title={removeWhy ?? disk.keptBecause ?? undefined}
            onClick={onRemove}
          >
            <Icon name="trash" size={14} /> Remove
          </button>
        )}
      </td>
    </tr>
  );
}

export function DiskSection({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const progress = useStore((s) => s.vms.byId[id]?.progress ?? null);
  const disksKey = useStore((s) => s.vms.byId[id]?.spec.disks.join(',') ?? '');
  // linked clones made or deleted change which disks may go (a clone's delete is no job of this VM)
  const clonesKey = useStore((s) =>
    Object.values(s.vms.byId)
      .filter((v) => v.spec.linkedFrom === id)
      .map((v) => v.id)
      .join(','),
  );
  const [list, setList] = useState<DiskInfo[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [seq, setSeq] = useState(0);
  const [removing, setRemoving] = useState<DiskInfo | null>(null);
  /** list again (after an action here) */
  const reload = useCallback((): void => setSeq((n) => n + 1), []);
  // on open, after an action, whenever a job of this VM ends (one run from the CLI shows up too),
  // and when its linked clones change
  useEffect(() => {
    if (progress !== null) return;
    let live = true;
    void listDisks(id).then((r) => {
      if (!live) return;
      setList(r.list);
      setError(r.error);
    });
    return () => {
      live = false;
    };
  }, [progress, disksKey, clonesKey, seq, id]);

  if (!vm) return null;
  const resize = offerOp(vm, 'resizeDisk');
  const add = offerOp(vm, 'addDisk');
  const remove = offerOp(vm, 'removeDisk');
  const removeWhy = remove.shown ? remove.disabledReason : 'Not available on this host';
  if (!resize.shown && !add.shown) return null;
  const why = resize.shown ? resize.disabledReason : 'Not available on this host';
  const addWhy = add.shown ? add.disabledReason : null;
  return (
    <section className="disk-section" aria-label="Disks">
      <div className="pane-bar">
        <h2 className="section-title">Disks</h2>
        <span className="spacer" />
        {add.shown && (
          <button type="button" className="btn btn-sm" disabled={addWhy !== null} title={addWhy ?? undefined} onClick={() => openDialog({ kind: 'addDisk', id })}>
            <Icon name="plus" size={14} /> Add disk…
          </button>
        )}
      </div>
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
      {list && list.length === 0 && <p className="notice">{vm.name} has no disk of its own (its disk is used in place, or it boots without one).</p>}
      {list && list.length > 0 && (
        <table className="snap-table" aria-label={`Disks of ${vm.name}`}>
          <thead>
            <tr>
              <th scope="col">Disk</th>
              <th scope="col">Size</th>
              <th scope="col">Used on host</th>
              <th scope="col">Grow (never shrinks)</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <DiskRow key={`${d.name}-${d.virtualSize}`} id={id} disk={d} why={why} removeWhy={removeWhy} onRemove={() => setRemoving(d)} onDone={() => reload()} />
            ))}
          </tbody>
        </table>
      )}
      {removing && (
        <ConfirmAction title={`Remove ${removing.name} from ${vm.name}?`} action={removing.removeKeepsFile ? 'Detach disk' : 'Remove disk'} danger onConfirm={() => removeDisk(id, removing.name)} onClose={() => (setRemoving(null), reload())}>
          {removing.removeKeepsFile ? (
            <p>
              It is detached from {vm.name}; its image stays on {vm.host} at {removing.path}. If the guest mounts it at boot (an /etc/fstab line, say), take that out first: a missing disk
              can hold up the boot.
            </p>
          ) : (
            <p>
              Its file is deleted, with everything on it ({formatBytes(removing.virtualSize)} disk{removing.actualSize === null ? '' : `, ${formatBytes(removing.actualSize)} used on the host`}). This
              cannot be undone. If the guest mounts it at boot (an /etc/fstab line, say), take that out first: a missing disk can hold up the boot.
            </p>
          )}
        </ConfirmAction>
      )}
    </section>
  );
}
