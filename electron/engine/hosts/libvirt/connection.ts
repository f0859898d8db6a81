// One libvirt host's connection: state (connecting → connected | failed with the reason),
// the ssh master for remote hosts (ssh-master.ts), the ONE long-lived event stream
// (`virsh event --all --loop --timestamp`), and reconnection with backoff when any of them
// ends. Domain state is kept from that stream, never polled: the host (libvirt-host.ts)
// reloads everything once per (re)connect and then follows events.
import type { ChildProcess } from 'node:child_process';
import type { SshJump } from '../../../../shared/contract';
import { FlotillaError, type HostFailure } from '../../../../shared/errors';
import { LineSplitter } from '../../line-splitter';
import { RestartBackoff, type BackoffOptions } from '../../restart-backoff';
import { defaultKnownHosts, failureOf, SshMaster, type SshTarget } from './ssh-master';
import { parseLibvirtUri, sshHostLabel, type LibvirtTarget } from './uri';
import { Virsh } from './virsh';
import { parseEventLine, safeText, type DomainEvent } from './virsh-parse';

export type ConnectionState = 'connecting' | 'connected' | 'failed';

export interface ConnectionOptions {
  backoff?: BackoffOptions;
  sshBinary?: string;
  virshBinary?: string;
  connectTimeoutMs?: number;
}

export class LibvirtConnection {
  readonly target: LibvirtTarget;
  readonly virsh: Virsh;
  /** the last attempt's own virsh (its URI before the host counts as connected): close() waits for it too */
  private probe: Virsh | null = null;
  state: ConnectionState = 'connecting';
  reason: string | null = 'not connected yet';
  lastError: FlotillaError | null = null;
  master: SshMaster | null = null;
  /** a master still connecting: close() stops it too, so an engine that exits leaves no ssh behind */
  private starting: SshMaster | null = null;
  private effectiveUri = '';
  private events: ChildProcess | null = null;
  private closed = false;
  private connectedAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backoff: RestartBackoff;
  private readonly stateListeners = new Set<() => void>();
  private readonly eventListeners = new Set<(e: DomainEvent) => void>();
  /** bumps on every (re)connect, so a late exit of an old stream cannot drop a new connection */
  private generation = 0;

  constructor(
    readonly name: string,
    readonly uri: string,
    private readonly identity: string | undefined,
    private readonly opts: ConnectionOptions = {},
  ) {
    this.target = parseLibvirtUri(uri);
    this.backoff = new RestartBackoff({ baseMs: 1000, maxMs: 30_000, stableMs: 60_000, ...opts.backoff });
    this.virsh = new Virsh(() => this.requireUri(), name, opts.virshBinary);
  }

  /** Why the last attempt failed, as a code (none while connected or connecting). */
  get failure(): HostFailure | undefined {
    return this.state === 'failed' ? failureOf(this.lastError) : undefined;
  }

  /** How ssh reaches this host's guests through the host (null for a local host): as the master connects. */
  sshJump(): SshJump | null {
    const t = this.target;
    if (t.transport !== 'ssh') return null;
    let controlPath: string | null = null;
    try {
      controlPath = this.master?.controlPath ?? null;
    } catch {
      // stopped meanwhile: ssh then connects by itself
    }
    return { user: t.user, host: t.host.replace(/^\[(.*)\]$/, '$1'), port: t.port, knownHostsFile: t.knownHosts ?? defaultKnownHosts(), identityFile: this.identity ?? t.keyfile ?? null, controlPath };
  }

  /** Who ssh connects to for a remote host (null for a local one): user, host, port, key and known_hosts. */
  sshTarget(): SshTarget | null {
    const t = this.target;
    if (t.transport !== 'ssh') return null;
    return { user: t.user, host: t.host, port: t.port, identity: this.identity ?? t.keyfile, knownHosts: t.knownHosts };
  }

  private requireUri(): string {
    if (this.state !== 'connected' || !this.effectiveUri) {
      throw new FlotillaError('DISCONNECTED', `libvirt host ${this.name} is unreachable${this.reason ? `: ${this.reason}` : ''}`, { host: this.name });
    }
    return this.effectiveUri;
  }

