// The dialogs of the VM's menu (Clone, Export, Add disk), the VM view's Insert CD and the
// toolbar's Import. Each shows the engine's error inline, on the field it is about when the
// error's details name one, and stays open so the user can fix it.
import { useEffect, useState, type FormEvent, type ReactElement, type ReactNode } from 'react';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { HostField, useHostChoice } from './host-field';
import { getApi } from '../api/current';
import { engineFieldErrors } from '../lib/engine-field-errors';
import { closeDialog, nextDefaultName } from '../store/actions';
import { addDisk, cloneVm, exportVm, importArchive, insertCd, parseGiB } from '../store/lifecycle-actions';
import { useStore, type UiError } from '../store/store';
import { Field } from './fields';
import { FilePicker, joinPath } from './file-picker';
import { Icon } from './icons';
import { InlineError } from './inline-error';
import { Modal, ModalFoot } from './modal';
import { PathField } from './path-field';

function fieldsOf(err: UiError | null, paths: Record<string, string> = {}): Record<string, string> {
  return err ? engineFieldErrors(err, { paths, hostPorts: [] }) : {};
}

/** The engine error not shown on a field: shown above the buttons. */
function FormError({ error, fields, onDismiss }: { error: UiError | null; fields: Record<string, string>; onDismiss: () => void }): ReactElement | null {
  if (!error || Object.keys(fields).some((k) => k !== '_')) return null;
  return <InlineError error={error} onDismiss={onDismiss} />;
}

function Foot(p: { busy: boolean; label: string; busyLabel: string; disabled?: boolean }): ReactElement {
  return <ModalFoot {...p} onCancel={closeDialog} />;
}

function Form({ onSubmit, children }: { onSubmit: () => Promise<void>; children: ReactNode }): ReactElement {
  return (
    <form
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void onSubmit();
      }}
    >
      {children}
    </form>
  );
}

// ---------------------------------------------------------------------- clone

export function CloneDialog({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [name, setName] = useState(() => {
    const taken = Object.values(useStore.getState().vms.byId).map((v) => v.name);
    const base = `${vm?.name ?? 'vm'}-clone`;
    return taken.includes(base) ? nextDefaultName(taken, base) : base;
  });
  const [linked, setLinked] = useState(false);
  const [start, setStart] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  if (!vm) return null;
  const fields = fieldsOf(error);
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setError(await cloneVm(id, name.trim(), { linked, start }));
    setBusy(false);
  };
  return (
    <Modal title={`Clone ${vm.name}`} onClose={closeDialog}>
      <Form onSubmit={submit}>
        <div className="modal-body">
          <Field label="Name of the copy" error={fields['name']}>
            {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={name} data-autofocus onChange={(e) => (setName(e.target.value), setError(null))} />}
          </Field>
          {vm.host === LOCAL_HOST ? (
            <div className="check-block">
              <label className="check">
                <input type="checkbox" checked={linked} onChange={(e) => setLinked(e.target.checked)} aria-describedby="clone-linked-help" /> Linked clone
              </label>
              <p className="field-hint" id="clone-linked-help">
                {linked
                  ? `Made at once and small: the copy reads ${vm.name}'s disk and keeps only its own changes. ${vm.name} cannot be deleted while linked clones exist.`
                  : `A full, independent copy of ${vm.name}'s disks; it takes a while for big disks. Snapshots are not copied.`}
              </p>
            </div>
          ) : (
            <p className="field-hint">
              A full copy on {vm.host}: libvirt copies each disk volume in its pool; the CD and shared disks are shared, not copied. Snapshots are not copied.
            </p>
          )}
          <label className="check">
            <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> Start the copy when it is made
          </label>
          <p className="hint">The copy gets its own network address (MAC) and identity (UUID).</p>
          <FormError error={error} fields={fields} onDismiss={() => setError(null)} />
        </div>
        <Foot busy={busy} label="Clone" busyLabel="Cloning…" disabled={!name.trim()} />
      </Form>
    </Modal>
  );
}

// ---------------------------------------------------------------------- export

