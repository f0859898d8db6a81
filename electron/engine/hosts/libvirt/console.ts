// A libvirt domain's console: libvirt's own console stream (`virsh console`), which insists on
// a terminal, run under a pty made by util-linux `script` (issue 13: an established tool, no
// home-made pty, no native module). Bytes from the guest go to subscribers and a scrollback
// ring as data only; they never reach a shell here.
//
// `script -c` takes one command string, which /bin/sh parses. Every word in it is ours and
// checked: the virsh binary, the connection URI Flotilla built (a fixed scheme plus a socket path
// in its own private dir) and the domain's UUID; each is single-quoted besides.
import { spawn, type ChildProcess } from 'node:child_process';
import { FlotillaError } from '../../../../shared/errors';
import { ByteRing } from '../../byte-ring';
import { diesWithEngine } from '../../dies-with-engine';

const SAFE_WORD = /^[A-Za-z0-9+:/?=._,@-]{1,512}$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function consoleCommand(virsh: string, uri: string, uuid: string): string {
  for (const w of [virsh, uri]) if (!SAFE_WORD.test(w)) throw new FlotillaError('INTERNAL', `refusing an unsafe word for the console command: ${JSON.stringify(w)}`);
  if (!UUID_RE.test(uuid)) throw new FlotillaError('INTERNAL', 'bad domain uuid');
  return [virsh, '--quiet', '--connect', uri, 'console', '--force', uuid].map((w) => `'${w}'`).join(' ');
}

export class DomainConsole {
  private child: ChildProcess | null = null;
  private readonly ring = new ByteRing(256 * 1024);
  private readonly subs = new Map<string, (data: string) => void>();
  private decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    private readonly uri: () => string,
    private readonly uuid: string,
    private readonly virshBinary = 'virsh',
  ) {}

  get connected(): boolean {
    return this.child !== null;
  }

  /** Attaches if not attached (the domain must be running); no-op otherwise. */
  attach(): void {
    if (this.child) return;
    let cmd: string;
    try {
      cmd = consoleCommand(this.virshBinary, this.uri(), this.uuid);
    } catch {
      return; // host unreachable: the next attach (on connect/start) tries again
    }
    // script: -q quiet, -f flush each write, -e child's exit code, output typescript to /dev/null
    // dies with the engine (dies-with-engine.ts): a console session left behind holds the domain's console
    const [bin, argv] = diesWithEngine('script', ['-q', '-f', '-e', '-c', cmd, '/dev/null']);
    const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, LC_ALL: 'C', TERM: 'xterm-256color' } });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => {
      this.ring.push(d);
      const text = this.decoder.decode(d, { stream: true });
      if (text) for (const cb of [...this.subs.values()]) cb(text);
    });
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
  }

  detach(): void {
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
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
