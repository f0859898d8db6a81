// The user's libvirt hosts as a set: loaded from hosts.json at engine start (each connects in
// the background and shows its state), added (validated, connected once so a bad key or an
// unknown host key is reported at once, then stored atomically), and removed (disconnected and
// forgotten; its VMs keep running on the host).
import { FlotillaError } from '../../../../shared/errors';
import type { HostKeyOffer } from '../../../../shared/errors';
import { explainUnknownKey, offeredHostKey, trustHostKey, type HostKeyOptions } from './host-keys';
import { failureOf, type SshTarget } from './ssh-master';
import { HostStore, RESERVED_HOST_NAMES, type HostEntry } from './host-store';
import { LibvirtHost, type LibvirtHostOptions } from './libvirt-host';
import { forgetLibvirtState } from './state-dir';

export interface LibvirtHostsOptions extends Omit<LibvirtHostOptions, 'home'> {
  home: string;
  /** called with each host once it exists (the engine registers it) */
  onAdded?: (host: LibvirtHost) => void;
  /** called when a host is removed (the engine unregisters it) */
  onRemoved?: (host: LibvirtHost) => void;
}

export class LibvirtHosts {
  readonly store: HostStore;
  private readonly hosts = new Map<string, LibvirtHost>();

  constructor(private readonly opts: LibvirtHostsOptions) {
    this.store = new HostStore(opts.home);
  }

  /** Loads hosts.json and starts connecting to each host; a broken file is reported, not fatal. */
  async load(): Promise<{ error: string | null }> {
    let entries: HostEntry[];
    try {
      entries = await this.store.list();
    } catch (err) {
      return { error: (err as Error).message };
    }
    for (const e of entries) {
      const host = new LibvirtHost(e, this.opts);
      this.hosts.set(e.name, host);
      this.opts.onAdded?.(host);
      host.start();
    }
    return { error: null };
  }

  all(): LibvirtHost[] {
    return [...this.hosts.values()];
  }

  get(name: string): LibvirtHost | undefined {
    return this.hosts.get(name);
  }

  /**
   * Validates the URI, connects once (the error names what to fix: an unknown host key, with the
   * key the host offers; a refused key; an unreachable host), and only then stores the host.
   * Nothing is stored when the first connection fails. `trustFingerprint`: the fingerprint of the
   * host key the user checked, added to known_hosts first if the host still offers that key
   * (host-keys.ts).
   */
  async add(name: string, uri: string, identity?: string, trustFingerprint?: string): Promise<LibvirtHost> {
    if (RESERVED_HOST_NAMES.has(name)) throw new FlotillaError('NAME_TAKEN', `"${name}" is reserved; choose another host name`, { field: 'name' });
    if (this.hosts.has(name)) throw new FlotillaError('NAME_TAKEN', `a host named ${name} exists already`, { field: 'name' });
    // the same libvirt twice would show each of its domains twice
    const same = this.all().find((h) => h.info().uri === uri.trim());
    if (same) throw new FlotillaError('BAD_REQUEST', `${uri.trim()} is added already, as host ${same.id}`, { field: 'uri' });
    const host = new LibvirtHost({ name, uri: uri.trim(), ...(identity ? { identity } : {}), addedAt: new Date().toISOString() }, this.opts);
    const ssh = host.conn.sshTarget();
    try {
      if (trustFingerprint) {
        if (!ssh) throw new FlotillaError('BAD_REQUEST', `${uri.trim()} is this computer's libvirt: there is no ssh host key to trust`, { field: 'trustHostKey' });
        await this.trust(host, ssh, trustFingerprint);
      }
      await host.connectNow();
      await this.store.add({ name, uri, ...(identity ? { identity } : {}) });
    } catch (err) {
      await host.close();
      // an unknown host key comes back with the key the host offers, for the user to check
      throw ssh ? await explainUnknownKey(ssh, err, this.keyOpts()) : err;
    }
    // the connection made to check the host is the one it keeps
    this.hosts.set(name, host);
    this.opts.onAdded?.(host);
    return host;
  }

  /** The ssh key a stored remote host offers, for the user to check (its own is not in known_hosts). */
  async offeredKey(name: string): Promise<HostKeyOffer> {
    return offeredHostKey(this.sshOf(name), this.keyOpts());
  }

  /**
   * Trusts a stored remote host's key by the fingerprint the user checked (appended to known_hosts
   * only if the host still offers it), then connects at once; the error of that attempt is thrown
   * (the host stays, retrying as before).
   */
  async trustKey(name: string, fingerprint: string): Promise<LibvirtHost> {
    const ssh = this.sshOf(name);
    const host = this.hosts.get(name)!;
    // a connected host's key is trusted already (a reconnect would only drop what works); one
    // retrying meanwhile is still one whose last attempt failed on its key
    if (host.conn.state === 'connected' || failureOf(host.conn.lastError) !== 'host-key-unknown') throw new FlotillaError('INVALID_STATE', `${name} is ${host.conn.state}${host.conn.reason ? ` (${host.conn.reason})` : ''}: its ssh key is not the problem, there is nothing to trust`, { host: name });
    await this.trust(host, ssh, fingerprint);
    await host.conn.connect();
    return host;
  }

  /** Appends the key to known_hosts if the host still offers it (host-keys.ts), and says so in the host's log. */
  private async trust(host: LibvirtHost, ssh: SshTarget, fingerprint: string): Promise<void> {
    const file = await trustHostKey(ssh, fingerprint, this.keyOpts());
    host.note(`trusted the ssh host key ${fingerprint} of ${ssh.host} (added to ${file})`);
  }

  private keyOpts(): HostKeyOptions {
    return { sshBinary: this.opts.sshBinary, timeoutMs: this.opts.connectTimeoutMs };
  }

  private sshOf(name: string): SshTarget {
    const host = this.hosts.get(name);
    if (!host) throw new FlotillaError('NOT_FOUND', `no libvirt host named ${name}`, { host: name });
    const ssh = host.conn.sshTarget();
    if (!ssh) throw new FlotillaError('BAD_REQUEST', `${name} is this computer's libvirt: it has no ssh host key`, { field: 'name' });
    return ssh;
  }

  async remove(name: string): Promise<void> {
    const host = this.hosts.get(name);
    await this.store.remove(name);
    this.hosts.delete(name);
    if (host) {
      this.opts.onRemoved?.(host);
      await host.close();
    }
    await forgetLibvirtState(this.opts.home, name);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((h) => h.close()));
  }
}
