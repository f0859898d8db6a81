// Hosts: the computers whose VMs the tiles show, as virt-manager's "Add Connection" and Cockpit's
// host switcher have them. Lists every host with its connection state (and why it failed), adds
// a libvirt host (this computer's libvirt, or another computer's over ssh) and forgets one. Adding
// connects first: a host that cannot be reached is not stored, and the engine's reason shows on
// the form. A first connection to an ssh host shows the key it offers, as ssh asks, and adds the
// host trusting that key (by its fingerprint) only when the user says so.
import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { HostInfo } from '../../../shared/contract';
import type { HostKeyOffer } from '../../../shared/errors';
import { hostKeyCheckCommand, SSH_FINGERPRINT_RE } from '../../../shared/ssh-command';
import { hostIdSchema } from '../../../shared/contract';
import { getApi } from '../api/current';
import { closeDialog } from '../store/actions';
import { fieldErrors, toUiError } from '../store/errors';
import { useStore, type UiError } from '../store/store';
import { Field } from './fields';
import { InlineError } from './inline-error';
import { Modal, ModalFoot } from './modal';

export type HostWhere = 'system' | 'session' | 'ssh';

export interface HostForm {
  name: string;
  where: HostWhere;
  user: string;
  address: string;
  port: string;
  identity: string;
}

export const EMPTY_HOST_FORM: HostForm = { name: '', where: 'ssh', user: '', address: '', port: '', identity: '' };

/** The libvirt URI the form describes, as `flotilla host add` takes it; null while incomplete. */
export function hostUri(f: HostForm): string | null {
  if (f.where === 'system') return 'qemu:///system';
  if (f.where === 'session') return 'qemu:///session';
  const address = f.address.trim();
  if (!address) return null;
  const user = f.user.trim();
  const port = f.port.trim();
  // an IPv6 literal goes in brackets, as in any URI
  const h = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return `qemu+ssh://${user ? `${user}@` : ''}${h}${port ? `:${port}` : ''}/system`;
}

/** What is wrong with the form before it is sent, by field. */
export function hostFormErrors(f: HostForm, taken: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const name = f.name.trim();
  if (!name) out['name'] = 'Give the host a name';
  else if (!hostIdSchema.safeParse(name).success) out['name'] = 'Lower-case letters, digits and "-", starting with a letter or digit (at most 32)';
  else if (taken.includes(name)) out['name'] = `A host named ${name} exists already`;
  if (f.where === 'ssh') {
    if (!f.address.trim()) out['address'] = 'The computer’s host name or address';
    else if (/[\s/@?#]/.test(f.address.trim())) out['address'] = 'Only the host name or address (no user, port or path)';
    if (f.user.trim() && !/^[A-Za-z0-9._-]{1,64}$/.test(f.user.trim())) out['user'] = 'A user name: letters, digits, ".", "_" and "-"';
    const port = f.port.trim();
    if (port && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) out['port'] = 'A port from 1 to 65535, or empty for 22';
    if (f.identity.trim() && !f.identity.trim().startsWith('/')) out['identity'] = 'An absolute path, or empty for your ssh agent';
  }
  return out;
}

/** The host key of an unknown-host-key error, when the engine could fetch it. */
export function hostKeyOffer(details: unknown): HostKeyOffer | null {
  const d = details as { reason?: unknown; hostKey?: { type?: unknown; fingerprint?: unknown } } | undefined;
  const k = d?.hostKey;
  if (d?.reason !== 'host-key-unknown' || typeof k?.type !== 'string' || typeof k.fingerprint !== 'string' || !SSH_FINGERPRINT_RE.test(k.fingerprint)) return null;
  return { type: k.type, fingerprint: k.fingerprint };
}

/** ssh's question on a first connection, with the command that shows the key on the host itself. */
function HostKeyQuestion({ offer, host, busy, action, onTrust, onCancel }: { offer: HostKeyOffer; host: string; busy: boolean; action: string; onTrust: () => void; onCancel: () => void }): ReactElement {
  // it appears under the form: brought into view and focused, so it is read out and seen
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'nearest' });
    ref.current?.focus();
  }, [offer.fingerprint]);
  return (
    <div ref={ref} tabIndex={-1} className="host-key-question" role="alertdialog" aria-label="Trust this host key?">
      <p>
        <strong>{host || 'This host'}’s ssh key is not known here.</strong> It offers this {offer.type} key:
      </p>
      <code className="host-key-fingerprint" aria-label="Host key fingerprint">
        {offer.fingerprint}
      </code>
      <p className="hint">
        Trust it only if it is the host’s own. On the host, <code>{hostKeyCheckCommand(offer.type)}</code> shows it. Trusting adds it to your known_hosts, as ssh would.
      </p>
      <div className="host-key-actions">
        <button type="button" className="btn btn-primary" disabled={busy} onClick={onTrust}>
          {busy ? 'Connecting…' : action}
        </button>
        <button type="button" className="btn" disabled={busy} onClick={onCancel}>
          Don’t trust
        </button>
      </div>
    </div>
  );
}

