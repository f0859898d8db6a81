// Says when the engine is out of reach, when we will retry, and offers to retry now. The
// message stays steady across retry attempts instead of flickering with each one.
import { useEffect, useState, type ReactElement } from 'react';
import { getApi } from '../api/current';
import { useStore } from '../store/store';
import { Icon } from './icons';

export function ConnectionBanner(): ReactElement | null {
  const conn = useStore((s) => s.ui.connection);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (conn.kind !== 'offline') return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [conn.kind]);
  if (conn.kind === 'online' || (conn.kind === 'connecting' && conn.attempt <= 1)) return null;
  let text: string;
  if (conn.kind === 'unauthorized') text = `Not connected: ${conn.reason}. Open the URL printed by flotilla serve again.`;
  else if (conn.kind === 'connecting') text = `Connection lost: ${conn.reason ?? 'the engine is not answering'}. Reconnecting…`;
  else {
    const secs = conn.retryAt ? Math.max(0, Math.ceil((conn.retryAt - now) / 1000)) : 0;
    text = `Connection lost: ${conn.reason}. ${secs > 0 ? `Retrying in ${secs}s.` : 'Reconnecting…'}`;
  }
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
