// The top bar of the tiles view: filter, sort, new VM, shortcuts help.
import { useEffect, useRef, type ReactElement } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { openDialog, setFilter, setHostFilter, setSort } from '../store/actions';
import { selectHosts, selectVmCount } from '../store/selectors';
import { useStore, type SortKey } from '../store/store';
import { Icon } from './icons';

export function Toolbar(): ReactElement {
  const filter = useStore((s) => s.ui.filter);
  const sort = useStore((s) => s.ui.sort);
  const hosts = useStore(useShallow(selectHosts));
  const hostFilter = useStore((s) => s.ui.hostFilter);
  const count = useStore(selectVmCount);
  const focusSeq = useStore((s) => s.ui.focusFilterSeq);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (focusSeq > 0) input.current?.focus();
  }, [focusSeq]);
  return (
    <div className="toolbar">
      {count > 0 && (
        <>
          <div className="search">
            <Icon name="search" size={14} />
            <input
              ref={input}
              type="search"
              aria-label="Filter VMs by name"
              placeholder={`Filter ${count} VM${count === 1 ? '' : 's'}`}
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  setFilter('');
                  e.currentTarget.blur();
                }
              }}
            />
            <kbd aria-hidden="true">/</kbd>
          </div>
          {hosts.length > 1 && (
            <select aria-label="Show VMs on host" value={hostFilter ?? ''} onChange={(e) => setHostFilter(e.target.value || null)}>
              <option value="">All hosts</option>
              {hosts.map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name}
                  {h.state === 'connected' ? '' : ` (${h.state})`}
                </option>
              ))}
            </select>
          )}
          <select aria-label="Sort by" value={sort} onChange={(e) => setSort(e.target.value as SortKey)}>
            <option value="name">Sort: Name</option>
            <option value="state">Sort: State</option>
            <option value="created">Sort: Newest</option>
          </select>
        </>
      )}
      <button type="button" className="btn" aria-label="Hosts" title="This computer and libvirt hosts: add or forget one" onClick={() => openDialog({ kind: 'hosts' })}>
        <Icon name="server" size={14} />
        <span className="btn-label btn-label-secondary">Hosts</span>
      </button>
      <button type="button" className="btn" aria-label="Import VM" title="Import a VM from an exported file" onClick={() => openDialog({ kind: 'import' })}>
        <Icon name="import" size={14} />
        <span className="btn-label btn-label-secondary">Import</span>
      </button>
      <button type="button" className="btn btn-primary" aria-label="New VM" title="New VM (n)" onClick={() => openDialog({ kind: 'create' })}>
        <Icon name="plus" size={14} />
        <span className="btn-label">New VM</span>
      </button>
    </div>
  );
}
