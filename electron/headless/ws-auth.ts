// Who may open the headless WebSocket. Checked on the HTTP upgrade request, before any
// WebSocket exists: Host (DNS rebinding), Origin (cross-site WebSocket hijacking) and the
// per-run token carried as a subprotocol (so it never appears in a URL or a log line).
import { timingSafeEqual } from 'node:crypto';
import { networkInterfaces } from 'node:os';

import { TOKEN_HEADER, TOKEN_PROTOCOL_PREFIX, WS_PATH, WS_PROTOCOL } from '../../shared/ws-protocol';

export { TOKEN_PROTOCOL_PREFIX, WS_PATH, WS_PROTOCOL };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`.toLowerCase();
}

/** Host header values we answer to. A wildcard bind answers on every local address. */
export function allowedHostHeaders(bindHost: string, port: number): Set<string> {
  const hosts = new Set(['127.0.0.1', 'localhost', '::1']);
  if (!isLoopbackHost(bindHost)) {
    if (WILDCARD.has(bindHost)) {
      for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) hosts.add(a.address);
    } else hosts.add(bindHost.replace(/^\[|\]$/g, ''));
  }
  return new Set([...hosts].map((h) => hostPort(h, port)));
}

export type AuthResult = { ok: true } | { ok: false; status: 400 | 401 | 403 | 404; reason: string };

export interface UpgradeRequestView {
  url?: string | undefined;
  headers: { host?: string | undefined; origin?: string | undefined; 'sec-websocket-protocol'?: string | undefined };
}

function tokenMatches(given: string, token: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(token, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The page's token check (TOKEN_CHECK_PATH): does the token in its header match this run's? */
export function tokenCheckStatus(headers: Record<string, string | string[] | undefined>, token: string): 204 | 401 {
  const given = headers[TOKEN_HEADER];
  return typeof given === 'string' && tokenMatches(given, token) ? 204 : 401;
}

export function checkUpgrade(req: UpgradeRequestView, allowedHosts: ReadonlySet<string>, token: string): AuthResult {
  const path = (req.url ?? '').split('?')[0];
  if (path !== WS_PATH) return { ok: false, status: 404, reason: 'no WebSocket at this path' };
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts.has(host)) return { ok: false, status: 403, reason: `foreign Host header: ${host.slice(0, 80)}` };
  const origin = req.headers.origin;
  if (!origin) return { ok: false, status: 403, reason: 'missing Origin' };
  const allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`));
  if (!allowedOrigins.has(origin.toLowerCase())) return { ok: false, status: 403, reason: `foreign Origin: ${origin.slice(0, 80)}` };
  const protos = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  if (!protos.includes(WS_PROTOCOL)) return { ok: false, status: 400, reason: `missing subprotocol ${WS_PROTOCOL}` };
  const given = protos.find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  if (!given) return { ok: false, status: 401, reason: 'no token' };
  if (!tokenMatches(given.slice(TOKEN_PROTOCOL_PREFIX.length), token)) return { ok: false, status: 401, reason: 'wrong token' };
  return { ok: true };
}
