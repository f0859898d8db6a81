// A libvirt domain's console, through libvirt's own stream API: the helper in console-stream.ts
// (libvirt's Python binding) opens the built-in guest's console port, a virtio-serial channel
// that QEMU throttles rather than drops, or any other domain's console device. Bytes from the
// guest go to subscribers and a scrollback ring as data only; they never reach a shell here.
//
// Without the binding (python3-libvirt) the console falls back to `virsh console` (a domain's
// console device only) under a pty from util-linux `script`, which insists on a terminal; the
// console says so, and what to install. `script -c` takes one command string, which /bin/sh
// parses. Every word in it is ours and checked: the virsh binary, the connection URI Flotilla built
// (a fixed scheme plus a socket path in its own private dir) and the domain's UUID; each is
// single-quoted besides.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { FlotillaError } from '../../../../shared/errors';
import { ByteRing } from '../../byte-ring';
import { CappedLog } from '../../capped-log';
import { diesWithEngine } from '../../dies-with-engine';
import { CONSOLE_PORT_NAME } from '../../qemu-args';
import { CONSOLE_STREAM_PY, HELPER_LIBVIRT_ERROR, HELPER_NO_BINDING } from './console-stream';

const SAFE_WORD = /^[A-Za-z0-9+:/?=._,@-]{1,512}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function consoleCommand(virsh: string, uri: string, uuid: string): string {
  for (const w of [virsh, uri]) if (!SAFE_WORD.test(w)) throw new FlotillaError('INTERNAL', `refusing an unsafe word for the console command: ${JSON.stringify(w)}`);
  if (!UUID_RE.test(uuid)) throw new FlotillaError('INTERNAL', 'bad domain uuid');
  return [virsh, '--quiet', '--connect', uri, 'console', '--force', uuid].map((w) => `'${w}'`).join(' ');
}

/**
 * The Python that has libvirt's binding: FLOTILLA_LIBVIRT_PYTHON, else Debian's own interpreter
 * (python3-libvirt installs for it; a python3 earlier on PATH, pyenv's say, lacks it), else python3.
 */
