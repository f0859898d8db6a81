// The browser's file picker (a browser cannot show the engine's files natively): one folder at
// a time from the engine's fs.list, folders first, dotfiles behind a checkbox. Names are React
// text, never markup. The app uses the native dialog instead (host.pickFile).
import { useCallback, useEffect, useState, type ReactElement, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import type { DirListing } from '../../../shared/contract';
import { getApi } from '../api/current';
import { formatBytes } from '../lib/format';
import { toUiError } from '../store/errors';
import type { UiError } from '../store/store';
import { Icon } from './icons';
import { InlineError } from './inline-error';
import { Modal } from './modal';

/** The folder to start in: the one holding the path typed so far, if any. */
export function startFolder(value: string): string | undefined {
  const v = value.trim();
  if (!v.startsWith('/')) return undefined;
  if (v.endsWith('/')) return v.length > 1 ? v.slice(0, -1) : '/';
  const cut = v.lastIndexOf('/');
  return cut <= 0 ? '/' : v.slice(0, cut);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

async function listFolder(path: string | undefined, showHidden: boolean, fallbackHome: boolean): Promise<DirListing> {
  try {
    return await getApi().invoke('fs.list', { ...(path ? { path } : {}), showHidden });
  } catch (err) {
    // a typed path whose folder is gone: start at home instead of showing nothing
    if (fallbackHome && path) return listFolder(undefined, showHidden, false);
    throw err;
  }
}

/**
 * `folder` mode (a destination, such as an export's): Choose takes the file clicked (to replace
 * it) or else the folder shown, and tells which it was.
 */
export function FilePicker({
  title,
  value,
  onPick,
  onClose,
  mode = 'file',
  folderOnly = false,
}: {
  title: string;
  value: string;
  onPick: (path: string, kind: 'file' | 'dir') => void;
  onClose: () => void;
  mode?: 'file' | 'folder';
  /** folder mode: only a folder can be chosen (a shared folder), files are shown but not taken */
  folderOnly?: boolean;
}): ReactElement {
  const [listing, setListing] = useState<DirListing | null>(null);
  const [hidden, setHidden] = useState(false);
  const [chosen, setChosen] = useState<string | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async (path: string | undefined, showHidden: boolean, fallbackHome: boolean): Promise<void> => {
    setBusy(true);
    try {
      setListing(await listFolder(path, showHidden, fallbackHome));
      setChosen(null);
      setError(null);
    } catch (err) {
      setError(toUiError(err, 'Open folder'));
    } finally {
      setBusy(false);
    }
  }, []);

  // the starting folder only: later folders come from the user's clicks
  const [first] = useState(() => startFolder(value));
  useEffect(() => {
    let live = true;
    listFolder(first, false, true).then(
      (l) => live && setListing(l),
      (err: unknown) => live && setError(toUiError(err, 'Open folder')),
    );
    return () => {
      live = false;
    };
  }, [first]);

  const pick = (path: string, kind: 'file' | 'dir' = 'file'): void => {
    onPick(path, kind);
    onClose();
  };

  return createPortal(
    <Modal title={title} onClose={onClose} wide>
      <div className="modal-body picker">
        <div className="picker-bar">
          <button type="button" className="btn btn-sm" disabled={!listing?.parent || busy} onClick={() => listing?.parent && void load(listing.parent, hidden, false)}>
            <Icon name="up" size={14} /> Up
          </button>
          <span className="picker-path" title={listing?.path}>
            {listing?.path ?? '…'}
          </span>
          <label className="check">
            <input
              type="checkbox"
              checked={hidden}
              onChange={(e) => {
                setHidden(e.target.checked);
                if (listing) void load(listing.path, e.target.checked, false);
              }}
            />
            Show hidden files
          </label>
        </div>
        {error && <InlineError error={error} onDismiss={() => setError(null)} />}
        {listing && (
          <ul className="picker-list" aria-label={`Contents of ${listing.path}`} aria-busy={busy}>
            {listing.entries.length === 0 && <li className="picker-empty">{listing.hidden ? `Only hidden files here (${listing.hidden}): Show hidden files lists them.` : 'This folder is empty.'}</li>}
            {listing.entries.map((e) => {
              const full = joinPath(listing.path, e.name);
              return (
                <li key={e.name}>
                  <button
                    type="button"
                    className={`picker-entry${chosen === full ? ' selected' : ''}`}
                    aria-pressed={e.kind === 'file' ? chosen === full : undefined}
                    disabled={e.kind === 'file' && folderOnly}
                    onClick={() => (e.kind === 'dir' ? void load(full, hidden, false) : setChosen(full))}
                    onDoubleClick={() => e.kind === 'file' && !folderOnly && pick(full)}
                  >
                    <Icon name={e.kind === 'dir' ? 'folder' : 'file'} size={14} />
                    <span className="picker-name">{e.name}</span>
                    {e.kind === 'file' && e.size !== null && <span className="picker-size">{formatBytes(e.size)}</span>}
                  </button>
                </li>
              );
            })}
          </ul>
        )}
        {listing?.truncated && <p className="field-hint">Only the first {listing.entries.length} entries are shown; type the path for others.</p>}
      </div>
      <PickerFoot chosenText={chosen ?? (mode === 'folder' ? `${folderOnly ? 'Share' : 'Save in'} ${listing?.path ?? '…'}` : 'No file chosen')} onClose={onClose} onChoose={mode === 'file' && chosen ? () => pick(chosen) : null}>
        {mode === 'folder' && (
          <button type="button" className="btn btn-primary" disabled={!chosen && !listing} onClick={() => (chosen ? pick(chosen) : listing && pick(listing.path, 'dir'))}>
            {chosen ? 'Replace this file' : folderOnly ? 'Choose this folder' : 'Save here'}
          </button>
        )}
      </PickerFoot>
    </Modal>,
    document.body,
  );
}

/** A picker's foot: what is chosen, Cancel, and Choose (or the action buttons given instead). */
export function PickerFoot({ chosenText, onClose, onChoose, children }: { chosenText: string; onClose: () => void; onChoose: (() => void) | null; children?: ReactNode }): ReactElement {
  return (
    <div className="modal-foot">
      <span className="picker-chosen">{chosenText}</span>
      <span className="spacer" />
      <button type="button" className="btn" onClick={onClose}>
        Cancel
      </button>
      {children || (
        <button type="button" className="btn btn-primary" disabled={!onChoose} onClick={() => onChoose?.()}>
          Choose
        </button>
      )}
    </div>
  );
}
