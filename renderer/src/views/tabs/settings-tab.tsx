// Edit a VM: name, CPUs, memory, display, forwards, restart policy, keep running on quit, start
// automatically, and a free-text note shown on its tile. Its host says which of them it takes and
// which also apply while the VM runs (VmInfo.settings: on this computer the hardware waits for a
// stop; on a libvirt host the name, CPUs and memory do, and only those five are shown). Checked
// with the shared patch schema as you type; the engine's answer lands on the field it concerns.
import { useState, type FormEvent, type ReactElement } from 'react';
import { issuesToFieldErrors, settingWords, vmPatchSchema, type VmPatch } from '../../../../shared/spec';
import { LOCAL_HOST } from '../../../../shared/contract';
import { canEdit } from '../../../../shared/state';
import { Field } from '../../components/fields';
import { ForwardsEditor, forwardsFromDraft, type ForwardDraft } from '../../components/forwards-editor';
import { InlineError } from '../../components/inline-error';
import { engineFieldErrors } from '../../lib/engine-field-errors';
import { updateVm } from '../../store/actions';
import { DiskSection } from './disk-section';
import { SharesSection } from './shares-section';
import { useStore, type UiError } from '../../store/store';

/** The settings this form shows, in its order. */
const FORM_KEYS: (keyof VmPatch)[] = ['name', 'cpus', 'memoryMiB', 'display', 'restartPolicy', 'note', 'keepRunningOnQuit', 'autostart', 'forwards'];