export function libvirtPython(): string {
  return process.env.FLOTILLA_LIBVIRT_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** Set once a helper found no binding (or no Python): later consoles go to virsh at once. */
let bindingMissing = false;

export const NO_BINDING_NOTE =
  "\r\n[flotilla: libvirt's Python binding is not installed on this computer, so this console goes through `virsh console`, which reaches only a console device and drops what it cannot pass on at once. Install python3-libvirt (Debian, Ubuntu) or python3-libvirt / libvirt-python (Fedora) and open the console again.]\r\n";

export type ConsoleKind = 'port' | 'console' | 'virsh';

/**
 * The line a terminal shows when the console helper was refused, from libvirt's last error line
 * (host text: control characters go). A domain without a serial port or console (one defined by
 * hand with none) is said in words, not as libvirt's "cannot find character device <null>".
 */
export function consoleRefusal(libvirtError: string): string {
  if (!libvirtError) return '';
  if (/cannot find (character|console) device/i.test(libvirtError)) return 'this domain has no serial port or console to show here (add one to its XML, e.g. with virt-manager)';
  // eslint-disable-next-line no-control-regex
  return `the console did not attach: ${libvirtError.replace(/[\u0000-\u001f\u007f]/g, ' ')}`;
}

const SCROLLBACK_BYTES = 256 * 1024;

export class DomainConsole {
  private child: ChildProcess | null = null;
  private readonly ring = new ByteRing(SCROLLBACK_BYTES);
  /** the scrollback on this computer's disk, when given a file: an engine started later begins with it */
  private readonly log: CappedLog | null;
  private readonly subs = new Map<string, (data: string) => void>();
  private decoder = new TextDecoder('utf-8', { fatal: false });
  /** what the current helper attached to: the console port (lossless), a console device, or virsh */
  kind: ConsoleKind | null = null;

  constructor(
    private readonly uri: () => string,
    private readonly uuid: string,
    private readonly virshBinary = 'virsh',
    logFile?: string,
  ) {
    // two files of up to the scrollback's size: the live one always holds a full screen's worth
    this.log = logFile ? new CappedLog(logFile, { maxBytes: SCROLLBACK_BYTES, keep: 1 }) : null;
    const before = this.log?.tailFromLineStart(SCROLLBACK_BYTES);
    if (before?.length) this.ring.push(before);
  }

  get connected(): boolean {
    return this.child !== null;
  }

  /** Attaches if not attached (the domain must be running); no-op otherwise. */
  attach(): void {
    if (this.child) return;
    let uri: string;
    try {
      uri = this.uri();
      if (!SAFE_WORD.test(uri) || !UUID_RE.test(this.uuid)) throw new FlotillaError('INTERNAL', 'refusing an unsafe console URI or UUID');
    } catch {
      return; // host unreachable: the next attach (on connect/start) tries again
    }
    if (bindingMissing) return this.attachVirsh(uri);
    // dies with the engine (dies-with-engine.ts): a console session left behind holds the domain's console
    const [bin, argv] = diesWithEngine(libvirtPython(), ['-c', CONSOLE_STREAM_PY, uri, this.uuid, CONSOLE_PORT_NAME]);
    const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let errText = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      errText = (errText + d).slice(-4096);
      const m = /^attached (port|console)$/m.exec(errText);
      if (m && this.child === child) this.kind = m[1] as ConsoleKind;
    });
    const missing = () => {
      if (this.child !== child) return;
      this.child = null;
      bindingMissing = true;
      this.emit(Buffer.from(NO_BINDING_NOTE));
      this.attachVirsh(uri);
    };
    // before adopt()'s own exit listener, which lets go of the child
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') missing();
    });
    child.once('exit', (code) => {
      // no binding, or (under setpriv, which execs it) no such Python: 127
      if (code === HELPER_NO_BINDING || code === 127) return missing();
      if (code === HELPER_LIBVIRT_ERROR && this.child === child && this.kind === null) {
        // refused before it attached (the domain stopped meanwhile, the host went away): one line
        // in the terminal; the next start or reconnect attaches again
        const why = consoleRefusal(errText.trim().split('\n').pop() ?? '');
        if (why) this.emit(Buffer.from(`\r\n[flotilla: ${why}]\r\n`));
      }
    });
    this.adopt(child);
  }

  private attachVirsh(uri: string): void {
    const cmd = consoleCommand(this.virshBinary, uri, this.uuid);
    // script: -q quiet, -f flush each write, -e child's exit code, output typescript to /dev/null
    const [bin, argv] = diesWithEngine('script', ['-q', '-f', '-e', '-c', cmd, '/dev/null']);
    this.adopt(spawn(bin, argv, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C', TERM: 'xterm-256color' } }));
    this.kind = 'virsh';
  }

  private adopt(child: ChildProcess): void {
    this.child = child;
    this.kind = null;
    child.stdout?.on('data', (d: Buffer) => {
      if (this.child === child) this.emit(d);
    });
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
  }

  private emit(d: Buffer): void {
    this.ring.push(d);
    this.log?.write(d);
    const text = this.decoder.decode(d, { stream: true });
    if (text) for (const cb of [...this.subs.values()]) cb(text);
  }

  detach(): void {
    const c = this.child;
    this.child = null;
    this.kind = null;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }

  /** Detached for good (the domain is gone from this engine): the log's file is closed. */
  close(): void {
    this.detach();
    void this.log?.close();
  }

  subscribe(key: string, cb: (data: string) => void): string {
    this.subs.set(key, cb);
    return new TextDecoder('utf-8', { fatal: false }).decode(this.ring.snapshot());
  }

  unsubscribe(key: string): void {
    this.subs.delete(key);
  }

  get subscribers(): number {
    return this.subs.size;
  }

  input(data: string): boolean {
    const c = this.child;
    if (!c?.stdin || c.stdin.destroyed) return false;
    c.stdin.write(data);
    return true;
  }
}

/** For tests: forget that the binding was missing. */
export function resetBindingCheck(): void {
  bindingMissing = false;
}
