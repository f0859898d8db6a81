// The VM's screen through noVNC, over a one-time loopback WebSocket URL from `display.open`.
// Scaling toggle and Ctrl-Alt-Del; a plain message when the VM has no display.
import RFB from '@novnc/novnc';
import { vmRef } from '../../store/vm-ref';
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { isActive } from '../../../../shared/state';
import { getApi } from '../../api/current';
import { Icon } from '../../components/icons';
import { InlineError } from '../../components/inline-error';
import { toUiError } from '../../store/errors';
import { useStore, type UiError } from '../../store/store';

type Phase = 'idle' | 'connecting' | 'connected' | 'disconnected';

export function DisplayTab({ id }: { id: string }): ReactElement {
  const hasDisplay = useStore((s) => s.vms.byId[id]?.hasDisplay ?? false);
  const active = useStore((s) => (s.vms.byId[id] ? isActive(s.vms.byId[id]) : false));
  const name = useStore((s) => s.vms.byId[id]?.name ?? '');
  const screen = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | null>(null);
  const [scale, setScale] = useState(true);
  const [phase, setPhase] = useState<Phase>('idle');
  const [error, setError] = useState<UiError | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!hasDisplay || !active || !screen.current) return;
    const el = screen.current;
    let live = true;
    let rfb: RFB | null = null;
    setPhase('connecting');
    setError(null);
    getApi()
      .invoke('display.open', vmRef(id))
      .then(({ url }) => {
        if (!live) return;
        rfb = new RFB(el, url, { shared: true });
        rfb.scaleViewport = true;
        rfb.background = 'transparent';
        rfb.addEventListener('connect', () => live && setPhase('connected'));
        rfb.addEventListener('disconnect', () => live && setPhase('disconnected'));
        rfbRef.current = rfb;
      })
      .catch((err: unknown) => {
        if (!live) return;
        setError(toUiError(err, 'Open display'));
        setPhase('disconnected');
      });
    return () => {
      live = false;
      rfbRef.current = null;
      try {
        rfb?.disconnect();
      } catch {
        /* already closed */
      }
    };
  }, [id, hasDisplay, active, attempt]);

  useEffect(() => {
    if (rfbRef.current) rfbRef.current.scaleViewport = scale;
  }, [scale, phase]);

  if (!hasDisplay) {
    return (
      <div className="placeholder">
        <Icon name="monitor" size={32} />
        <h2>{name} has no display</h2>
        <p>This VM runs headless. Use the Console tab for its serial console, or turn on a graphical display in Settings while it is stopped.</p>
      </div>
    );
  }
  if (!active) {
    return (
      <div className="placeholder">
        <Icon name="monitor" size={32} />
        <h2>{name} is not running</h2>
        <p>Start the VM to see its screen.</p>
      </div>
    );
  }
  return (
    <div className="display-tab">
      <div className="pane-bar">
        <span className="muted" role="status">
          {phase === 'connected' ? 'Connected' : phase === 'connecting' ? 'Connecting…' : phase === 'disconnected' ? 'Disconnected' : ''}
        </span>
        <span className="spacer" />
        <label className="check">
          <input type="checkbox" checked={scale} onChange={(e) => setScale(e.target.checked)} />
          Scale to fit
        </label>
        <button type="button" className="btn btn-sm" disabled={phase !== 'connected'} onClick={() => rfbRef.current?.sendCtrlAltDel()}>
          Send Ctrl-Alt-Del
        </button>
        {phase === 'disconnected' && (
          <button type="button" className="btn btn-sm" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {error && <InlineError error={error} />}
      <div className={`display-screen${scale ? '' : ' unscaled'}`} ref={screen} role="region" aria-label={`Display of ${name}`} data-testid={`vm-${name}-display`} />
    </div>
  );
}
