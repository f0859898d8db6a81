// One multiplexed OpenSSH connection per remote libvirt host (issue 13: no ssh handshake per call).
//
// The master is Flotilla's own child (`ssh -M -N`, ControlPath in a private 0700 dir): its exit
// is how a dropped connection is noticed, and stopping the host ends it. Through it, libvirt's
// daemon socket on the host is forwarded to a local unix socket in the same dir (`-O forward
// -L local.sock:/var/run/libvirt/libvirt-sock`), and every virsh call, the event stream and
// every console stream connect to `qemu+unix:///system?socket=<that socket>`.
//
// Why not libvirt's own qemu+ssh transport: libvirt 9.0's ssh transport ignores the URI's
// known_hosts (only its libssh transport reads it, and libssh has no ControlMaster), cannot be
// given ControlPath without a `command=` wrapper, and starts a remote virt-ssh-helper per call.
// Measured on this machine (loopback sshd, `virsh list --all`): qemu+ssh ≈ 400 ms a call,
// qemu+ssh through the master via a command wrapper ≈ 190 ms, the forwarded socket ≈ 17 ms,
// local qemu:///system ≈ 25 ms. ControlPersist is not needed: the master lives as long as the host
// is connected because it is our child, not because of a timer.
//
// Host keys: StrictHostKeyChecking=yes against the user's known_hosts (or the URI's
// known_hosts); an unknown key is refused with the command that accepts it. Auth: keys or the
// user's agent only (BatchMode=yes: never a password prompt).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { access, constants as fsConstants, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlotillaError, type HostFailure } from '../../../../shared/errors';
import { sshOptionValue } from '../../../../shared/ssh-command';
import { diesWithEngine } from '../../dies-with-engine';
import { sshHostLabel } from './uri';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** private key file (from --identity or the URI's keyfile); else ssh's defaults and the agent */
  identity?: string;
  /** known_hosts file; default ~/.ssh/known_hosts */
  knownHosts?: string;
}

/** Remote libvirt daemon sockets for qemu:///system, monolithic daemon first (Debian 12's default). */
const REMOTE_SOCKETS = ['/var/run/libvirt/libvirt-sock', '/var/run/libvirt/virtqemud-sock'];

export function defaultKnownHosts(): string {
  return join(process.env.HOME || homedir(), '.ssh', 'known_hosts');
}

/** ssh options every invocation (master and control commands) shares. */
export function sshBaseArgs(t: SshTarget, controlPath: string): string[] {
  return [
    '-p', String(t.port),
    '-l', t.user,
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    // ssh splits this option's value at spaces (it takes several files): a path with one is quoted
    '-o', `UserKnownHostsFile=${sshOptionValue(t.knownHosts ?? defaultKnownHosts())}`,
    '-o', `ControlPath=${sshOptionValue(controlPath)}`,
    ...(t.identity ? ['-o', 'IdentitiesOnly=yes', '-i', t.identity] : []),
  ];
}

/** Why an attempt on a host failed, as the code its error carries (`classifySshFailure` and others set it). */
export function failureOf(err: unknown): HostFailure | undefined {
  return err instanceof FlotillaError ? (err.details as { reason?: HostFailure } | undefined)?.reason : undefined;
}

