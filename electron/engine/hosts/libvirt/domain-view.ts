// What a user sees of one libvirt domain: its console stream (console.ts), thumbnails of its
// screen (libvirt's screenshot API) and the VNC endpoint the noVNC proxy connects to. The console's
// scrollback is also kept on this computer (`libvirt/<host>/<vm id>/console.log`, 0600, capped),
// as a local VM's serial log is: an engine started later shows the tile's last screen at once,
// where it would otherwise wait, blank, for the guest's next output.
import { join } from 'node:path';
import { FlotillaError } from '../../../../shared/errors';
import type { VmState } from '../../../../shared/state';
import type { VncTarget } from '../../display-proxy';
import { Thumbnailer } from '../../thumbnails';
import { DomainConsole } from './console';
import type { LibvirtHost } from './libvirt-host';
import { screenshot } from './domain-ops';
import { screenshotToPng } from './ppm-to-png';
import { libvirtStateDir } from './state-dir';
import { parseVncDisplay, uuidToId } from './virsh-parse';

export class DomainView {
  private consoleStream: DomainConsole | null = null;
  private thumbs: Thumbnailer | null = null;
  /** forwarded VNC socket of a remote domain, by remote port */
  private vncForward: { port: number; socket: string } | null = null;
  /** what the display proxy connects to, once displayUrl() resolved it */
  vncTarget: VncTarget | null = null;

  constructor(
    private readonly host: LibvirtHost,
    private readonly uuid: string,
    private readonly state: () => VmState,
    private readonly virshBinary?: string,
  ) {}

  /** The console stream, made (and attached while the domain runs) on first use. */
  console(): DomainConsole {
    this.consoleStream ??= new DomainConsole(() => this.host.conn.virsh.currentUri(), this.uuid, this.virshBinary, join(libvirtStateDir(this.host.opts.home, this.host.id, uuidToId(this.uuid)), 'console.log'));
    const st = this.state();
    if (st === 'running' || st === 'paused') this.consoleStream.attach();
    return this.consoleStream;
  }

  /** The console, if one was opened: for the calls that must not make one. */
  get openConsole(): DomainConsole | null {
    return this.consoleStream;
  }

  onState(state: VmState): void {
    if (state !== 'running' && state !== 'paused') {
      this.vncForward = null;
      this.vncTarget = null;
    }
    // a console once opened stays attached while the domain runs: the built-in guest's console
    // port waits for a reader rather than dropping, so a reader that left would stall the shell
    if (state === 'running') this.consoleStream?.attach();
  }

  /** The domain is gone from this engine (undefined, or the host is closing). */
  close(): void {
    this.consoleStream?.close();
    this.thumbs?.close();
  }

  /** Thumbnails of the display from libvirt's screenshot API, taken only while someone watches. */
  thumbnailSubscribe(key: string, cb: (pngBase64: string) => void): string | null {
    this.thumbs ??= new Thumbnailer(async () => {
      const st = this.state();
      if (st !== 'running' && st !== 'paused') return null;
      return screenshotToPng(await screenshot(this.host.conn.virsh, this.uuid));
    });
    return this.thumbs.subscribe(key, cb);
  }

  thumbnailUnsubscribe(key: string): void {
    this.thumbs?.unsubscribe(key);
  }

  /**
   * Where the noVNC proxy connects: the domain's VNC port on the host's loopback directly for a
   * local host, or a unix socket forwarded over the host's ssh connection for a remote one.
   */
  async vncEndpoint(): Promise<VncTarget> {
    const st = this.state();
    if (st !== 'running' && st !== 'paused') throw new FlotillaError('INVALID_STATE', 'the VM has no running display');
    const r = await this.host.conn.virsh.run(['domdisplay', '--domain', this.uuid, '--type', 'vnc']);
    const vnc = parseVncDisplay(r.stdout);
    if (!vnc) throw new FlotillaError('UNSUPPORTED', "this domain has no VNC display on its host's loopback", { host: this.host.id });
    const master = this.host.conn.master;
    if (!master) {
      this.vncTarget = { port: vnc.port };
      return this.vncTarget;
    }
    if (this.vncForward?.port !== vnc.port) {
      const socket = master.socketPath(`vnc-${this.uuid.slice(0, 8)}-${vnc.port}.sock`);
      await master.forward(socket, `127.0.0.1:${vnc.port}`);
      this.vncForward = { port: vnc.port, socket };
    }
    this.vncTarget = this.vncForward!.socket;
    return this.vncTarget;
  }
}
