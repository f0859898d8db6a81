// Several VMs at once: tick tiles, then start or stop them together. "Stop all" stops every
// running VM after a confirmation; while a filter is on it is "Stop all shown" and stops what the
// grid shows. Each VM still shows its own progress and error on its tile.
import type { ReactElement } from 'react';
import { clearSelection, openDialog, selectedFor, startSelected, stopSelected, toggleSelected } from '../store/actions';
import { selectFiltered, selectStopAllIds } from '../store/selectors';
import { useStore } from '../store/store';
import { Icon } from './icons';

export function SelectTile({ id, name }: { id: string; name: string }): ReactElement {
  const on = useStore((s) => !!s.ui.selected[id]);
  return (
    <label className="tile-select" title={`Select ${name}`}>
      <input type="checkbox" aria-label={`Select ${name}`} checked={on} onChange={(e) => toggleSelected(id, e.target.checked)} />
    </label>
  );
}

export function SelectionBar(): ReactElement | null {
  const count = useStore((s) => Object.keys(s.ui.selected).length);
  const canStartN = useStore((s) => selectedFor(s, 'start').length);
  const canStopN = useStore((s) => selectedFor(s, 'stop').length);
  const anyStoppable = useStore((s) => selectStopAllIds(s).length > 0);
  const filtered = useStore(selectFiltered);
  if (count === 0 && !anyStoppable) return null;
  return (
    <div className="selection-bar" role="toolbar" aria-label="Several VMs">
      {count > 0 ? (
        <>
          <span className="selection-count" role="status">
            {count} selected
          </span>
          <button type="button" className="btn btn-sm btn-primary" disabled={canStartN === 0} onClick={() => void startSelected()}>
            <Icon name="play" size={14} /> Start selected
          </button>
          <button type="button" className="btn btn-sm" disabled={canStopN === 0} onClick={() => void stopSelected()}>
            <Icon name="stop" size={14} /> Stop selected
          </button>
          <button type="button" className="btn btn-sm btn-ghost" onClick={clearSelection}>
            Clear selection
          </button>
        </>
      ) : (
        <span className="selection-hint">Tick tiles to start or stop several VMs together.</span>
      )}
      <span className="spacer" />
      {anyStoppable && (
        <button type="button" className="btn btn-sm" onClick={() => openDialog({ kind: 'stopAll' })}>
          <Icon name="stop" size={14} /> {filtered ? 'Stop all shown' : 'Stop all'}
        </button>
      )}
    </div>
  );
}