/** Turns ssh's stderr into an error that says what to fix. */
export function classifySshFailure(t: SshTarget, stderr: string): FlotillaError {
  const label = sshHostLabel(t);
  const kh = t.knownHosts ?? defaultKnownHosts();
  const text = stderr.trim().split('\n').filter((l) => !/^\s*$/.test(l)).slice(-6).join('\n');
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(stderr)) {
    return new FlotillaError('UNAUTHORIZED', `the ssh host key of ${label} has CHANGED from the one in ${kh}; if the host was reinstalled, remove the old key with \`ssh-keygen -R '${label}' -f ${kh}\` and accept the new one after checking its fingerprint`, { reason: 'host-key-changed', host: label });
  }
  if (/Host key verification failed|No .* host key is known/i.test(stderr)) {
    const scan = `ssh-keyscan${t.port === 22 ? '' : ` -p ${t.port}`} ${t.host} >> ${kh}`;
    return new FlotillaError('UNAUTHORIZED', `the ssh host key of ${label} is not in ${kh}: check the host's fingerprint, then accept it with \`${scan}\` (or connect once with \`ssh${t.port === 22 ? '' : ` -p ${t.port}`} ${t.user}@${t.host}\`) and retry`, { reason: 'host-key-unknown', host: label });
  }
  if (/Permission denied|Too many authentication failures|invalid format|bad permissions/i.test(stderr)) {
    return new FlotillaError('UNAUTHORIZED', `ssh to ${t.user}@${label} refused the key${t.identity ? ` ${t.identity}` : 's offered by ssh and the agent'}: authorize its public key for ${t.user} on the host, or pass the right one with --identity KEYFILE (Flotilla never uses passwords)${text ? `\nssh said: ${text}` : ''}`, { reason: 'auth-failed', host: label });
  }
  return new FlotillaError('DISCONNECTED', `cannot reach ${t.user}@${label} over ssh${text ? `: ${text}` : ''}`, { reason: 'unreachable', host: label });
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 255) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface SshMasterOptions {
  sshBinary?: string;
  connectTimeoutMs?: number;
  /** where the private dir goes (default os.tmpdir(): short, for the 108-byte sun_path limit) */
  parentDir?: string;
}

export class SshMaster {
  private dir: string | null = null;
  private child: ChildProcess | null = null;
  private exitListeners = new Set<(reason: string) => void>();
  private stopped = false;
  private readonly ssh: string;
  private readonly timeoutMs: number;
  /** local end of the forwarded libvirt socket */
  libvirtSocket = '';

