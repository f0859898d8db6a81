// QEMU's log and the VM's lifecycle events (with reasons), newest at the bottom, following
// live output unless the user scrolled up to read.
import { useEffect, useLayoutEffect, useRef, useState, type ReactElement } from 'react';
import { InlineError } from '../../components/inline-error';
import { loadLogs } from '../../store/actions';
import { useStore, type UiError } from '../../store/store';

type Filter = 'all' | 'lifecycle' | 'qemu';

export function LogsTab({ id }: { id: string }): ReactElement {
  const entries = useStore((s) => s.consoles.logs[id]);
  const [error, setError] = useState<UiError | null>(null);
  const [filter, setFilter] = useState<Filter>('all');
  const box = useRef<HTMLDivElement>(null);
  const follow = useRef(true);

  useEffect(() => {
    let live = true;
    void loadLogs(id).then((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [id]);

  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [entries, filter]);

  const shown = (entries ?? []).filter((e) => filter === 'all' || e.source === filter);
  return (
    <div className="logs-tab">
      <div className="pane-bar">
        <div className="segmented" role="radiogroup" aria-label="Show">
          {(['all', 'lifecycle', 'qemu'] as const).map((f) => (
            <label key={f} className={filter === f ? 'selected' : ''}>
              <input type="radio" name="log-filter" checked={filter === f} onChange={() => setFilter(f)} />
              {f === 'all' ? 'All' : f === 'lifecycle' ? 'Lifecycle' : 'QEMU'}
            </label>
          ))}
        </div>
        <span className="spacer" />
        <span className="muted">{entries ? `${shown.length} entries` : 'Loading…'}</span>
      </div>
      {error && <InlineError error={error} />}
      <div
        className="log-box"
        ref={box}
        role="log"
        aria-label="VM log"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.length === 0 && entries && <p className="muted">Nothing logged yet.</p>}
        {shown.map((e, i) => (
          <div key={i} className={`log-line log-${e.source}`}>
            <time dateTime={e.t}>{new Date(e.t).toLocaleTimeString()}</time>
            <span className="log-src">{e.source === 'qemu' ? 'qemu' : 'event'}</span>
            <span className="log-text">{e.text}</span>
          </div>
        ))}
      </div>
    </div>
  );
}
