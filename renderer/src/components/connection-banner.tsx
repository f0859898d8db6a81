// Says when the engine is out of reach, when we will retry, and offers to retry now. The
// message stays steady across retry attempts instead of flickering with each one.
import { useEffect, useState, type ReactElement } from 'react';
import { getApi } from '../api/current';
import { useStore } from '../store/store';
import { Icon } from './icons';

/** "Retrying in 3s." ticking down; keyed by the deadline so each wait starts fresh. */
function Countdown({ at }: { at: number }): ReactElement {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const secs = Math.max(0, Math.ceil((at - now) / 1000));
  return <>{secs > 0 ? `Retrying in ${secs}s.` : 'Reconnecting…'}</>;
}

export function ConnectionBanner(): ReactElement | null {
  const conn = useStore((s) => s.ui.connection);
  if (conn.kind === 'online' || (conn.kind === 'connecting' && conn.attempt <= 1)) return null;
  let text: ReactElement;
  if (conn.kind === 'unauthorized') text = <>Not connected: {conn.reason}. Open the URL printed by flotilla serve again.</>;
  else if (conn.kind === 'connecting') text = <>Connection lost: {conn.reason ?? 'the engine is not answering'}. Reconnecting…</>;
  else
    text = (
      <>
        Connection lost: {conn.reason}. {conn.retryAt ? <Countdown key={conn.retryAt} at={conn.retryAt} /> : 'Reconnecting…'}
      </>
    );
  return (
    <div className="banner" role="alert">
      <Icon name="alert" />
      <span>{text}</span>
      <button type="button" className="btn btn-sm" disabled={conn.kind === 'connecting'} onClick={() => getApi().retryNow()}>
        Retry now
      </button>
    </div>
  );
}
