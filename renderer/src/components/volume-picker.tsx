// A libvirt host's ISO or disk images, from its storage pools (host.volumes), as virt-manager's
// volume browser offers them: the path picked is on that host. Names and paths are the host's
// text, shown as React text, never markup.
import { useEffect, useState, type ReactElement } from 'react';
import { createPortal } from 'react-dom';
import type { HostVolume } from '../../../shared/contract';
import { getApi } from '../api/current';
import { formatBytes } from '../lib/format';
import { toUiError } from '../store/errors';
import type { UiError } from '../store/store';
import { Icon } from './icons';
import { PickerFoot } from './file-picker';
import { InlineError } from './inline-error';
import { Modal } from './modal';

export function VolumePicker({ hostId, hostName, kind, title, onPick, onClose }: { hostId: string; hostName: string; kind: 'iso' | 'disk'; title: string; onPick: (path: string) => void; onClose: () => void }): ReactElement {
  const [volumes, setVolumes] = useState<HostVolume[] | null>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  useEffect(() => {
    let live = true;
    getApi()
      .invoke('host.volumes', { host: hostId, kind })
      .then(
        (r) => live && setVolumes(r.volumes),
        (err: unknown) => live && setError(toUiError(err, 'List storage')),
      );
    return () => {
      live = false;
    };
  }, [hostId, kind]);
  const pick = (path: string): void => {
    onPick(path);
    onClose();
  };
  const what = kind === 'iso' ? 'ISO images' : 'disk images';
  return createPortal(
    <Modal title={title} onClose={onClose} wide>
      <div className="modal-body picker">
        <p className="field-hint">
          {what} in the storage pools of {hostName}. Another file there can be typed as its path.
        </p>
        {error && <InlineError error={error} onDismiss={() => setError(null)} />}
        {!volumes && !error && <p className="picker-empty">Reading {hostName}’s storage pools…</p>}
        {volumes && (
          <ul className="picker-list" aria-label={`${what} on ${hostName}`}>
            {volumes.length === 0 && <li className="picker-empty">No {what} in {hostName}’s active storage pools.</li>}
            {volumes.map((v) => (
              <li key={v.path}>
                <button type="button" className={`picker-entry${chosen === v.path ? ' selected' : ''}`} aria-pressed={chosen === v.path} title={v.path} onClick={() => setChosen(v.path)} onDoubleClick={() => pick(v.path)}>
                  <Icon name="file" size={14} />
                  <span className="picker-name">{v.name}</span>
                  <span className="picker-pool">{v.pool}</span>
                  {v.bytes !== null && <span className="picker-size">{formatBytes(v.bytes)}</span>}
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
      <PickerFoot chosenText={chosen ?? 'No image chosen'} onClose={onClose} onChoose={chosen ? () => pick(chosen) : null} />
    </Modal>,
    document.body,
  );
}
