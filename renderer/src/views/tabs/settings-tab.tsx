// Edit a VM: name, CPUs, memory, display, forwards, restart policy, keep running on quit, start
// automatically, and a free-text note shown on its tile. The hardware (CPUs, memory, display)
// waits for a stopped VM; the rest (LIVE_SETTINGS, forwards included) also applies while it runs.
// Checked with the shared patch schema as you type; the engine's answer lands on the field it
// concerns.
import { useMemo, useState, type FormEvent, type ReactElement } from 'react';
import { issuesToFieldErrors, LIVE_SETTINGS, vmPatchSchema, type VmPatch } from '../../../../shared/spec';
import { canEdit } from '../../../../shared/state';
import { Field } from '../../components/fields';
import { ForwardsEditor, forwardsFromDraft, type ForwardDraft } from '../../components/forwards-editor';
import { InlineError } from '../../components/inline-error';
import { engineFieldErrors } from '../../lib/engine-field-errors';
import { updateVm } from '../../store/actions';
import { DiskSection } from './disk-section';
import { SharesSection } from './shares-section';
import { useStore, type UiError } from '../../store/store';

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

  // a running VM takes only the settings that apply while it runs (its hardware fields are locked)
  const hardwareEditable = vm ? canEdit(vm) : false;
  const patch: VmPatch = useMemo(() => {
    const all: VmPatch = { name: name.trim(), cpus: Number(cpus), memoryMiB: Number(memory), display, restartPolicy: restart, keepRunningOnQuit: keep, autostart, forwards: forwardsFromDraft(forwards), note: note.trim() };
    return hardwareEditable ? all : Object.fromEntries(LIVE_SETTINGS.map((k) => [k, all[k]]));
  }, [hardwareEditable, name, cpus, memory, display, restart, keep, autostart, forwards, note]);
  const localErrors = useMemo(() => {
    const r = vmPatchSchema.safeParse(patch);
    return r.success ? {} : issuesToFieldErrors(r.error.issues);
  }, [patch]);
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
      setSaved(true);
      return;
    }
    const fe = engineFieldErrors(err, { paths: {}, hostPorts: forwardsFromDraft(forwards).map((f) => f.hostPort) });
    setEngineErrors(fe);
    if (Object.keys(fe).length === 0) setFormError(err);
  };
  const touch = <T,>(set: (v: T) => void) => (v: T) => {
    setSaved(false);
    setEngineErrors({});
    set(v);
  };

  return (
    <div className="settings-page">
    <form className="settings" onSubmit={(e) => void submit(e)} noValidate>
      {!hardwareEditable && (
        <p className="notice" role="note">
          {spec.name} is {vm.state}: CPUs, memory and display (and disks and shared folders) wait until it is stopped; the rest changes now.
        </p>
      )}
      <fieldset disabled={saving}>
        <legend className="visually-hidden">VM settings</legend>
        <div className="row">
          <Field label="Name" error={errors['name']} className="grow" hint={!hardwareEditable && spec.source.kind === 'default' ? 'The guest’s hostname follows at its next start.' : undefined}>
            {(p) => <input {...p} type="text" spellCheck={false} value={name} onChange={(e) => touch(setName)(e.target.value)} />}
          </Field>
          <Field label="CPUs" error={errors['cpus']} className="narrow">
            {(p) => <input {...p} type="number" min={1} max={64} value={cpus} disabled={!hardwareEditable} onChange={(e) => touch(setCpus)(e.target.value)} />}
          </Field>
          <Field label="Memory (MiB)" error={errors['memoryMiB']} className="narrow">
            {(p) => <input {...p} type="number" min={64} step={64} value={memory} disabled={!hardwareEditable} onChange={(e) => touch(setMemory)(e.target.value)} />}
          </Field>
        </div>
        <div className="row">
          <Field label="Display" error={errors['display']} className="grow">
            {(p) => (
              <select {...p} value={display} disabled={!hardwareEditable} onChange={(e) => touch(setDisplay)(e.target.value as 'none' | 'vnc')}>
                <option value="none">Headless (serial console)</option>
                <option value="vnc">Graphical display</option>
              </select>
            )}
          </Field>
          <Field label="When it crashes" error={errors['restartPolicy']} className="grow">
            {(p) => (
              <select {...p} value={restart} onChange={(e) => touch(setRestart)(e.target.value as 'never' | 'on-failure')}>
                <option value="never">Leave it stopped</option>
                <option value="on-failure">Restart it (with backoff)</option>
              </select>
            )}
          </Field>
        </div>
        <Field label="Note" error={errors['note']} hint="Shown on the tile, e.g. what this VM is for.">
          {(p) => <textarea {...p} rows={2} maxLength={500} value={note} onChange={(e) => touch(setNote)(e.target.value)} />}
        </Field>
        <div className="check-block">
          <label className="check">
            <input type="checkbox" checked={keep} onChange={(e) => touch(setKeep)(e.target.checked)} aria-describedby="keep-running-help" />
            Keep running when the Flotilla app quits
          </label>
          <p className="field-hint" id="keep-running-help">
            Quitting the desktop app offers to stop running VMs (a clean shutdown, forced after 30 s); a ticked VM is left running and the app picks it up
            again next time. Stopping <code>flotilla serve</code> or a <code>flotilla</code> command never stops any VM.
          </p>
        </div>
        <div className="check-block">
          <label className="check">
            <input type="checkbox" checked={autostart} onChange={(e) => touch(setAutostart)(e.target.checked)} aria-describedby="autostart-help" />
            Start automatically after this computer starts
          </label>
          <p className="field-hint" id="autostart-help">
            The first Flotilla to run after the computer starts (the app, <code>flotilla serve</code> or any <code>flotilla</code> command) starts it, once: a VM
            you stop later stays stopped.
          </p>
        </div>
        {/* QEMU takes forwards while it runs, not while it starts or stops */}
        <ForwardsEditor rows={forwards} onChange={touch(setForwards)} errors={errors} disabled={!hardwareEditable && vm.state !== 'running' && vm.state !== 'paused'} />
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
