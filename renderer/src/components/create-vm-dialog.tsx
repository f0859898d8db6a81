// Create a VM: pick a host (when libvirt hosts were added), a source, name it, size it, forward
// ports. The form checks itself with the shared zod schema first, then shows the engine's own
// verdict on the field it concerns. On a libvirt host paths are that host's (not browsed or
// checked here), and what it cannot do (port forwards; UEFI for the built-in Linux) is not offered.
import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { DEFAULT_ROOT_DISK_GIB, issuesToFieldErrors, vmConfigSchema, type VmConfigInput, type VmSourceKind } from '../../../shared/spec';
import { engineFieldErrors } from '../lib/engine-field-errors';
import { formatMiB } from '../lib/format';
import { buildDefaultImage, closeDialog, createVm, nextDefaultName } from '../store/actions';
import { useStore, type UiError } from '../store/store';
import { Field } from './fields';
import { ForwardsEditor, forwardsFromDraft, type ForwardDraft } from './forwards-editor';
import { HostField, useHostChoice } from './host-field';
import { InlineError } from './inline-error';
import { Modal } from './modal';
import { PathField } from './path-field';

const SOURCES: { kind: VmSourceKind; title: string; text: string }[] = [
  { kind: 'default', title: 'Built-in Linux', text: 'Minimal guest with agent. Boots in seconds.' },
  { kind: 'iso', title: 'Install from ISO', text: 'Boot an installer onto a new disk.' },
  { kind: 'disk', title: 'Disk image', text: 'Run an existing qcow2 or raw image.' },
  { kind: 'kernel', title: 'Kernel + initrd', text: 'Direct kernel boot with a command line.' },
];

/** Suggestions only: the field takes any size the schema allows. */
const MEMORY_SUGGESTIONS = [256, 512, 1024, 2048, 4096, 8192, 16384];

