// The VM's screen through noVNC, over a one-time loopback WebSocket URL from `display.open`.
// Scaling toggle, Ctrl-Alt-Del, full screen, a PNG screenshot, and clipboard text both ways
// (QEMU's vdagent relays it to a guest running spice-vdagent); a plain message when the VM has
// no display.
import RFB from '@novnc/novnc';
import { vmRef } from '../../store/vm-ref';
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { isActive } from '../../../../shared/state';
import { getApi } from '../../api/current';
import { Icon } from '../../components/icons';
import { InlineError } from '../../components/inline-error';
import { screenshotName } from '../../lib/format';
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
  const tabRef = useRef<HTMLDivElement>(null);
  const [fullscreen, setFullscreen] = useState(false);
  const [clipOpen, setClipOpen] = useState(false);
  const [clipText, setClipText] = useState('');
  const [clipNote, setClipNote] = useState('');

  useEffect(() => {
    const onChange = (): void => setFullscreen(document.fullscreenElement !== null && document.fullscreenElement === tabRef.current);
    document.addEventListener('fullscreenchange', onChange);
    return () => document.removeEventListener('fullscreenchange', onChange);
  }, []);

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
        rfb.addEventListener('clipboard', (e: Event) => {
          if (!live) return;
          setClipText((e as CustomEvent<{ text: string }>).detail.text);
          setClipNote('The guest copied this text.');
        });
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

  const toggleFullscreen = (): void => {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
    else void tabRef.current?.requestFullscreen().catch((err: unknown) => setError(toUiError(err, 'Full screen')));
  };
  const screenshot = (): void => {
    rfbRef.current?.toBlob((blob) => {
      if (!blob) return;
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = screenshotName(name, new Date());
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }, 'image/png');
  };
  const sendClipboard = (): void => {
    rfbRef.current?.clipboardPasteFrom(clipText);
    setClipNote('Sent: the guest can paste it now.');
  };
  const copyToHost = (): void => {
    navigator.clipboard?.writeText(clipText).then(
      () => setClipNote('Copied to this computer’s clipboard.'),
      () => setClipNote('This browser did not allow copying; select the text and copy it.'),
    );
  };

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
    <div className={`display-tab${fullscreen ? ' is-fullscreen' : ''}`} ref={tabRef}>
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
        <button type="button" className="btn btn-sm" disabled={phase !== 'connected'} onClick={screenshot}>
          <Icon name="camera" size={14} /> Screenshot
        </button>
        <button type="button" className="btn btn-sm" aria-pressed={clipOpen} onClick={() => setClipOpen((o) => !o)}>
          <Icon name="clipboard" size={14} /> Clipboard
        </button>
        <button type="button" className="btn btn-sm" aria-pressed={fullscreen} onClick={toggleFullscreen}>
          <Icon name="expand" size={14} /> {fullscreen ? 'Exit full screen' : 'Full screen'}
        </button>
        {phase === 'disconnected' && (
          <button type="button" className="btn btn-sm" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {error && <InlineError error={error} />}
      {clipOpen && (
        <div className="clipboard-panel">
          <label htmlFor={`clip-${id}`}>Clipboard text</label>
          <textarea id={`clip-${id}`} rows={3} value={clipText} onChange={(e) => setClipText(e.target.value)} aria-describedby={`clip-${id}-hint`} />
          <div className="clipboard-actions">
            <button type="button" className="btn btn-sm" disabled={phase !== 'connected' || clipText === ''} onClick={sendClipboard}>
              Send to guest
            </button>
            <button type="button" className="btn btn-sm" disabled={clipText === ''} onClick={copyToHost}>
              Copy here
            </button>
            <span className="field-hint" id={`clip-${id}-hint`} role="status">
              {clipNote || 'Text the guest copies shows up here. Both ways need spice-vdagent running in the guest.'}
            </span>
          </div>
        </div>
      )}
      <div className={`display-screen${scale ? '' : ' unscaled'}`} ref={screen} role="region" aria-label={`Display of ${name}`} data-testid={`vm-${name}-display`} />
    </div>
  );
}
