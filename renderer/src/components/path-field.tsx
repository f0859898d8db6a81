// A host path input with Browse…: the native picker in the app, the engine-served FilePicker in
// a browser. Everywhere the engine checks the path as you type (debounced) and says what it found.
import { useEffect, useState, type ReactElement } from 'react';
import type { PathInfo } from '../../../shared/contract';
import { getApi } from '../api/current';
import { formatBytes } from '../lib/format';
import { Field } from './fields';
import { FilePicker } from './file-picker';
import { Icon } from './icons';
import { VolumePicker } from './volume-picker';

type Kind = 'iso' | 'disk' | 'kernel' | 'initrd';

function describe(info: PathInfo): { ok: boolean; text: string } {
  if (!info.exists) return { ok: false, text: 'Not found on this computer' };
  if (!info.isFile) return { ok: false, text: 'Not a file' };
  if (!info.readable) return { ok: false, text: info.error ?? 'Not readable by Flotilla' };
  if (info.error) return { ok: false, text: info.error };
  const size = info.size === null ? '' : formatBytes(info.size);
  return { ok: true, text: [info.format ? info.format.toUpperCase() : 'File', size].filter(Boolean).join(' · ') };
}

/** A field's label inside a sentence: "Disk image" → "disk image", but "ISO image" keeps its acronym. */
export function inSentence(label: string): string {
  return /^[A-Z][a-z]/.test(label) ? label[0]!.toLowerCase() + label.slice(1) : label;
}

export function PathField({
  label,
  kind,
  value,
  onChange,
  error,
  optional,
  onHost,
  hostId,
}: {
  label: string;
  kind: Kind;
  value: string;
  onChange: (v: string) => void;
  error?: string | undefined;
  optional?: boolean;
  /** the name of another host the path is on: neither checked nor browsed from this computer */
  onHost?: string | undefined;
  /** that host's id: ISO and disk images can be chosen from its storage pools */
  hostId?: string | undefined;
}): ReactElement {
  const electron = getApi().nativePicker;
  const [check, setCheck] = useState<{ path: string; ok: boolean; text: string } | null>(null);
  const [picking, setPicking] = useState(false);
  const [pickingVolume, setPickingVolume] = useState(false);
  const poolKind = onHost && hostId && (kind === 'iso' || kind === 'disk') ? kind : null;
  const poolWhat = kind === 'iso' ? 'an ISO image' : 'a disk image';
  useEffect(() => {
    if (!value.startsWith('/') || onHost) return;
    let live = true;
    const t = setTimeout(() => {
      getApi()
        .invoke('path.inspect', { path: value, expect: kind })
        .then((info) => live && setCheck({ path: value, ...describe(info) }))
        .catch((err: unknown) => live && setCheck({ path: value, ok: false, text: err instanceof Error ? err.message : String(err) }));
    }, 350);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [value, kind, onHost]);
  const current = check && check.path === value && value.startsWith('/') && !onHost ? check : null;
  const shownError = error ?? (current && !current.ok ? current.text : undefined);
  const hint = current?.ok ? (
    <span className="ok">
      <Icon name="check" size={12} /> {current.text}
    </span>
  ) : onHost ? (
    `${optional ? 'Optional. ' : ''}An absolute path on ${onHost}, not on this computer`
  ) : optional ? (
    'Optional'
  ) : (
    'An absolute path on the computer running Flotilla'
  );
  const browse = async (): Promise<void> => {
    if (!electron) {
      setPicking(true);
      return;
    }
    try {
      const { path } = await getApi().invoke('host.pickFile', { title: `Choose ${inSentence(label)}`, kind });
      if (path) onChange(path);
    } catch {
      /* picker unavailable: the text field still works */
    }
  };
  return (
    <Field label={label} error={shownError} hint={hint}>
      {(p) => (
        <div className="path-row">
          <input {...p} type="text" spellCheck={false} autoComplete="off" placeholder={kind === 'iso' ? '/home/me/Downloads/debian.iso' : '/path/to/file'} value={value} onChange={(e) => onChange(e.target.value)} />
          {!onHost && (
            <button type="button" className="btn" aria-label={`Browse for ${inSentence(label)}`} onClick={() => void browse()}>
              <Icon name="folder" size={14} /> Browse…
            </button>
          )}
          {poolKind && (
            <button type="button" className="btn" aria-label={`Choose ${poolWhat} from ${onHost}'s storage`} onClick={() => setPickingVolume(true)}>
              <Icon name="server" size={14} /> From storage…
            </button>
          )}
          {pickingVolume && poolKind && hostId && onHost && <VolumePicker hostId={hostId} hostName={onHost} kind={poolKind} title={`Choose ${poolWhat} on ${onHost}`} onPick={onChange} onClose={() => setPickingVolume(false)} />}
          {picking && <FilePicker title={`Choose ${inSentence(label)}`} value={value} onPick={onChange} onClose={() => setPicking(false)} />}
        </div>
      )}
    </Field>
  );
}