export function ExportDialog({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [path, setPath] = useState('');
  const [picking, setPicking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  /** the destination exists and is a file: ask before replacing it */
  const [replace, setReplace] = useState<string | null>(null);
  const vmName = vm?.name ?? 'vm';
  // start in the user's home (the engine's fs.list knows it), as file managers' Save dialogs do
  useEffect(() => {
    let live = true;
    getApi()
      .invoke('fs.list', {})
      .then((l) => live && setPath((p) => p || joinPath(l.path, `${vmName}.flotilla`)))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [vmName]);
  if (!vm) return null;
  const run = async (force: boolean): Promise<void> => {
    setBusy(true);
    setError(null);
    setReplace(null);
    const err = await exportVm(id, path.trim(), force);
    if (err?.code === 'FILE_EXISTS') {
      const p = (err.details as { path?: string } | undefined)?.path ?? path.trim();
      const info = await getApi()
        .invoke('path.inspect', { path: p })
        .catch(() => null);
      if (info?.isFile) setReplace(p);
      else setError(err);
    } else setError(err);
    setBusy(false);
  };
  const fields = fieldsOf(error, { path: path.trim() });
  return (
    <Modal title={`Export ${vm.name}`} onClose={closeDialog}>
      <Form onSubmit={() => run(false)}>
        <div className="modal-body">
          <p>One file with {vm.name}&apos;s settings and disks, each with a checksum. Import it on any host, or on another computer running Flotilla, to move the VM there.</p>
          <Field label="Save as" error={fields['path']} hint={`An absolute path on the computer running Flotilla${vm.host !== LOCAL_HOST ? ` (the disks are downloaded from ${vm.host})` : ''}`}>
            {(p) => (
              <div className="path-row">
                <input
                  {...p}
                  type="text"
                  spellCheck={false}
                  autoComplete="off"
                  data-autofocus
                  value={path}
                  placeholder={`/home/me/${vm.name}.flotilla`}
                  onChange={(e) => (setPath(e.target.value), setError(null), setReplace(null))}
                />
                <button type="button" className="btn" aria-label="Browse for a folder to save in" onClick={() => setPicking(true)}>
                  <Icon name="folder" size={14} /> Browse…
                </button>
              </div>
            )}
          </Field>
          {picking && (
            <FilePicker
              title="Save the export in"
              mode="folder"
              value={path}
              onPick={(p, kind) => (setPath(kind === 'dir' ? joinPath(p, `${vm.name}.flotilla`) : p), setReplace(null), setError(null))}
              onClose={() => setPicking(false)}
            />
          )}
          {replace && (
            <div className="confirm-inline" role="alert">
              <p>
                <strong>{replace}</strong> already exists. Replace it?
              </p>
              <button type="button" className="btn btn-danger btn-sm" onClick={() => void run(true)}>
                Replace
              </button>
            </div>
          )}
          <FormError error={error} fields={fields} onDismiss={() => setError(null)} />
        </div>
        <Foot busy={busy} label="Export" busyLabel="Exporting…" disabled={!path.trim().startsWith('/')} />
      </Form>
    </Modal>
  );
}

// ---------------------------------------------------------------------- add disk / CD

export function AddDiskDialog({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [size, setSize] = useState('8');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  if (!vm) return null;
  const gib = parseGiB(size);
  const fields = { ...fieldsOf(error), ...(gib === null ? { sizeGiB: 'A whole number of GiB, from 1 to 4096' } : {}) };
  const submit = async (): Promise<void> => {
    if (gib === null) return;
    setBusy(true);
    setError(await addDisk(id, gib));
    setBusy(false);
  };
  return (
    <Modal title={`Add a disk to ${vm.name}`} onClose={closeDialog}>
      <Form onSubmit={submit}>
        <div className="modal-body">
          <Field
            label="Size (GiB)"
            error={fields['sizeGiB']}
            hint={`A blank disk; it takes space only as the guest writes to it.${vm.spec.source.kind === 'default' ? ' The built-in Linux formats it (ext4) when it next starts and mounts it at /mnt/extra-<n>.' : ''}`}
          >
            {(p) => <input {...p} type="number" min={1} max={4096} value={size} data-autofocus onChange={(e) => (setSize(e.target.value), setError(null))} />}
          </Field>
          <FormError error={error} fields={fieldsOf(error)} onDismiss={() => setError(null)} />
        </div>
        <Foot busy={busy} label="Add disk" busyLabel="Adding…" disabled={gib === null} />
      </Form>
    </Modal>
  );
}

export function InsertCdDialog({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const remote = useStore((s) => (vm && vm.host !== LOCAL_HOST ? (s.vms.hosts.find((h) => h.id === vm.host)?.name ?? vm.host) : undefined));
  if (!vm) return null;
  const fields = fieldsOf(error, { path: path.trim() });
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(await insertCd(id, path.trim()));
    setBusy(false);
  };
  return (
    <Modal title={`Insert a CD into ${vm.name}`} onClose={closeDialog} wide>
      <Form onSubmit={submit}>
        <div className="modal-body">
          <PathField onHost={remote} hostId={vm.host} label="ISO image" kind="iso" value={path} onChange={(v) => (setPath(v), setError(null))} error={fields['path']} />
          <p className="hint">{vm.state === 'running' ? 'The guest sees the new disc at once.' : 'The disc stays in the drive when the VM starts.'}</p>
          <FormError error={error} fields={fields} onDismiss={() => setError(null)} />
        </div>
        <Foot busy={busy} label="Insert" busyLabel="Inserting…" disabled={!path.trim().startsWith('/')} />
      </Form>
    </Modal>
  );
}

// ---------------------------------------------------------------------- import

export function ImportDialog(): ReactElement {
  const { hostId, setHostId, hosts, host } = useHostChoice();
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [start, setStart] = useState(false);
  const [picking, setPicking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const fields = fieldsOf(error, { path: path.trim() });
  // an archive whose VM name is taken: the name field is where to fix it
  if (error?.code === 'NAME_TAKEN') fields['name'] ??= `${error.message}; give the imported VM another name`;
  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    let underway = false;
    const { error: err } = await importArchive(path.trim(), name.trim(), start, hostId, () => {
      underway = true;
      closeDialog();
    });
    if (!underway) {
      setBusy(false);
      if (err) setError(err);
      else closeDialog();
    }
  };
  return (
    <Modal title="Import a VM" onClose={closeDialog} wide>
      <Form onSubmit={submit}>
        <div className="modal-body">
          <p>A file written by Export (or <code>flotilla export</code>). It is checked completely before the VM appears; nothing is created from a damaged file.</p>
          <Field label="Archive" error={fields['path'] ?? fields['_']} hint="An absolute path on the computer running Flotilla">
            {(p) => (
              <div className="path-row">
                <input {...p} type="text" spellCheck={false} autoComplete="off" data-autofocus value={path} placeholder="/home/me/web.flotilla" onChange={(e) => (setPath(e.target.value), setError(null))} />
                <button type="button" className="btn" aria-label="Browse for the archive" onClick={() => setPicking(true)}>
                  <Icon name="folder" size={14} /> Browse…
                </button>
              </div>
            )}
          </Field>
          {picking && <FilePicker title="Choose the archive" value={path} onPick={(p) => (setPath(p), setError(null))} onClose={() => setPicking(false)} />}
          <HostField
            hosts={hosts}
            value={hostId}
            onChange={(id) => (setHostId(id), setError(null))}
            {...(hostId !== LOCAL_HOST ? { hint: `The VM goes to ${host?.name ?? hostId}: its disks are uploaded into that host’s flotilla pool` } : {})}
          />
          <Field label="Name" error={fields['name']} hint="Optional: the name it was exported with, unless you give another">
            {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={name} onChange={(e) => (setName(e.target.value), setError(null))} />}
          </Field>
          <label className="check">
            <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} /> Start it once imported
          </label>
          {error && !fields['path'] && !fields['_'] && !fields['name'] && <InlineError error={error} onDismiss={() => setError(null)} />}
        </div>
        <Foot busy={busy} label="Import" busyLabel="Checking…" disabled={!path.trim().startsWith('/')} />
      </Form>
    </Modal>
  );
}
