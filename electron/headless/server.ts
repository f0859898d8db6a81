// Headless mode: the built renderer over HTTP plus the contract over a WebSocket at /api, so
// a browser gets the same app as the Electron window. Every connection is one rpc client
// (serveChannel), so console and thumbnail subscriptions work as over IPC.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ContractHandler } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { MAX_FRAME_BYTES, serveChannel, type TextChannel } from '../../shared/rpc';
import { RENDERER_CSP, cacheControlFor, contentTypeFor, resolveStatic } from './static-files';
import { TOKEN_CHECK_PATH } from '../../shared/ws-protocol';
import { WS_PROTOCOL, allowedHostHeaders, checkUpgrade, isLoopbackHost, tokenCheckStatus } from './ws-auth';

export interface HeadlessOptions {
  handler: ContractHandler;
  port?: number;
  host?: string;
  allowNonLoopback?: boolean;
  rendererDir: string;
  log?: (line: string) => void;
  /** the token pages must present (serve-token.ts keeps serve's); a fresh random one when absent */
  token?: string;
}

export interface HeadlessServer {
  url: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

/** A browser that stops reading is cut off (it reconnects and refetches) rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 32 << 20;
const HEARTBEAT_MS = 30_000;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': RENDERER_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function refuse(socket: Duplex, status: number): void {
  const body = `${status} ${REASONS[status] ?? 'Refused'}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function wsChannel(ws: WebSocket): TextChannel {
  return {
    send(text) {
      if (ws.readyState !== ws.OPEN) throw new Error('socket not open');
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        ws.terminate();
        throw new Error('client too slow');
      }
      ws.send(text);
    },
    onMessage: (cb) => void ws.on('message', (data, isBinary) => (isBinary ? ws.close(1003, 'text frames only') : cb(data.toString()))),
    onClose: (cb) => void ws.on('close', cb),
    close: () => ws.close(),
  };
}

export async function startHeadless(opts: HeadlessOptions): Promise<HeadlessServer> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    if (!opts.allowNonLoopback) {
      throw new FlotillaError('BAD_REQUEST', `refusing to listen on ${host}: only loopback is allowed unless you pass --allow-remote`);
    }
    log(`WARNING: listening on ${host}, not loopback. Anyone who can reach this address and learns the token controls your VMs. Traffic is unencrypted.`);
  }
  const token = opts.token ?? randomBytes(32).toString('hex');
  let allowedHosts = new Set<string>();

  const serveFile = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('foreign Host\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if ((req.url ?? '').split('?')[0] === TOKEN_CHECK_PATH) {
      // how a page holding a token from an earlier run learns it is refused (and stops retrying)
      res.writeHead(tokenCheckStatus(req.headers, token), { 'Cache-Control': 'no-store', ...SECURITY_HEADERS }).end();
      return;
    }
    const file = await resolveStatic(opts.rendererDir, req.url ?? '/');
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain', ...SECURITY_HEADERS }).end('not found\n');
      return;
    }
    const headers = { 'Content-Type': contentTypeFor(file), 'Cache-Control': cacheControlFor(file), ...SECURITY_HEADERS };
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const server = createServer((req, res) => {
    serveFile(req, res).catch((err: unknown) => {
      log(`http: ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    // Answer with the plain protocol name; the token entry is never echoed back.
    handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
  });
  const alive = new WeakSet<WebSocket>();
  let nextClient = 1;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const verdict = checkUpgrade(req, allowedHosts, token);
    if (!verdict.ok) {
      log(`ws: refused ${(req.socket as Socket).remoteAddress ?? '?'}: ${verdict.reason}`);
      refuse(socket, verdict.status);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const clientId = `ws${nextClient++}`;
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      ws.on('error', (err) => log(`ws ${clientId}: ${err.message}`));
      serveChannel(opts.handler, wsChannel(ws), { clientId, onBadFrame: (why) => log(`ws ${clientId}: bad frame (${why})`) });
    });
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new FlotillaError('PORT_TAKEN', `port ${opts.port} on ${host} is in use: pick another with --port`, { hostPort: opts.port ?? 0, proto: 'tcp' })
          : new FlotillaError('INTERNAL', `could not listen on ${host}:${opts.port ?? 0}: ${err.message}`),
      ),
    );
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  allowedHosts = allowedHostHeaders(host, port);
  const urlHost = isLoopbackHost(host) || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/#token=${token}`,
    token,
    port,
    async close() {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