  constructor(
    readonly target: SshTarget,
    private readonly opts: SshMasterOptions = {},
  ) {
    this.ssh = opts.sshBinary ?? 'ssh';
    this.timeoutMs = opts.connectTimeoutMs ?? 20_000;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get controlPath(): string {
    if (!this.dir) throw new FlotillaError('INTERNAL', 'ssh master not started');
    return join(this.dir, 'ctl');
  }

  /** Called once when the master exits after it was up (not on a failed start). */
  onExit(cb: (reason: string) => void): () => void {
    this.exitListeners.add(cb);
    return () => this.exitListeners.delete(cb);
  }

  /** Connects and verifies the host key and auth (forwardLibvirt then reaches the daemon). Throws a classified error. */
  async start(): Promise<void> {
    if (this.target.identity) {
      await access(this.target.identity, fsConstants.R_OK).catch(() => {
        throw new FlotillaError('FILE_NOT_FOUND', `ssh key file ${this.target.identity} does not exist or is not readable`, { path: this.target.identity!, field: 'identity' });
      });
    }
    const parent = this.opts.parentDir ?? tmpdir();
    sweptOnce ??= sweepStaleMasterDirs(parent).catch(() => 0);
    this.dir = await mkdtemp(join(parent, 'flt-ssh-')); // mkdtemp makes it 0700
    if (this.stopped) {
      await this.cleanupDir();
      throw new FlotillaError('DISCONNECTED', 'the connection was closed while it was being made');
    }
    const base = sshBaseArgs(this.target, this.controlPath);
    // dies with the engine (dies-with-engine.ts): the next engine makes its own master
    const [bin, argv] = diesWithEngine(this.ssh, [...base, '-M', '-N', '-o', 'ControlMaster=yes', '-o', 'ControlPersist=no', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-o', 'ExitOnForwardFailure=yes', '-o', `ConnectTimeout=${Math.ceil(this.timeoutMs / 1000)}`, '--', this.target.host]);
    const child = spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (stderr.length < 16_384) stderr += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let up = false;
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (up) for (const cb of [...this.exitListeners]) cb(`the ssh connection ended (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`);
    });
    const deadline = Date.now() + this.timeoutMs;
    // wait until the master answers on its control socket, or exits (auth/host-key failure)
    for (;;) {
      const check = await Promise.race([run(this.ssh, [...base, '-O', 'check', '--', this.target.host], 5000), exited.then(() => null)]);
      if (check === null || this.child !== child) {
        await this.cleanupDir();
        throw classifySshFailure(this.target, stderr);
      }
      if (check.code === 0) break;
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        await this.cleanupDir();
        throw new FlotillaError('TIMEOUT', `ssh to ${this.target.user}@${sshHostLabel(this.target)} did not connect within ${this.timeoutMs} ms`, { reason: 'unreachable' });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    up = true;
  }

  /**
   * Forwards libvirt's daemon socket on the host to `libvirt.sock` in the private dir: the first of
   * REMOTE_SOCKETS through which `answers` (a virsh call) succeeds. No remote command runs for it:
   * a session per connect costs the host a login shell's start-up (1.7 s on the loopback host, most
   * of a one-shot CLI command's connect). Stops the master when none answers.
   */
  async forwardLibvirt(answers: (socket: string) => Promise<void>): Promise<void> {
    const local = join(this.dir!, 'libvirt.sock');
    let first: unknown = null;
    try {
      for (const remote of REMOTE_SOCKETS) {
        await this.forward(local, remote);
        try {
          await answers(local);
          this.libvirtSocket = local;
          return;
        } catch (err) {
          first ??= err;
          await this.cancelForward(local, remote);
        }
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    await this.stop();
    const why = first instanceof Error ? ` (${first.message.split('\n')[0]})` : '';
    throw new FlotillaError('DISCONNECTED', `no libvirt daemon answers on ${sshHostLabel(this.target)} (tried ${REMOTE_SOCKETS.join(', ')}): is libvirt installed and running there?${why}`, { reason: 'no-libvirtd' });
  }

  /** Forwards a local unix socket (in the private dir) to a remote socket path or host:port, over the master. */
  async forward(localSocket: string, remote: string): Promise<void> {
    const r = await run(this.ssh, [...sshBaseArgs(this.target, this.controlPath), '-O', 'forward', '-L', `${localSocket}:${remote}`, '--', this.target.host], 15_000);
    if (r.code !== 0) throw new FlotillaError('DISCONNECTED', `ssh could not forward ${remote} from ${sshHostLabel(this.target)}: ${r.stderr.trim()}`);
  }

  async cancelForward(localSocket: string, remote: string): Promise<void> {
    await run(this.ssh, [...sshBaseArgs(this.target, this.controlPath), '-O', 'cancel', '-L', `${localSocket}:${remote}`, '--', this.target.host], 5000);
    await rm(localSocket, { force: true });
  }

  /** A path for a new forwarded socket inside the private dir. */
  socketPath(name: string): string {
    if (!/^[a-z0-9.-]{1,40}$/.test(name)) throw new FlotillaError('INTERNAL', `bad socket name ${name}`);
    return join(this.dir ?? '/nonexistent', name);
  }

  async stop(): Promise<void> {
    // also while start() is under way: it checks this after each step, so no ssh outlives us
    this.stopped = true;
    const child = this.child;
    this.child = null;
    this.exitListeners.clear();
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await this.cleanupDir();
  }

  private async cleanupDir(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = null;
  }
}

let sweptOnce: Promise<number> | null = null;

/** How old a master's directory must be before a sweep may take it (one being made has no socket yet). */
const SWEEP_MIN_AGE_MS = 10 * 60_000;

/**
 * Removes the directories of ssh masters that died without cleaning up: an engine killed with -9
 * (its master dies with it) leaves its flt-ssh-* directory, dead sockets only, in /tmp. One is
 * taken only when it is this user's, older than SWEEP_MIN_AGE_MS, and its control socket refuses
 * a connection (no master listens there: a live one, another engine's, answers). Once per process,
 * at the first connect. Returns how many were removed.
 */
export async function sweepStaleMasterDirs(parent: string, minAgeMs = SWEEP_MIN_AGE_MS): Promise<number> {
  const uid = process.getuid?.() ?? -1;
  let removed = 0;
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    if (!name.startsWith('flt-ssh-')) continue;
    const dir = join(parent, name);
    const st = await lstat(dir).catch(() => null);
    if (!st?.isDirectory() || st.uid !== uid || Date.now() - st.mtimeMs < minAgeMs) continue;
    if (await answers(join(dir, 'ctl'))) continue;
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/** Whether something listens on the unix socket at path. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}
