// Settings → Shared folders: host directories the VM sees (virtio-fs), with a tag and
// read-only or read-write. Added and removed while the VM is stopped; the built-in Linux mounts
// each at /mnt/<tag>, other guests get the mount command to type. Hidden when the VM's host has
// no shares (caps.shares). On a libvirt host the folder is one of that host's: typed, not browsed
// (the folder browser shows this computer's).
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import type { ShareInfo } from '../../../../shared/contract';
import { LOCAL_HOST } from '../../../../shared/contract-names';
import { canEdit } from '../../../../shared/state';
import { CopyButton } from '../../components/copy-button';
import { Field } from '../../components/fields';
import { FilePicker } from '../../components/file-picker';
import { Icon } from '../../components/icons';
import { InlineError } from '../../components/inline-error';
import { engineFieldErrors } from '../../lib/engine-field-errors';
import { addShare, listShares, removeShare } from '../../store/lifecycle-actions';
import { useStore, type UiError } from '../../store/store';

const STATE_TEXT: Record<ShareInfo['state'], string> = { inactive: 'Shared when the VM runs', running: 'Serving', dead: 'Stopped working' };

export function SharesSection({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const remote = useStore((s) => (vm && vm.host !== LOCAL_HOST ? (s.vms.hosts.find((h) => h.id === vm.host)?.name ?? vm.host) : undefined));
  const stateKey = useStore((s) => s.vms.byId[id]?.state ?? 'stopped');
  const [list, setList] = useState<ShareInfo[] | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [seq, setSeq] = useState(0);
  const [path, setPath] = useState('');
  const [tag, setTag] = useState('');
  const [readOnly, setReadOnly] = useState(false);
  const [picking, setPicking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [formError, setFormError] = useState<UiError | null>(null);
  useEffect(() => {
    let live = true;
    void listShares(id).then((r) => {
      if (!live) return;
      setList(r.list);
      setError(r.error);
    });
    return () => {
      live = false;
    };
  }, [id, seq, stateKey]);
  if (!vm || !vm.caps.shares || vm.broken) return null;
  const why = canEdit(vm) ? null : `Stop ${vm.name} to add or remove shared folders`;
  const fields = formError ? engineFieldErrors(formError, { paths: { hostPath: path.trim() }, hostPorts: [] }) : {};
  const add = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    const err = await addShare(id, path.trim(), tag.trim(), readOnly);
    setBusy(false);
    setFormError(err);
    if (!err) {
      setPath('');
      setTag('');
      setReadOnly(false);
      setSeq((n) => n + 1);
    }
  };
  const remove = async (t: string): Promise<void> => {
    const err = await removeShare(id, t);
    setError(err);
    setSeq((n) => n + 1);
  };
  return (
    <section className="disk-section" aria-label="Shared folders">
      <div className="pane-bar">
        <h2 className="section-title">Shared folders</h2>
      </div>
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
      {list && list.length > 0 && (
        <table className="snap-table" aria-label={`Shared folders of ${vm.name}`}>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Host folder</th>
              <th scope="col">In the guest</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.tag} data-testid={`share-${s.tag}`}>
                <th scope="row" className="snap-name">
                  {s.tag}
                  <div>
                    <span className={`pill ${s.readOnly ? '' : 'pill-ram'}`}>{s.readOnly ? 'Read-only' : 'Read-write'}</span>
                  </div>
                </th>
                <td className="share-path" title={s.hostPath}>
                  {s.hostPath}
                </td>
                <td>
                  {s.guestPath ? (
                    <code>{s.guestPath}</code>
                  ) : (
                    <span className="share-cmd">
                      <code>{s.mountCommand}</code>
                      <CopyButton text={s.mountCommand} label={`Copy the mount command for ${s.tag}`} />
                    </span>
                  )}
                  <div className={`field-hint${s.state === 'dead' ? ' field-error' : ''}`}>{s.state === 'dead' && s.reason ? `${STATE_TEXT.dead}: ${s.reason}` : STATE_TEXT[s.state]}</div>
                </td>
                <td className="snap-actions">
                  <button type="button" className="icon-btn danger" disabled={why !== null} title={why ?? `Stop sharing ${s.tag}`} aria-label={`Stop sharing ${s.tag}`} onClick={() => void remove(s.tag)}>
                    <Icon name="trash" />
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list && list.length === 0 && (
        <p className="notice">
          No shared folders. Share a folder of {remote ? `host ${remote}` : 'this computer'} with {vm.name}; the built-in Linux mounts it at /mnt/TAG.
        </p>
      )}
      <form className="share-form" onSubmit={(e) => void add(e)} noValidate>
        <fieldset disabled={why !== null || busy} title={why ?? undefined}>
          <legend className="visually-hidden">Share a folder</legend>
          <div className="row">
            <Field label="Folder to share" error={fields['hostPath'] ?? fields['_']} className="grow" {...(remote ? { hint: `A folder on host ${remote}` } : {})}>
              {(p) => (
                <div className="path-row">
                  <input {...p} type="text" spellCheck={false} autoComplete="off" placeholder="/home/me/projects" value={path} onChange={(e) => (setPath(e.target.value), setFormError(null))} />
                  {!remote && (
                    <button type="button" className="btn" aria-label="Browse for a folder to share" onClick={() => setPicking(true)}>
                      <Icon name="folder" size={14} /> Browse…
                    </button>
                  )}
                </div>
              )}
            </Field>
            <Field label="Tag" error={fields['tag']} className="narrow" hint="Optional">
              {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" placeholder="projects" value={tag} onChange={(e) => (setTag(e.target.value), setFormError(null))} />}
            </Field>
          </div>
          {picking && <FilePicker title="Choose a folder to share" mode="folder" folderOnly value={path} onPick={(p) => setPath(p)} onClose={() => setPicking(false)} />}
          <div className="form-foot">
            <label className="check">
              <input type="checkbox" checked={readOnly} onChange={(e) => setReadOnly(e.target.checked)} /> Read-only
            </label>
            <span className="spacer" />
            <button type="submit" className="btn btn-sm" disabled={!path.trim().startsWith('/')}>
              <Icon name="plus" size={14} /> {busy ? 'Sharing…' : 'Share folder'}
            </button>
          </div>
        </fieldset>
      </form>
      {formError && !fields['hostPath'] && !fields['_'] && !fields['tag'] && <InlineError error={formError} onDismiss={() => setFormError(null)} />}
      {why && <p className="field-hint">{why}.</p>}
    </section>
  );
}