const STATE_WORDS: Record<string, string> = { connected: 'Connected', connecting: 'Connecting…', failed: 'Unreachable' };

/** A stored host whose ssh key is not in known_hosts (any more): the key it offers, asked about, trusted. */
function HostKeyCheck({ host }: { host: HostInfo }): ReactElement {
  const [offer, setOffer] = useState<HostKeyOffer | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const run = async (f: () => Promise<void>, action: string): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(toUiError(err, action));
    } finally {
      setBusy(false);
    }
  };
  const check = () => run(async () => setOffer(await getApi().invoke('host.offeredKey', { name: host.id })), `Check ${host.name}'s key`);
  const trust = (fingerprint: string) =>
    run(async () => {
      await getApi().invoke('host.trustKey', { name: host.id, fingerprint });
      setOffer(null);
    }, `Trust ${host.name}'s key`);
  return (
    <div className="host-row-key">
      {offer ? (
        <HostKeyQuestion offer={offer} host={host.name} busy={busy} action="Trust and connect" onTrust={() => void trust(offer.fingerprint)} onCancel={() => setOffer(null)} />
      ) : (
        <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void check()}>
          {busy ? 'Asking…' : 'Check its key…'}
        </button>
      )}
      {error && <InlineError error={error} onDismiss={() => setError(null)} />}
    </div>
  );
}

function HostRow({ host, onRemoved }: { host: HostInfo; onRemoved: (err: UiError | null) => void }): ReactElement {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  // The host retries with backoff, and each try says "connecting" (no failure) until it fails
  // again. The key question stays through those tries: unmounted, it lost the key being checked,
  // and the user's click met a plain "Check its key…" again (the e2e test caught one).
  // (state adjusted while rendering, as React's docs do for a value derived from a changing prop)
  const keyNow = host.failure === 'host-key-unknown' ? true : host.state === 'connecting' ? null : false;
  const [keyUnknown, setKeyUnknown] = useState(keyNow === true);
  if (keyNow !== null && keyNow !== keyUnknown) setKeyUnknown(keyNow);
  const remove = async (): Promise<void> => {
    setBusy(true);
    try {
      await getApi().invoke('host.remove', { name: host.id });
      onRemoved(null);
    } catch (err) {
      onRemoved(toUiError(err, `Forget ${host.name}`));
      setBusy(false);
      setConfirming(false);
    }
  };
  const local = host.kind === 'local';
  return (
    <li className="host-row" aria-label={`Host ${host.name}`}>
      <div className="host-row-main">
        <span className="host-row-name">{host.name}</span>
        <span className={`host-state host-state-${host.state}`}>{STATE_WORDS[host.state] ?? host.state}</span>
        <span className="host-row-count">
          {host.vmCount} VM{host.vmCount === 1 ? '' : 's'}
        </span>
      </div>
      <div className="host-row-uri">{local ? 'Flotilla’s own VMs on this computer' : <code>{host.uri}</code>}</div>
      {host.reason && host.state !== 'connected' && <p className="host-row-reason">{host.reason}</p>}
      {keyUnknown && <HostKeyCheck host={host} />}
      {!local &&
        (confirming ? (
          <div className="host-row-confirm" role="group" aria-label={`Forget ${host.name}?`}>
            <span>Forget {host.name}? Its VMs keep running there; Flotilla stops showing them.</span>
            <button type="button" className="btn btn-danger" disabled={busy} onClick={() => void remove()}>
              {busy ? 'Forgetting…' : 'Forget'}
            </button>
            <button type="button" className="btn" disabled={busy} onClick={() => setConfirming(false)}>
              Keep
            </button>
          </div>
        ) : (
          <button type="button" className="btn btn-ghost host-row-remove" aria-label={`Forget host ${host.name}`} onClick={() => setConfirming(true)}>
            Forget…
          </button>
        ))}
    </li>
  );
}

