// Check 13: the headless WebSocket refuses, before the upgrade, every attempt with a bad
// Origin, a rebinding Host, no token, a wrong token, or a token from before `serve`
// restarted. Hundreds of varied attempts; 100% must be refused with an HTTP error (never 101).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptUpgrade } from '../../electron/headless/testing/upgrade-attempt';
import { startHeadless, type HeadlessServer } from '../../electron/headless/server';
import { FakeHandler } from '../../electron/headless/testing/fake-handler';
import { reportFigure, scale } from './fixtures/figures';

const ATTEMPTS = scale(400, 4000);

const attempt = (port: number, protocols: string[], headers: Record<string, string>) => attemptUpgrade(`ws://127.0.0.1:${port}/api`, protocols, headers);

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

describe('check 13: headless WebSocket refuses bad upgrades', () => {
  let dir: string;
  let srv: HeadlessServer;
  let oldToken: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-ws-'));
    await mkdir(join(dir, 'r'), { recursive: true });
    await writeFile(join(dir, 'r', 'index.html'), '<!doctype html><title>Flotilla</title>');
    // a serve run whose token leaks, then a restart on the same port
    const before = await startHeadless({ handler: new FakeHandler(), rendererDir: join(dir, 'r') });
    oldToken = before.token;
    await before.close();
    srv = await startHeadless({ handler: new FakeHandler(), rendererDir: join(dir, 'r'), port: before.port });
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it(`refuses ${ATTEMPTS} hostile upgrade attempts and accepts the real one`, async () => {
    const port = srv.port;
    const good = `http://127.0.0.1:${port}`;
    const proto = (t: string): string[] => ['flotilla.v1', `flotilla-token.${t}`];
    const flip = (t: string): string => t.slice(0, 10) + (t[10] === 'a' ? 'b' : 'a') + t.slice(11);
    const badOrigins = ['http://evil.example', `http://evil.example:${port}`, 'null', `https://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`, `http://127.0.0.1.evil.example:${port}`, `http://localhost.evil.example:${port}`, `file://`, `http://[::2]:${port}`, `http://0x7f000001:${port}`];
    const badHosts = [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `attacker.test`, `localhost.evil.example:${port}`, `192.168.1.10:${port}`, `[::ffff:7f00:1]:${port}`, `127.0.0.1:${port + 1}`];
    const kinds = {
      'bad Origin': () => ({ p: proto(srv.token), h: { Origin: pick(badOrigins) } }),
      'no Origin': () => ({ p: proto(srv.token), h: {} as Record<string, string> }),
      'rebinding Host': () => {
        const host = pick(badHosts);
        return { p: proto(srv.token), h: { Host: host, Origin: pick([`http://${host}`, good]) } };
      },
      'no token': () => ({ p: pick([['flotilla.v1'], [], ['flotilla-token.'], [srv.token]]), h: { Origin: good } }),
      'wrong token': () => ({ p: proto(pick([randomBytes(32).toString('hex'), flip(srv.token), srv.token.toUpperCase(), srv.token.slice(1), `${srv.token}0`, 'x' + srv.token.slice(1)])), h: { Origin: good } }),
      'token from before the restart': () => ({ p: proto(oldToken), h: { Origin: good } }),
    };
    const names = Object.keys(kinds) as (keyof typeof kinds)[];
    const tally = new Map<string, number>();
    let opened = 0;
    let notHttpRefusal = 0;
    for (let done = 0; done < ATTEMPTS; ) {
      const batch = Math.min(25, ATTEMPTS - done);
      const results = await Promise.all(
        Array.from({ length: batch }, (_, i) => {
          const kind = names[(done + i) % names.length]!;
          tally.set(kind, (tally.get(kind) ?? 0) + 1);
          const { p, h } = kinds[kind]();
          return attempt(port, p, h).then((r) => ({ kind, p, h, ...r }));
        }),
      );
      for (const r of results) {
        if (r.opened) {
          opened++;
          console.log(`[reliability] check 13 OPENED: ${r.kind} ${JSON.stringify({ p: r.p, h: r.h })}`);
        }
        else if (r.status === null || r.status < 400) notHttpRefusal++;
      }
      done += batch;
    }
    // the real thing still works
    expect(await attempt(port, proto(srv.token), { Origin: good })).toEqual({ opened: true, status: 101 });
    console.log(`[reliability] check 13 attempts by kind: ${JSON.stringify(Object.fromEntries(tally))}`);
    reportFigure({ check: 13, title: 'headless WebSocket upgrade gate', load: `${ATTEMPTS} attempts in batches of 25`, faults: 1, badInputs: ATTEMPTS, lost: opened });
    expect(opened).toBe(0);
    expect(notHttpRefusal).toBe(0);
  });
});