export function SettingsTab({ id }: { id: string }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const spec = vm?.spec;
  const [name, setName] = useState(spec?.name ?? '');
  const [cpus, setCpus] = useState(String(spec?.cpus ?? 1));
  const [memory, setMemory] = useState(String(spec?.memoryMiB ?? 256));
  const [display, setDisplay] = useState<'none' | 'vnc'>(spec?.display ?? 'none');
  const [restart, setRestart] = useState<'never' | 'on-failure'>(spec?.restartPolicy ?? 'never');
  const [keep, setKeep] = useState(spec?.keepRunningOnQuit ?? false);
  const [autostart, setAutostart] = useState(spec?.autostart ?? false);
  const [note, setNote] = useState(spec?.note ?? '');
  const [forwards, setForwards] = useState<ForwardDraft[]>(
    () => spec?.forwards.map((f) => ({ proto: f.proto, guestPort: String(f.guestPort), hostPort: f.hostPort === undefined ? '' : String(f.hostPort) })) ?? [],
  );
  const [engineErrors, setEngineErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<UiError | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  // what the user changed here: only those are sent, so a setting changed elsewhere meanwhile (the
  // CLI, another window) is not put back by this form's older copy
  const [edited, setEdited] = useState<(keyof VmPatch)[]>([]);

  // the host's rule: what is shown, and what can change now (a running VM: its live settings only)
  const stopped = vm ? canEdit(vm) : false;
  const rule = vm?.settings;
  const shows = (k: keyof VmPatch): boolean => rule?.editable.includes(k) ?? false;
  // QEMU takes forwards while it runs, not while it starts or stops
  const can = (k: keyof VmPatch): boolean =>
    shows(k) && (stopped || (rule!.live.includes(k) && (k !== 'forwards' || vm!.state === 'running' || vm!.state === 'paused')));
  // cheap to make on each render (a few fields), so no memo
  const all: VmPatch = { name: name.trim(), cpus: Number(cpus), memoryMiB: Number(memory), display, restartPolicy: restart, keepRunningOnQuit: keep, autostart, forwards: forwardsFromDraft(forwards), note: note.trim() };
  const patch: VmPatch = Object.fromEntries(FORM_KEYS.filter((k) => can(k) && edited.includes(k)).map((k) => [k, all[k]]));
  const checked = vmPatchSchema.safeParse(patch);
  const localErrors = checked.success ? {} : issuesToFieldErrors(checked.error.issues);
  if (!vm || !spec) return null;
  const errors = { ...engineErrors, ...localErrors };

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (Object.keys(localErrors).length > 0) return;
    setSaving(true);
    setSaved(false);
    setFormError(null);
    const err = await updateVm(id, patch);
    setSaving(false);
    if (!err) {
      setEngineErrors({});
      setEdited([]);
      setSaved(true);
      return;
    }
    const fe = engineFieldErrors(err, { paths: {}, hostPorts: forwardsFromDraft(forwards).map((f) => f.hostPort) });
    setEngineErrors(fe);
    if (Object.keys(fe).length === 0) setFormError(err);
  };
  const touch = <T,>(key: keyof VmPatch, set: (v: T) => void) => (v: T) => {
    setSaved(false);
    setEngineErrors({});
    setEdited((e) => (e.includes(key) ? e : [...e, key]));
    set(v);
  };

  return (
    <div className="settings-page">
    <form className="settings" onSubmit={(e) => void submit(e)} noValidate>
      {!stopped && (
        <p className="notice" role="note">
          {vm.name} is {vm.state}: its {settingWords(FORM_KEYS.filter((k) => shows(k) && !rule!.live.includes(k)))}
          {vm.caps.disks || vm.caps.shares ? ' (and disks and shared folders)' : ''} wait until it is stopped; the rest changes now.
        </p>
      )}
      <fieldset disabled={saving}>
        <legend className="visually-hidden">VM settings</legend>
        <div className="row">
          <Field label="Name" error={errors['name']} className="grow" hint={!stopped && can('name') && spec.source.kind === 'default' ? 'The guest’s hostname follows at its next start.' : undefined}>
            {(p) => <input {...p} type="text" spellCheck={false} value={name} disabled={!can('name')} onChange={(e) => touch('name', setName)(e.target.value)} />}
          </Field>
          <Field label="CPUs" error={errors['cpus']} className="narrow">
            {(p) => <input {...p} type="number" min={1} max={64} value={cpus} disabled={!can('cpus')} onChange={(e) => touch('cpus', setCpus)(e.target.value)} />}
          </Field>
          <Field label="Memory (MiB)" error={errors['memoryMiB']} className="narrow">
            {(p) => <input {...p} type="number" min={64} step={64} value={memory} disabled={!can('memoryMiB')} onChange={(e) => touch('memoryMiB', setMemory)(e.target.value)} />}
          </Field>
        </div>
        {(shows('display') || shows('restartPolicy')) && (
          <div className="row">
            {shows('display') && (
              <Field label="Display" error={errors['display']} className="grow">
                {(p) => (
                  <select {...p} value={display} disabled={!can('display')} onChange={(e) => touch('display', setDisplay)(e.target.value as 'none' | 'vnc')}>
                    <option value="none">Headless (serial console)</option>
                    <option value="vnc">Graphical display</option>
                  </select>
                )}
              </Field>
            )}
            {shows('restartPolicy') && (
              <Field label="When it crashes" error={errors['restartPolicy']} className="grow">
                {(p) => (
                  <select {...p} value={restart} disabled={!can('restartPolicy')} onChange={(e) => touch('restartPolicy', setRestart)(e.target.value as 'never' | 'on-failure')}>
                    <option value="never">Leave it stopped</option>
                    <option value="on-failure">Restart it (with backoff)</option>
                  </select>
                )}
              </Field>
            )}
          </div>
        )}
        <Field label="Note" error={errors['note']} hint={vm.host === LOCAL_HOST ? 'Shown on the tile, e.g. what this VM is for.' : 'Shown on the tile; libvirt keeps it as the domain’s description.'}>
          {(p) => <textarea {...p} rows={2} maxLength={500} value={note} disabled={!can('note')} onChange={(e) => touch('note', setNote)(e.target.value)} />}
        </Field>
        {shows('keepRunningOnQuit') && (
          <div className="check-block">
            <label className="check">
              <input type="checkbox" checked={keep} disabled={!can('keepRunningOnQuit')} onChange={(e) => touch('keepRunningOnQuit', setKeep)(e.target.checked)} aria-describedby="keep-running-help" />
              Keep running when the Flotilla app quits
            </label>
            <p className="field-hint" id="keep-running-help">
              Quitting the desktop app offers to stop running VMs (a clean shutdown, forced after 30 s); a ticked VM is left running and the app picks it up
              again next time. Stopping <code>flotilla serve</code> or a <code>flotilla</code> command never stops any VM.
            </p>
          </div>
        )}
        <div className="check-block">
          <label className="check">
            <input type="checkbox" checked={autostart} disabled={!can('autostart')} onChange={(e) => touch('autostart', setAutostart)(e.target.checked)} aria-describedby="autostart-help" />
            {vm.host === LOCAL_HOST ? 'Start automatically after this computer starts' : 'Start automatically when libvirt starts'}
          </label>
          <p className="field-hint" id="autostart-help">
            {vm.host === LOCAL_HOST ? (
              <>
                The first Flotilla to run after the computer starts (the app, <code>flotilla serve</code> or any <code>flotilla</code> command) starts it, once:
                a VM you stop later stays stopped.
              </>
            ) : (
              <>libvirt&apos;s own autostart: libvirtd on {vm.host} starts it when it starts, with or without Flotilla.</>
            )}
          </p>
        </div>
        {shows('forwards') && <ForwardsEditor rows={forwards} onChange={touch('forwards', setForwards)} errors={errors} disabled={!can('forwards')} />}
      </fieldset>
      {formError && <InlineError error={formError} onDismiss={() => setFormError(null)} />}
      <div className="form-foot">
        {saved && (
          <span className="ok" role="status">
            Saved
          </span>
        )}
        <button type="submit" className="btn btn-primary" disabled={saving || Object.keys(localErrors).length > 0}>
          {saving ? 'Saving…' : 'Save changes'}
        </button>
      </div>
    </form>
    <DiskSection id={id} />
    <SharesSection id={id} />
    </div>
  );
}
