// The engine's API socket ($FLOTILLA_HOME/run/engine.sock): shared/rpc.ts frames as NDJSON
// lines over a unix socket (0600, in a 0700 dir). JSON.stringify never emits a raw newline,
// so one line is one frame. Lines longer than the frame cap are dropped, not parsed; a slow
// reader loses broadcast events rather than growing the engine's memory without bound. Console
// output it loses that way is not lost silently: the next console output it gets for that VM
// starts with a marker saying how much is missing there (consoleLossMarker).
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { ContractHandler } from '../../shared/contract';
import { MAX_FRAME_BYTES, type TextChannel } from '../../shared/rpc-client';
import { LineSplitter } from './line-splitter';

/** Beyond this much unsent output to one client, events for it are dropped (responses never are). */
export const MAX_CLIENT_BACKLOG_BYTES = 32 << 20;

/** What a terminal shows where a client missed console output: visible (reverse video), on its own line. */
export function consoleLossMarker(chars: number): string {
  return `\r\n\x1b[7m[flotilla: ${chars} characters of console output were lost here: this client read too slowly]\x1b[0m\r\n`;
}

const CONSOLE_EVENT = '"event":"console.data"';
type ConsoleFrame = { t: 'evt'; event: 'console.data'; payload: { id: string; data: string } };

/** A TextChannel over a connected socket, one frame per line. */
export function socketChannel(sock: Socket, opts: { onOversize?: (bytes: number) => void; maxBacklogBytes?: number } = {}): TextChannel {
  const maxBacklog = opts.maxBacklogBytes ?? MAX_CLIENT_BACKLOG_BYTES;
  /** console output dropped for this client, per VM id, not yet marked (parsed only when dropping) */
  const lostConsole = new Map<string, number>();
  const msgCbs: ((t: string) => void)[] = [];
  const closeCbs: (() => void)[] = [];
  let closed = false;
  const splitter = new LineSplitter({
    maxLineBytes: MAX_FRAME_BYTES,
    onLine: (line: string) => {
      if (line.trim() === '') return;
      for (const cb of msgCbs) cb(line);
    },
    onOversize: (n: number) => opts.onOversize?.(n),
  });
  sock.on('data', (buf: Buffer) => splitter.push(buf));
  sock.on('error', () => undefined);
  sock.on('close', () => {
    if (closed) return;
    closed = true;
    for (const cb of closeCbs) cb();
  });
  return {
    send(text) {
      if (closed || sock.destroyed) throw new Error('socket closed');
      const isEvent = text.startsWith('{"t":"evt"');
      if (isEvent && sock.writableLength > maxBacklog) {
        if (text.includes(CONSOLE_EVENT)) {
          const { payload } = JSON.parse(text) as ConsoleFrame;
          lostConsole.set(payload.id, (lostConsole.get(payload.id) ?? 0) + payload.data.length);
        }
        return;
      }
      if (isEvent && lostConsole.size > 0 && text.includes(CONSOLE_EVENT)) {
        const frame = JSON.parse(text) as ConsoleFrame;
        const lost = lostConsole.get(frame.payload.id);
        if (lost !== undefined) {
          lostConsole.delete(frame.payload.id);
          text = JSON.stringify({ ...frame, payload: { ...frame.payload, data: consoleLossMarker(lost) + frame.payload.data } });
        }
      }
      sock.write(text + '\n');
    },
    onMessage: (cb) => void msgCbs.push(cb),
    onClose: (cb) => void closeCbs.push(cb),
    close: () => sock.end(),
  };
}

export interface ApiSocketServer {
  path: string;
  /**
   * Stop listening and close every connection. With `drain`, keep serving until no client is
   * connected, then stop listening in that same tick: a client is only ever cut off before
   * its first answer (openEngine then looks again), never in the middle of a request.
   */
  close(opts?: { drain?: boolean }): Promise<void>;
}

/**
 * Listen on `path`. Rejects with EADDRINUSE if someone else holds it: the caller decides
 * whether that is a live engine or a stale file.
 */
export async function serveApiSocket(handler: ContractHandler, path: string, runRoot: string): Promise<ApiSocketServer> {
  // loaded here, not at the top: a CLI that is only a client of a running engine imports this
  // module for connectApiSocket/socketChannel and should not load the contract's schemas
  const { serveChannel } = await import('../../shared/rpc');
  await mkdir(runRoot, { recursive: true, mode: 0o700 });
  await chmod(runRoot, 0o700);
  const conns = new Set<Socket>();
  let whenIdle: (() => void) | null = null;
  const server: Server = createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => {
      conns.delete(sock);
      if (conns.size === 0) whenIdle?.();
    });
    serveChannel(handler, socketChannel(sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  server.unref();
  return {
    path,
    async close(opts = {}) {
      let closed: Promise<void>;
      if (opts.drain && conns.size > 0) {
        closed = new Promise<void>((r) => (whenIdle = () => server.close(() => r())));
      } else {
        for (const c of conns) c.destroy();
        closed = new Promise<void>((r) => server.close(() => r()));
      }
      await closed;
      await rm(path, { force: true });
    },
  };
}

/**
 * Connect to an engine socket; null when nobody is listening (missing or stale socket), or when
 * the connection is reset before it is made or the backlog is full: an engine killed while
 * accepting (kill -9 closes its sockets one by one) resets it, and a client that was waiting for
 * the next engine must look again rather than fail with ECONNRESET.
 */
export function connectApiSocket(path: string, timeoutMs = 3000): Promise<Socket | null> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the engine socket ${path} accepted but did not respond`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      resolve(sock);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT' || err.code === 'ECONNRESET' || err.code === 'EAGAIN') resolve(null);
      else reject(err);
    });
  });
}
