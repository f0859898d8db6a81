// First run: no VMs yet. One click makes and starts a small Linux VM from the built-in guest.
import { useState, type ReactElement } from 'react';
import { buildDefaultImage, openDialog, quickStartLinux } from '../store/actions';
import type { UiError } from '../store/store';
import { useStore } from '../store/store';
import { Icon } from './icons';
import { InlineError } from './inline-error';

export function EmptyState(): ReactElement {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const imageReady = useStore((s) => s.ui.engine?.defaultImage.ready ?? true);
  const start = async (): Promise<void> => {
    setBusy('Creating…');
    setError(null);
    setError(await quickStartLinux());
    setBusy(null);
  };
  const build = async (): Promise<void> => {
    setBusy('Building the default image…');
    setError(null);
    setError(await buildDefaultImage());
    setBusy(null);
  };
  return (
    <section className="empty" aria-labelledby="empty-title">
      <div className="empty-art" aria-hidden="true">
        <Icon name="terminal" size={40} />
      </div>
      <h2 id="empty-title">Run your first virtual machine</h2>
      <p className="empty-lead">
        Flotilla runs many small VMs side by side. Start with a minimal Linux guest — it boots in seconds and comes with a console, a guest agent and
        SSH forwarded to your machine.
      </p>
      <div className="empty-actions">
        {imageReady ? (
          <button type="button" className="btn btn-primary btn-lg" disabled={busy !== null} onClick={() => void start()}>
            {busy ? <span className="spinner" aria-hidden="true" /> : <Icon name="play" />}
            {busy ?? 'Start a Linux VM'}
          </button>
        ) : (
          <button type="button" className="btn btn-primary btn-lg" disabled={busy !== null} onClick={() => void build()}>
            {busy ? <span className="spinner" aria-hidden="true" /> : <Icon name="play" />}
            {busy ?? 'Prepare the Linux image'}
          </button>
        )}
        <button type="button" className="btn btn-lg" onClick={() => openDialog({ kind: 'create' })}>
          <Icon name="plus" /> Custom VM…
        </button>
      </div>
      {!imageReady && <p className="hint">The built-in Linux guest is not on this machine yet. Preparing it takes about a minute.</p>}
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
    </section>
  );
}
