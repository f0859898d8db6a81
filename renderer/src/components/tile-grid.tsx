// The responsive grid of tiles. It selects only the ordered list of ids (shallow-compared),
// so stats, thumbnails and state changes of one VM never re-render the grid.
import { Profiler, type ProfilerOnRenderCallback, type ReactElement } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { selectVisibleIds } from '../store/selectors';
import { useStore } from '../store/store';
import { CreatingTile, useCreatingKeys } from './creating-tile';
import { VmTile } from './vm-tile';

export function TileGrid({ onTileRender }: { onTileRender?: ProfilerOnRenderCallback }): ReactElement {
  const ids = useStore(useShallow(selectVisibleIds));
  const filter = useStore((s) => s.ui.filter);
  const creating = useCreatingKeys();
  if (ids.length === 0 && creating.length === 0) {
    return (
      <p className="grid-empty" role="status">
        No VM matches “{filter}”.
      </p>
    );
  }
  return (
    <div className="grid" role="list" aria-label="Virtual machines">
      {creating.map((k) => (
        <div role="listitem" key={k} className="grid-cell">
          <CreatingTile k={k} />
        </div>
      ))}
      {ids.map((id) => (
        <div role="listitem" key={id} className="grid-cell">
          {onTileRender ? (
            <Profiler id={id} onRender={onTileRender}>
              <VmTile id={id} />
            </Profiler>
          ) : (
            <VmTile id={id} />
          )}
        </div>
      ))}
    </div>
  );
}
