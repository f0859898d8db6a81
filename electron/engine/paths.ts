// Where Flotilla keeps its data: the data directory ($FLOTILLA_HOME) and the fixed layout inside it.
// Every path the engine uses comes from HomeLayout, so tests can point the whole engine at a temp dir.
import { chmod, lstat, mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import { VM_ID_RE } from '../../shared/contract-names';

/** file name of the UART socket in a VM's run dir (qemu-args derives it from the serial socket's dir) */
export const UART_SOCK = 'uart.sock';

/** sun_path is 108 bytes including the NUL; leave a margin. */
export const MAX_SOCKET_PATH_BYTES = 104;

export function flotillaHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FLOTILLA_HOME) return env.FLOTILLA_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'flotilla');
  return join(env.HOME || homedir(), '.local', 'share', 'flotilla');
}

/** Ids become path components: refuse anything that is not a plain id (no `..`, no `/`). */
function checkedId(id: string): string {
  if (!VM_ID_RE.test(id)) throw new FlotillaError('BAD_REQUEST', `malformed VM id: ${JSON.stringify(id)}`);
  return id;
}

export class HomeLayout {
  readonly vmsDir: string;
  readonly runRoot: string;
  readonly engineSock: string;
  readonly portsFile: string;
  readonly imagesDir: string;
  readonly defaultImageDir: string;
  readonly cacheDir: string;
  /** records of temp files made outside the data directory (an export's partial archive), swept at engine start */
  readonly tempJournalDir: string;

  constructor(readonly home: string) {
    this.vmsDir = join(home, 'vms');
    this.runRoot = join(home, 'run');
    this.engineSock = join(this.runRoot, 'engine.sock');
    this.portsFile = join(home, 'ports.json');
    this.imagesDir = join(home, 'images');
    this.defaultImageDir = join(this.imagesDir, 'default');
    this.cacheDir = join(home, 'cache');
    this.tempJournalDir = join(home, 'partials');
  }

  vmDir(id: string): string {
    return join(this.vmsDir, checkedId(id));
  }
  vmSpecFile(id: string): string {
    return join(this.vmDir(id), 'vm.json');
  }
  vmLogsDir(id: string): string {
    return join(this.vmDir(id), 'logs');
  }
  runDir(id: string): string {
    return join(this.runRoot, checkedId(id));
  }
  qmpSock(id: string): string {
    return join(this.runDir(id), 'qmp.sock');
  }
  serialSock(id: string): string {
    return join(this.runDir(id), 'ser.sock');
  }
  agentSock(id: string): string {
    return join(this.runDir(id), 'qga.sock');
  }
  /** the UART (ttyS0) of a guest whose console is a virtio port: kernel messages and a second shell */
  uartSock(id: string): string {
    return join(this.runDir(id), UART_SOCK);
  }
  vncSock(id: string): string {
    return join(this.runDir(id), 'vnc.sock');
  }
  pidFile(id: string): string {
    return join(this.runDir(id), 'qemu.pid');
  }

  /** Every unix socket QEMU makes in a VM's run dir: the one list the length check, the 0600 fix and the clean-up use. */
  runSockets(id: string): string[] {
    return [this.qmpSock(id), this.serialSock(id), this.agentSock(id), this.vncSock(id), this.uartSock(id)];
  }

  /** Creates run/ and run/<id>/ as 0700 (chmod too: mkdir's mode is filtered by the umask). */
  async ensureRunDir(id: string): Promise<string> {
    const dir = this.runDir(id);
    const longest = this.runSockets(id).reduce((a, b) =>
      Buffer.byteLength(a) >= Buffer.byteLength(b) ? a : b,
    );
    if (Buffer.byteLength(longest) > MAX_SOCKET_PATH_BYTES) {
      throw new FlotillaError(
        'BAD_REQUEST',
        `data directory path is too long for unix sockets (${longest} exceeds ${MAX_SOCKET_PATH_BYTES} bytes); set FLOTILLA_HOME to a shorter path`,
      );
    }
    for (const d of [this.home, this.runRoot, dir]) {
      await mkdir(d, { recursive: true, mode: 0o700 });
    }
    await chmod(this.runRoot, 0o700);
    await chmod(dir, 0o700);
    return dir;
  }

  /**
   * QEMU creates its unix sockets with its umask (usually 0755); there is no chardev option for
   * the mode. The 0700 run dir already keeps other users out; this makes the sockets 0600 as
   * well. Call it once QMP answers. Returns the sockets it fixed.
   */
  async restrictSockets(id: string): Promise<string[]> {
    const fixed: string[] = [];
    for (const sock of this.runSockets(id)) {
      const st = await lstat(sock).catch(() => undefined);
      if (!st?.isSocket()) continue;
      if ((st.mode & 0o777) !== 0o600) {
        await chmod(sock, 0o600);
        fixed.push(sock);
      }
    }
    return fixed;
  }
}

/**
 * Refuse a data directory (or its run/ dir) that another user owns or that others may write
 * to (issue 11 defect 9): whoever can write there can plant an engine.sock that the CLI would
 * trust, swap a vm.json, or read the VMs' consoles. Missing directories are fine (they are
 * created 0700). The message says what to fix.
 */
export async function assertSafeHome(layout: HomeLayout, uid: number | null = typeof process.getuid === 'function' ? process.getuid() : null): Promise<void> {
  if (uid === null) return;
  for (const [dir, what] of [
    [layout.home, 'the data directory'],
    [layout.runRoot, 'its run directory'],
  ] as const) {
    const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw new FlotillaError('BAD_REQUEST', `cannot check ${what} ${dir}: ${err.message}`);
    });
    if (!st) continue;
    if (!st.isDirectory()) throw new FlotillaError('BAD_REQUEST', `${what} ${dir} is not a directory; set FLOTILLA_HOME to a directory of your own`, { path: dir });
    if (st.uid !== uid) {
      throw new FlotillaError(
        'BAD_REQUEST',
        `${what} ${dir} belongs to another user (uid ${st.uid}, you are uid ${uid}); use a directory of your own (set FLOTILLA_HOME) or take it over with \`chown -R ${uid} ${dir}\``,
        { path: dir, owner: st.uid },
      );
    }
    if ((st.mode & 0o022) !== 0) {
      throw new FlotillaError(
        'BAD_REQUEST',
        `${what} ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}); run \`chmod 700 ${dir}\``,
        { path: dir, mode: st.mode & 0o777 },
      );
    }
  }
}