  onState(cb: () => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  onEvent(cb: (e: DomainEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  private setState(state: ConnectionState, reason: string | null): void {
    this.state = state;
    this.reason = reason;
    for (const cb of [...this.stateListeners]) cb();
  }

  /** Connects in the background; failures become state 'failed' and a retry with backoff. */
  start(): void {
    void this.connect().catch(() => undefined);
  }

  /** One attempt; throws the classified error (host add uses it to report a bad key at once). */
  async connect(): Promise<void> {
    if (this.closed) throw new FlotillaError('DISCONNECTED', `libvirt host ${this.name} is closed`);
    const gen = ++this.generation;
    this.clearRetry();
    this.setState('connecting', null);
    try {
      let uri: string;
      let master: SshMaster | null = null;
      if (this.target.transport === 'ssh') {
        master = new SshMaster(this.sshTarget()!, { sshBinary: this.opts.sshBinary, connectTimeoutMs: this.opts.connectTimeoutMs });
        this.starting = master;
        try {
          await master.start();
        } finally {
          this.starting = null;
        }
        if (gen !== this.generation || this.closed) {
          await master.stop();
          return;
        }
        this.master = master;
        master.onExit((why) => this.drop(gen, why));
        uri = '';
      } else {
        uri = this.target.uri;
      }
      // prove the daemon answers before calling the host connected (over ssh: through each socket
      // the master may forward, until one answers)
      const probe = new Virsh(() => uri, this.name, this.opts.virshBinary);
      this.probe = probe;
      const answers = async (): Promise<void> => {
        await probe.run(['version', '--daemon'], { timeoutMs: 20_000 });
      };
      if (master) {
        await master.forwardLibvirt(async (socket) => {
          uri = `qemu+unix:///system?socket=${socket}`;
          await answers();
        });
      } else {
        await answers();
      }
      if (gen !== this.generation || this.closed) return;
      this.effectiveUri = uri;
      this.startEventStream(gen, probe);
      this.connectedAt = Date.now();
      this.lastError = null;
      this.setState('connected', null);
    } catch (err) {
      let e = err instanceof FlotillaError ? err : new FlotillaError('DISCONNECTED', err instanceof Error ? err.message : String(err));
      // the way out is Flotilla's own: the key it offers, checked and trusted (host-keys.ts)
      if (failureOf(e) === 'host-key-unknown') {
        const t = this.sshTarget()!;
        e = new FlotillaError('UNAUTHORIZED', `the ssh host key of ${sshHostLabel(t)} is not in ${t.knownHosts ?? defaultKnownHosts()}: check the key it offers and trust it (Hosts, or \`flotilla host trust ${this.name}\`)`, e.details as never);
      }
      if (gen === this.generation && !this.closed) {
        await this.teardown();
        this.lastError = e;
        this.setState('failed', e.message);
        this.scheduleRetry();
      }
      throw e;
    }
  }

  private startEventStream(gen: number, virsh: Virsh): void {
    const child = virsh.spawn(['event', '--all', '--loop', '--timestamp']);
    this.events = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const lines = new LineSplitter({
      maxLineBytes: 8192,
      onLine: (line) => {
        const ev = parseEventLine(line);
        for (const cb of [...this.eventListeners]) cb(ev);
      },
      // an over-long line is dropped; the host reloads everything on an unparsed event
      onOversize: () => {
        for (const cb of [...this.eventListeners]) cb({ kind: 'unparsed' });
      },
    });
    child.stdout?.on('data', (d: Buffer) => lines.push(d));
    child.once('exit', (code, signal) => {
      const why = safeText(stderr.replace(/^error:\s*/gm, '').trim().split('\n').filter(Boolean).join('; '), 300);
      this.drop(gen, `the libvirt event stream ended (${signal ?? `exit ${code}`})${why ? `: ${why}` : ''}`);
    });
  }

  /** The connection broke: say so, clean up, and try again after the backoff delay. */
  private drop(gen: number, why: string): void {
    if (gen !== this.generation || this.closed || this.state === 'failed') return;
    this.generation++;
    void this.teardown();
    this.setState('failed', why);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    this.clearRetry();
    const delay = this.backoff.nextDelay(this.connectedAt ? Date.now() - this.connectedAt : 0);
    this.connectedAt = 0;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.start();
    }, delay);
    this.retryTimer.unref?.();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async teardown(): Promise<void> {
    this.effectiveUri = '';
    const ev = this.events;
    this.events = null;
    if (ev && ev.exitCode === null && ev.signalCode === null) ev.kill('SIGTERM');
    const m = this.master;
    this.master = null;
    if (m) await m.stop();
    await this.starting?.stop();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    this.clearRetry();
    await this.teardown();
    await Promise.all([this.virsh.settle(), this.probe?.settle()]);
    this.state = 'failed';
    this.reason = 'closed';
    this.stateListeners.clear();
    this.eventListeners.clear();
  }
}
