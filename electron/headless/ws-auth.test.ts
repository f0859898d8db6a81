// The upgrade gate as a pure function: every header combination a hijacking page or a
// rebinding DNS name could produce is refused with the right status.
import { describe, expect, it } from 'vitest';
import { allowedHostHeaders, checkUpgrade, isLoopbackHost } from './ws-auth';

const TOKEN = 'ab'.repeat(32);
const hosts = allowedHostHeaders('127.0.0.1', 4000);
const req = (h: Record<string, string | undefined>, url = '/api') => ({
  url,
  headers: { host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000', 'sec-websocket-protocol': `flotilla.v1, flotilla-token.${TOKEN}`, ...h },
});

describe('checkUpgrade', () => {
  it('accepts our page on every loopback spelling', () => {
    expect(checkUpgrade(req({}), hosts, TOKEN)).toEqual({ ok: true });
    expect(checkUpgrade(req({ host: 'localhost:4000', origin: 'http://localhost:4000' }), hosts, TOKEN)).toEqual({ ok: true });
    expect(checkUpgrade(req({ host: '[::1]:4000', origin: 'http://[::1]:4000' }), hosts, TOKEN)).toEqual({ ok: true });
    expect(checkUpgrade(req({ host: 'LOCALHOST:4000', origin: 'http://LocalHost:4000' }), hosts, TOKEN)).toEqual({ ok: true });
    expect(checkUpgrade(req({}, '/api?x=1'), hosts, TOKEN)).toEqual({ ok: true });
  });

  it.each([
    ['rebinding Host', { host: 'attacker.example:4000' }, 403],
    ['Host on another port', { host: '127.0.0.1:4001' }, 403],
    ['no Host', { host: undefined }, 403],
    ['foreign Origin', { origin: 'https://attacker.example' }, 403],
    ['opaque Origin', { origin: 'null' }, 403],
    ['https Origin of our host', { origin: 'https://127.0.0.1:4000' }, 403],
    ['Origin with a path', { origin: 'http://127.0.0.1:4000/' }, 403],
    ['no Origin', { origin: undefined }, 403],
    ['no subprotocols', { 'sec-websocket-protocol': undefined }, 400],
    ['token without flotilla.v1', { 'sec-websocket-protocol': `flotilla-token.${TOKEN}` }, 400],
    ['no token', { 'sec-websocket-protocol': 'flotilla.v1' }, 401],
    ['wrong token', { 'sec-websocket-protocol': `flotilla.v1, flotilla-token.${'cd'.repeat(32)}` }, 401],
    ['truncated token', { 'sec-websocket-protocol': `flotilla.v1, flotilla-token.${TOKEN.slice(0, 63)}` }, 401],
    ['empty token', { 'sec-websocket-protocol': 'flotilla.v1, flotilla-token.' }, 401],
  ] as const)('refuses %s', (_what, h, status) => {
    const r = checkUpgrade(req(h as Record<string, string | undefined>), hosts, TOKEN);
    expect(r).toMatchObject({ ok: false, status });
  });

  it('refuses other paths', () => {
    expect(checkUpgrade(req({}, '/api/../x'), hosts, TOKEN)).toMatchObject({ ok: false, status: 404 });
  });
});

describe('allowed hosts', () => {
  it('loopback binds answer only to loopback names', () => {
    expect([...hosts].sort()).toEqual(['127.0.0.1:4000', '[::1]:4000', 'localhost:4000']);
  });
  it('a specific remote bind adds that address', () => {
    expect(allowedHostHeaders('192.168.1.20', 80).has('192.168.1.20:80')).toBe(true);
    expect(allowedHostHeaders('fd00::5', 80).has('[fd00::5]:80')).toBe(true);
  });
  it('knows loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.0.1', 'localhost.attacker.example']) expect(isLoopbackHost(h)).toBe(false);
  });
});