export function HostsDialog(): ReactElement {
  const hosts = useStore(useShallow((s) => s.vms.hosts));
  const [form, setForm] = useState<HostForm>(EMPTY_HOST_FORM);
  const [shown, setShown] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const set = (k: keyof HostForm) => (v: string) => {
    setForm((f) => ({ ...f, [k]: v }));
    setShown((s) => ({ ...s, [k]: '' }));
    setError(null);
    setAdded(null);
  };
  const uri = hostUri(form);
  // the engine's word on a field (a taken name, a refused URI) goes where the user fixes it
  const fromEngine = error ? fieldErrors(error) : {};
  const detailField = (error?.details as { field?: string } | undefined)?.field;
  const engineOn = (k: string): string | undefined => fromEngine[k] || (detailField === k && error ? error.message : undefined);
  const uriError = engineOn('uri');
  const fieldError = (k: string): string | undefined => shown[k] || engineOn(k);
  // a first connection to an ssh host: the key it offers, to check and trust (as ssh asks)
  const offer = error?.code === 'UNAUTHORIZED' ? hostKeyOffer(error.details) : null;
  const add = async (trustHostKey?: string): Promise<void> => {
    const errs = hostFormErrors(
      form,
      hosts.map((h) => h.id),
    );
    setShown(errs);
    if (Object.keys(errs).length || !uri) return;
    setBusy(true);
    setError(null);
    try {
      const name = form.name.trim();
      const identity = form.where === 'ssh' ? form.identity.trim() : '';
      await getApi().invoke('host.add', { name, uri, ...(identity ? { identity } : {}), ...(trustHostKey ? { trustHostKey } : {}) });
      setForm(EMPTY_HOST_FORM);
      setAdded(name);
    } catch (err) {
      setError(toUiError(err, 'Add host'));
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void add();
  };
  const unplaced = error && !offer && !uriError && !engineOn('name') && !engineOn('identity');
  return (
    <Modal title="Hosts" onClose={closeDialog} wide>
      <form noValidate onSubmit={submit}>
        <div className="modal-body hosts-body">
          <p className="hint">Flotilla shows the VMs of this computer and of libvirt hosts (what virt-manager and Cockpit use), each through libvirt’s own tools.</p>
          <ul className="host-list" aria-label="Hosts">
            {hosts.map((h) => (
              <HostRow key={h.id} host={h} onRemoved={setError} />
            ))}
          </ul>
          <section className="host-add" aria-label="Add a libvirt host">
            <h3>Add a libvirt host</h3>
            <div className="row">
              <Field label="Name" error={fieldError('name')} hint="How tiles name it, e.g. lab" className="grow">
                {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={form.name} placeholder="lab" onChange={(e) => set('name')(e.target.value)} />}
              </Field>
              <Field label="Where" className="grow">
                {(p) => (
                  <select {...p} value={form.where} onChange={(e) => set('where')(e.target.value)}>
                    <option value="ssh">Another computer, over SSH</option>
                    <option value="system">This computer’s libvirt (system)</option>
                    <option value="session">This computer’s libvirt (my session)</option>
                  </select>
                )}
              </Field>
            </div>
            {form.where === 'ssh' && (
              <>
                <div className="row">
                  <Field label="User" error={fieldError('user')} hint="Empty: ssh’s own choice" className="narrow">
                    {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={form.user} placeholder="root" onChange={(e) => set('user')(e.target.value)} />}
                  </Field>
                  <Field label="Host name or address" error={fieldError('address')} className="grow">
                    {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={form.address} placeholder="lab.example.org" onChange={(e) => set('address')(e.target.value)} />}
                  </Field>
                  <Field label="Port" error={fieldError('port')} className="narrow">
                    {(p) => <input {...p} type="text" inputMode="numeric" autoComplete="off" value={form.port} placeholder="22" onChange={(e) => set('port')(e.target.value)} />}
                  </Field>
                </div>
                <Field label="Key file" error={fieldError('identity')} hint="Empty: your ssh agent or ssh’s own keys. Passwords are never asked; a host key not yet in your known_hosts is shown for you to check.">
                  {(p) => <input {...p} type="text" spellCheck={false} autoComplete="off" value={form.identity} placeholder="/home/me/.ssh/id_ed25519" onChange={(e) => set('identity')(e.target.value)} />}
                </Field>
              </>
            )}
            <p className="host-add-uri">
              Connection: <code aria-label="Connection URI">{uri ?? '—'}</code>
            </p>
            {uriError && <InlineError error={{ ...error!, message: uriError }} onDismiss={() => setError(null)} />}
            {unplaced && <InlineError error={error} onDismiss={() => setError(null)} />}
            {offer && <HostKeyQuestion offer={offer} host={form.address.trim()} busy={busy} action="Trust and add" onTrust={() => void add(offer.fingerprint)} onCancel={() => setError(null)} />}
            {added && (
              <p className="host-added" role="status">
                Added {added}. Its VMs appear as tiles.
              </p>
            )}
          </section>
        </div>
        <ModalFoot busy={busy} label="Add host" busyLabel="Connecting…" onCancel={closeDialog} cancelLabel="Close" />
      </form>
    </Modal>
  );
}
