// Files in and out of a running VM through its guest agent: drop files (or choose them) to send
// them into a folder of the guest, any size, with progress and Cancel; name a guest file to get it
// as a download, any size too. Like GNOME Boxes' drag-and-drop, without a display or SPICE.
import { useRef, useState, type DragEvent, type FormEvent, type ReactElement } from 'react';
import { isActive } from '../../../../shared/state';
import { Field } from '../../components/fields';
import { Icon } from '../../components/icons';
import { InlineError } from '../../components/inline-error';
import { Meter } from '../../components/progress-bar';
import { formatBytes } from '../../lib/format';
import { cancelTransfer, clearFinishedTransfers, fetchFileFromVm, sendFilesToVm } from '../../store/file-actions';
import { useStore, type FileTransfer } from '../../store/store';

const NO_TRANSFERS: FileTransfer[] = [];

function TransferRow({ t }: { t: FileTransfer }): ReactElement {
  const verb = t.direction === 'send' ? 'Send' : 'Get';
  const where = t.direction === 'send' ? `to ${t.guestPath}` : `from ${t.guestPath}`;
  const pct = t.size ? (100 * t.done) / t.size : t.state === 'done' ? 100 : null;
  return (
    <li className={`transfer transfer-${t.state}`} aria-label={`${verb} ${t.name}`}>
      <div className="transfer-head">
        <Icon name={t.direction === 'send' ? 'up' : 'file'} size={14} />
        <span className="transfer-name">{t.name}</span>
        <span className="transfer-where">{where}</span>
        <span className="spacer" />
        {t.state === 'active' && (
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => cancelTransfer(t.n)}>
            Cancel
          </button>
        )}
        {t.state === 'done' && (
          <span className="transfer-status exit-ok" data-testid="transfer-done">
            <Icon name="check" size={14} /> {t.size !== null ? formatBytes(t.size) : ''} {t.direction === 'send' ? 'sent' : 'saved'}
            {t.resumedAt !== null && `, ${formatBytes(t.resumedAt)} of it resumed from an earlier try`}
          </span>
        )}
        {t.state === 'cancelled' && <span className="transfer-status">Cancelled</span>}
      </div>
      {t.state === 'active' && (
        <Meter label={`${formatBytes(t.done)} of ${t.size !== null ? formatBytes(t.size) : '…'}${t.waiting ? ' · connection to the engine lost, waiting for it to carry on' : ''}`} percent={pct} />
      )}
      {t.error && <InlineError error={t.error} />}
    </li>
  );
}

export function FilesTab({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const transfers = useStore((s) => s.consoles.files[id] ?? NO_TRANSFERS);
  const typed = useStore((s) => s.consoles.fileFolders[id]);
  const folder = typed ?? (vm?.spec.source.kind === 'default' ? '/root' : '/tmp');
  const setFolder = (f: string): void => useStore.setState((s) => ({ consoles: { ...s.consoles, fileFolders: { ...s.consoles.fileFolders, [id]: f } } }));
  const [fetchPath, setFetchPath] = useState('');
  const [dragging, setDragging] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  if (!vm) return null;
  const ready = isActive(vm) && vm.agent === 'ready';
  const folderError = folder.trim().startsWith('/') ? undefined : 'An absolute path in the VM, such as /root';
  const canSend = ready && !folderError;
  const send = (files: FileList | null): void => {
    if (!files || files.length === 0 || !canSend) return;
    void sendFilesToVm(id, folder, [...files]);
  };
  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setDragging(false);
    send(e.dataTransfer.files);
  };
  const onFetch = (e: FormEvent): void => {
    e.preventDefault();
    if (!ready || !fetchPath.trim().startsWith('/')) return;
    void fetchFileFromVm(id, fetchPath);
  };
  const finished = transfers.some((t) => t.state !== 'active');
  return (
    <div className="files-tab">
      {!ready && (
        <p className="hint" role="status">
          {isActive(vm)
            ? `Files go through ${vm.name}'s guest agent, which is ${vm.agent === 'unknown' ? 'not answering yet' : vm.agent}.`
            : `Start ${vm.name} to send files to it or get files from it.`}
        </p>
      )}
      <section className="files-section" aria-labelledby="files-send-title">
        <h2 className="section-title" id="files-send-title">
          Send files to {vm.name}
        </h2>
        <Field label="Folder in the VM" error={folderError}>
          {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={folder} onChange={(e) => setFolder(e.target.value)} />}
        </Field>
        <div
          className={`drop-zone${dragging ? ' dragging' : ''}${canSend ? '' : ' disabled'}`}
          onDragOver={(e) => {
            e.preventDefault();
            e.dataTransfer.dropEffect = canSend ? 'copy' : 'none';
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <Icon name="up" size={20} />
          <p>Drop files here to send them to {folder.trim() || 'the folder'}</p>
          <button type="button" className="btn btn-sm" disabled={!canSend} onClick={() => picker.current?.click()}>
            Choose files…
          </button>
          <input
            ref={picker}
            type="file"
            multiple
            hidden
            aria-label="Files to send"
            onChange={(e) => {
              send(e.target.files);
              e.target.value = '';
            }}
          />
        </div>
        <p className="hint">Any size; a file arrives under its name only once all of it is there.</p>
      </section>
      <section className="files-section" aria-labelledby="files-get-title">
        <h2 className="section-title" id="files-get-title">
          Get a file from {vm.name}
        </h2>
        <form className="exec-form" onSubmit={onFetch}>
          <label htmlFor="files-fetch" className="visually-hidden">
            Path of a file in the VM
          </label>
          <input id="files-fetch" type="text" spellCheck={false} autoComplete="off" placeholder="/var/log/messages" value={fetchPath} onChange={(e) => setFetchPath(e.target.value)} />
          <button type="submit" className="btn btn-primary btn-sm" disabled={!ready || !fetchPath.trim().startsWith('/')}>
            Download
          </button>
        </form>
        <p className="hint">Through the guest agent, a few MB/s without KVM: for a lot of data, share a folder (Settings).</p>
      </section>
      {transfers.length > 0 && (
        <section className="files-section" aria-labelledby="files-transfers-title">
          <div className="files-transfers-head">
            <h2 className="section-title" id="files-transfers-title">
              Transfers
            </h2>
            {finished && (
              <button type="button" className="btn btn-ghost btn-sm" onClick={() => clearFinishedTransfers(id)}>
                Clear finished
              </button>
            )}
          </div>
          <ol className="transfers" aria-label="Transfers">
            {[...transfers].reverse().map((t) => (
              <TransferRow key={t.n} t={t} />
            ))}
          </ol>
        </section>
      )}
    </div>
  );
}
