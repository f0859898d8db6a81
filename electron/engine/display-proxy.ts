// One loopback WebSocket server, started lazily, that bridges noVNC to each VM's VNC unix
// socket (`-vnc unix:…`). Access is by single-use tickets that expire after 60 s; a bad,
// reused or expired ticket is refused with a plain HTTP 403 before any upgrade.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { FlotillaError } from '../../shared/errors';

export const TICKET_TTL_MS = 60_000;

/** A VNC unix socket path, or a TCP port on 127.0.0.1 (never another address). */
export type VncTarget = string | { port: number };

interface Ticket {
  vmId: string;
  expires: number;
}

export class DisplayProxy {
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private port = 0;
  private starting: Promise<void> | null = null;
  private readonly tickets = new Map<string, Ticket>();
  private readonly live = new Set<WebSocket>();

  constructor(
    /**
     * the VM's VNC unix socket, or null if it has no running display. A libvirt host's domain may
     * instead have VNC on its host's loopback TCP port (hosts/libvirt/libvirt-vm.ts).
     */
    private readonly vncSocketOf: (vmId: string) => VncTarget | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** A single-use URL for noVNC. Starts the server on first use. */
  async open(vmId: string): Promise<string> {
    if (!this.vncSocketOf(vmId)) throw new FlotillaError('INVALID_STATE', 'the VM has no running display');
    await this.ensureServer();
    this.expireTickets();
    const ticket = randomBytes(24).toString('hex');
    this.tickets.set(ticket, { vmId, expires: this.now() + TICKET_TTL_MS });
    return `ws://127.0.0.1:${this.port}/vnc/${vmId}?ticket=${ticket}`;
  }

  async close(): Promise<void> {
    for (const ws of this.live) ws.terminate();
    this.live.clear();
    this.tickets.clear();
    this.wss?.close();
    const srv = this.server;
    this.server = null;
    this.wss = null;
    this.starting = null;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }

  private ensureServer(): Promise<void> {
    this.starting ??= new Promise<void>((resolve, reject) => {
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: 4 << 20,
        // noVNC asks for 'binary' on some versions; echo it back if offered
        handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
      });
      const srv = createServer((_req, res) => {
        res.writeHead(404).end();
      });
      srv.on('upgrade', (req, socket, head) => this.onUpgrade(wss, req, socket, head));
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        this.port = typeof addr === 'object' && addr ? addr.port : 0;
        this.server = srv;
        this.wss = wss;
        srv.unref();
        resolve();
      });
    });
    return this.starting;
  }

  private onUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (why: string): void => {
      socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${why}\n`);
      socket.destroy();
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      return refuse('bad url');
    }
    const m = /^\/vnc\/([a-z0-9]{8,32})$/.exec(url.pathname);
    const ticketId = url.searchParams.get('ticket') ?? '';
    const ticket = this.tickets.get(ticketId);
    // single use: a ticket is consumed by the first attempt, good or bad
    if (ticket) this.tickets.delete(ticketId);
    if (!m || !ticket || ticket.vmId !== m[1] || ticket.expires < this.now()) return refuse('invalid or expired ticket');
    const vnc = this.vncSocketOf(ticket.vmId);
    if (!vnc) return refuse('display not running');
    wss.handleUpgrade(req, socket, head, (ws) => this.bridge(ws, vnc));
  }

  private bridge(ws: WebSocket, vnc: VncTarget): void {
    this.live.add(ws);
    const tcp = typeof vnc === 'string' ? connect(vnc) : connect(vnc.port, '127.0.0.1');
    const end = (): void => {
      this.live.delete(ws);
      tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    tcp.on('data', (buf) => {
      if (ws.readyState === ws.OPEN) ws.send(buf, { binary: true });
    });
    tcp.on('error', end);
    tcp.on('close', end);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      tcp.write(buf);
    });
    ws.on('close', end);
    ws.on('error', end);
  }

  private expireTickets(): void {
    const t = this.now();
    for (const [k, v] of this.tickets) if (v.expires < t) this.tickets.delete(k);
  }
}