export function CreateVmDialog(): ReactElement {
  const names = useStore((s) => s.vms.byId);
  const { hostId, setHostId, hosts, host } = useHostChoice();
  const remote = hostId !== LOCAL_HOST ? (host?.name ?? hostId) : undefined;
  const [kind, setKind] = useState<VmSourceKind>('default');
  // libvirt hosts boot the built-in Linux through qboot only (create-domain.ts)
  const uefiOff = remote !== undefined && kind === 'default';
  const [name, setName] = useState(() => nextDefaultName(Object.values(names).map((v) => v.name)));
  const [nameTouched, setNameTouched] = useState(false);
  const [cpus, setCpus] = useState('1');
  const [memory, setMemory] = useState('256');
  const [firmware, setFirmware] = useState<'bios' | 'uefi'>('bios');
  const [display, setDisplay] = useState<'none' | 'vnc'>('none');
  const [isoPath, setIsoPath] = useState('');
  const [diskSize, setDiskSize] = useState('16');
  const [rootDiskSize, setRootDiskSize] = useState(String(DEFAULT_ROOT_DISK_GIB));
  const [diskPath, setDiskPath] = useState('');
  const [diskMode, setDiskMode] = useState<'copy' | 'reference'>('copy');
  const [kernel, setKernel] = useState('');
  const [initrd, setInitrd] = useState('');
  const [append, setAppend] = useState('console=ttyS0');
  const [kernelDisk, setKernelDisk] = useState('');
  const [forwards, setForwards] = useState<ForwardDraft[]>([{ proto: 'tcp', guestPort: '22', hostPort: '' }]);
  const [start, setStart] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  const waitingFor = useRef<{ name: string } | null>(null);

  // A suggested name follows the source until the user types their own.
  const chooseKind = (k: VmSourceKind): void => {
    setKind(k);
    if (k === 'iso' || k === 'disk') setDisplay('vnc');
    else setDisplay('none');
    if (!nameTouched) setName(nextDefaultName(Object.values(names).map((v) => v.name), k === 'default' || k === 'kernel' ? 'linux' : 'vm'));
  };

  // The new VM shows up as a tile (with its progress bar) as soon as the engine accepted it
  // and started on the disk; the dialog steps aside then instead of blocking a long import.
  const started = useStore((s) => Object.values(s.vms.creating).some((c) => c.vmId !== null && c.name === waitingFor.current?.name));
  useEffect(() => {
    if (started) closeDialog();
  }, [started]);

  const buildConfig = (): VmConfigInput => {
    const source: VmConfigInput['source'] =
      kind === 'default'
        ? { kind, diskSizeGiB: Number(rootDiskSize) }
        : kind === 'iso'
          ? { kind, path: isoPath.trim(), diskSizeGiB: Number(diskSize) }
          : kind === 'disk'
            ? { kind, path: diskPath.trim(), mode: diskMode }
            : {
                kind,
                kernel: kernel.trim(),
                ...(initrd.trim() ? { initrd: initrd.trim() } : {}),
                ...(append.trim() ? { append: append.trim() } : {}),
                ...(kernelDisk.trim() ? { disk: kernelDisk.trim() } : {}),
              };
    return {
      name: name.trim(),
      source,
      cpus: Number(cpus),
      memoryMiB: Number(memory),
      firmware: uefiOff ? 'bios' : firmware,
      display,
      forwards: remote ? [] : forwardsFromDraft(forwards),
    };
  };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setFormError(null);
    const config = buildConfig();
    const parsed = vmConfigSchema.safeParse(config);
    if (!parsed.success) {
      setErrors(issuesToFieldErrors(parsed.error.issues));
      return;
    }
    setErrors({});
    setBusy(true);
    waitingFor.current = { name: config.name };
    const { vm, error } = await createVm(config, start, hostId);
    waitingFor.current = null;
    if (useStore.getState().ui.dialog?.kind !== 'create') return; // closed meanwhile; the tile has it
    setBusy(false);
    if (vm) {
      closeDialog();
      return;
    }
    if (error) {
      const fe = engineFieldErrors(error, {
        paths: { 'source.path': kind === 'iso' ? isoPath.trim() : kind === 'disk' ? diskPath.trim() : '', 'source.kernel': kernel.trim(), 'source.initrd': initrd.trim(), 'source.disk': kernelDisk.trim() },
        hostPorts: forwardsFromDraft(forwards).map((f) => f.hostPort),
      });
      setErrors(fe);
      if (Object.keys(fe).length === 0 || fe['_']) setFormError(error);
    }
  };

  return (
    <Modal title="New virtual machine" onClose={closeDialog} wide>
      <form className="create-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="modal-body">
          <HostField hosts={hosts} value={hostId} onChange={setHostId} />
          <fieldset className="sources">
            <legend>Source</legend>
            <div className="source-grid" role="radiogroup" aria-label="Source">
              {SOURCES.map((s) => (
                <label key={s.kind} className={`source-card${kind === s.kind ? ' selected' : ''}`}>
                  <input type="radio" name="source" value={s.kind} checked={kind === s.kind} onChange={() => chooseKind(s.kind)} />
                  <span className="source-title">{s.title}</span>
                  <span className="source-text">{s.text}</span>
                </label>
              ))}
            </div>
          </fieldset>

          {kind === 'default' && <StaleImageNotice />}
          {kind === 'iso' && (
            <div className="row">
              <div className="grow">
                <PathField onHost={remote} hostId={hostId} label="ISO image" kind="iso" value={isoPath} onChange={setIsoPath} error={errors['source.path']} />
              </div>
              <Field label="Disk size (GiB)" error={errors['source.diskSizeGiB']} className="narrow">
                {(p) => <input {...p} type="number" min={1} max={4096} value={diskSize} onChange={(e) => setDiskSize(e.target.value)} />}
              </Field>
            </div>
          )}
          {kind === 'disk' && (
            <>
              <PathField onHost={remote} hostId={hostId} label="Disk image" kind="disk" value={diskPath} onChange={setDiskPath} error={errors['source.path']} />
              <div className="segmented" role="radiogroup" aria-label="Use the image">
                <label className={diskMode === 'copy' ? 'selected' : ''}>
                  <input type="radio" name="disk-mode" checked={diskMode === 'copy'} onChange={() => setDiskMode('copy')} />
                  Copy into the VM (safe)
                </label>
                <label className={diskMode === 'reference' ? 'selected' : ''}>
                  <input type="radio" name="disk-mode" checked={diskMode === 'reference'} onChange={() => setDiskMode('reference')} />
                  Use in place
                </label>
              </div>
            </>
          )}
          {kind === 'kernel' && (
            <>
              <div className="row">
                <div className="grow">
                  <PathField onHost={remote} label="Kernel" kind="kernel" value={kernel} onChange={setKernel} error={errors['source.kernel']} />
                </div>
                <div className="grow">
                  <PathField onHost={remote} label="Initrd" kind="initrd" value={initrd} onChange={setInitrd} error={errors['source.initrd']} optional />
                </div>
              </div>
              <Field label="Kernel command line" error={errors['source.append']}>
                {(p) => <input {...p} type="text" spellCheck={false} value={append} onChange={(e) => setAppend(e.target.value)} />}
              </Field>
              <PathField onHost={remote} label="Root disk" kind="disk" value={kernelDisk} onChange={setKernelDisk} error={errors['source.disk']} optional />
            </>
          )}

          <div className="row">
            <Field label="Name" error={errors['name']} className="grow">
              {(p) => (
                <input
                  {...p}
                  type="text"
                  spellCheck={false}
                  autoComplete="off"
                  value={name}
                  data-autofocus
                  onChange={(e) => {
                    setNameTouched(true);
                    setName(e.target.value);
                  }}
                />
              )}
            </Field>
            <Field label="CPUs" error={errors['cpus']} className="narrow">
              {(p) => <input {...p} type="number" min={1} max={64} value={cpus} onChange={(e) => setCpus(e.target.value)} />}
            </Field>
            <Field label="Memory (MiB)" error={errors['memoryMiB']} className="narrow">
              {(p) => (
                <>
                  <input {...p} type="number" min={64} step={1} list="memory-suggestions" value={memory} onChange={(e) => setMemory(e.target.value)} />
                  <datalist id="memory-suggestions">
                    {MEMORY_SUGGESTIONS.map((m) => (
                      <option key={m} value={m}>
                        {formatMiB(m)}
                      </option>
                    ))}
                  </datalist>
                </>
              )}
            </Field>
            {kind === 'default' && (
              <Field label="Disk (GiB)" hint="Holds /root" error={errors['source.diskSizeGiB']} className="narrow">
                {(p) => <input {...p} type="number" min={1} max={4096} value={rootDiskSize} onChange={(e) => setRootDiskSize(e.target.value)} />}
              </Field>
            )}
          </div>
          <div className="row">
            <Field label="Firmware" error={errors['firmware']} className="grow">
              {(p) => (
                <select {...p} value={uefiOff ? 'bios' : firmware} onChange={(e) => setFirmware(e.target.value as 'bios' | 'uefi')}>
                  {/* the built-in Linux boots through qboot (its boot profile, here and on libvirt hosts) */}
                  <option value="bios">{kind === 'default' ? 'BIOS (qboot)' : 'BIOS (SeaBIOS)'}</option>
                  <option value="uefi" disabled={uefiOff}>
                    UEFI (OVMF){uefiOff ? ' — the built-in Linux boots with BIOS on libvirt hosts' : ''}
                  </option>
                </select>
              )}
            </Field>
            <Field label="Display" error={errors['display']} className="grow">
              {(p) => (
                <select {...p} value={display} onChange={(e) => setDisplay(e.target.value as 'none' | 'vnc')}>
                  <option value="none">Headless (serial console)</option>
                  <option value="vnc">Graphical display</option>
                </select>
              )}
            </Field>
          </div>
          {remote ? (
            <p className="hint">Port forwards are not available on {remote}: its tile shows the guest&apos;s address instead.</p>
          ) : (
            <ForwardsEditor rows={forwards} onChange={setForwards} errors={errors} />
          )}
          {formError && <InlineError error={formError} onDismiss={() => setFormError(null)} />}
        </div>
        <div className="modal-foot">
          <label className="check">
            <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} />
            Start after creating
          </label>
          <span className="spacer" />
          <button type="button" className="btn" onClick={closeDialog}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy && <span className="spinner" aria-hidden="true" />}
            {busy ? 'Creating…' : 'Create VM'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * The built-in Linux on this machine was built by an older Flotilla's recipe: it still boots, and
 * one click rebuilds it with this version's (VMs keep their own disks).
 */
function StaleImageNotice(): ReactElement | null {
  const stale = useStore((s) => s.ui.engine?.defaultImage.stale === true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  if (!stale) return null;
  const rebuild = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    setError(await buildDefaultImage());
    setBusy(false);
  };
  return (
    <div className="notice stale-image" role="note">
      <p>
        The built-in Linux on this computer was built by an older version of Flotilla. It still boots; rebuilding it (about a minute) brings this
        version&rsquo;s faster boot and fixes. VMs keep their disks.
      </p>
      <button type="button" className="btn" disabled={busy} onClick={() => void rebuild()}>
        {busy && <span className="spinner" aria-hidden="true" />}
        {busy ? 'Rebuilding…' : 'Rebuild the built-in Linux'}
      </button>
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
    </div>
  );
}
