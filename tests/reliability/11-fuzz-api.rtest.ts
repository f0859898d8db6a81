// Check 11: fuzz every API method over the engine socket, the WebSocket and in-process
// dispatch with thousands of hostile payloads: wrong types, huge strings, `../` paths,
// `file:` URLs, `__proto__` keys, deep nesting, junk frames. The engine never crashes, never
// touches a file outside its data directory (a canary tree next to it stays byte-identical and
// no named path appears), nothing is polluted, and it answers promptly afterwards.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { METHOD_NAMES, type CallContext } from '../../shared/contract';
import { dispatch } from '../../shared/rpc';
import { openEngine, type OpenedEngine } from '../../electron/engine/open-engine';
import { HomeLayout } from '../../electron/engine/paths';
import { startHeadless, type HeadlessServer } from '../../electron/headless/server';
import { cleanupHome, makeHome, processesUsing } from '../integration/fixtures/engine-harness';
import { heldSpawn } from './fixtures/cheap-vm';
import { reportFigure, scale } from './fixtures/figures';

const PAYLOADS = scale(6000, 60000);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = await stat(p);
      out.push(`${p} ${st.size} ${st.mtimeMs} ${st.mode}`);
      if (e.isDirectory()) await walk(p);
      else out.push(await readFile(p, 'utf8'));
    }
  };
  await walk(dir);
  return out.join('\n');
}

describe('check 11: fuzzing every method on every transport', () => {
  let home: string;
  let canary: string;
  let opened: OpenedEngine;
  let web: HeadlessServer;

  beforeAll(async () => {
    home = await makeHome(false);
    canary = `${home}-canary`;
    await mkdir(join(canary, 'sub'), { recursive: true });
    await writeFile(join(canary, 'disk.iso'), 'canary iso');
    await writeFile(join(canary, 'sub', 'vm.json'), '{"canary":true}');
    opened = await openEngine({
      home,
      shell: 'serve',
      engine: {
        accel: 'tcg',
        spawn: heldSpawn(spawn),
        stopDeadlineMs: 500,
        buildDefaultGuest: () => Promise.resolve({ kernelVersion: 'fuzz', dir: join(home, 'images', 'default') }),
      },
    });
    await mkdir(join(home, 'r'));
    await writeFile(join(home, 'r', 'index.html'), '<!doctype html><title>x</title>');
    web = await startHeadless({ handler: opened.handler, rendererDir: join(home, 'r') });
  });
  afterAll(async () => {
    await web?.close();
    await opened?.engine?.stopAll({ deadlineMs: 500, includeKeepRunning: true });
    await opened?.close();
    await cleanupHome(home);
    await cleanupHome(canary);
  });

  it(`survives ${PAYLOADS} hostile payloads and stays responsive`, async () => {
    const before = await snapshot(canary);
    const rand = rng(0xf1077);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const namedPaths = new Set<string>();
    const path = (): string => {
      const p = pick([
        '../../../../etc/passwd',
        `${home}/../${canary.split('/').pop()}/disk.iso`,
        `${canary}/sub/vm.json`,
        `${canary}/new-${Math.floor(rand() * 1e6)}.qcow2`,
        `/tmp/flotilla-fuzz-${Math.floor(rand() * 1e6)}`,
        'file:///etc/shadow',
        `file://${canary}/disk.iso`,
        '/proc/self/mem',
        '/dev/zero',
        `${home}/vms/../../${canary.split('/').pop()}/x`,
        '/etc/passwd\u0000.iso',
        '\\\\server\\share\\x.iso',
        '~/.ssh/id_rsa',
      ]);
      const base = p.split('\u0000')[0]!;
      if (base.startsWith('/') && !existsSync(base)) namedPaths.add(base);
      return p;
    };
    const deep = (n: number, obj: boolean): string => (obj ? '{"a":'.repeat(n) + '1' + '}'.repeat(n) : '['.repeat(n) + ']'.repeat(n));
    const scalar = (): string =>
      pick([
        'null',
        'true',
        '-1',
        '1e309',
        '0.5',
        '9007199254740993',
        '""',
        '"x"',
        JSON.stringify('A'.repeat(70_000)),
        JSON.stringify(path()),
        '[]',
        '{}',
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        deep(3000, rand() < 0.5),
        JSON.stringify('\u202e\ud800'),
        JSON.stringify(`vm-${'../'.repeat(5)}`),
      ]);
    const fields = ['id', 'config', 'name', 'source', 'kind', 'path', 'kernel', 'initrd', 'disk', 'forwards', 'hostPort', 'patch', 'command', 'data', 'dataBase64', 'nameOrId', 'expect', 'deadlineMs', 'tail', 'proto', '__proto__', 'constructor', 'prototype', 'start', 'waitAgent', 'force'];
    const objectText = (depth: number): string => {
      const n = Math.floor(rand() * 4);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(`${JSON.stringify(pick(fields))}:${depth > 0 && rand() < 0.4 ? objectText(depth - 1) : scalar()}`);
      return `{${parts.join(',')}}`;
    };
    const params = (): string => {
      const r = rand();
      if (r < 0.1) return scalar();
      if (r < 0.3) {
        // a near-valid create with one hostile field
        const src = pick([`{"kind":"iso","path":${JSON.stringify(path())}}`, `{"kind":"disk","path":${JSON.stringify(path())},"mode":"reference"}`, `{"kind":"kernel","kernel":${JSON.stringify(path())},"initrd":${JSON.stringify(path())}}`, `{"kind":"default","__proto__":{"x":1}}`, scalar()]);
        return `{"config":{"name":${pick(['"fz"', '"../x"', '"' + 'a'.repeat(70) + '"', '"fuzz-ok"'])},"source":${src},"memoryMiB":${pick(['64', '-5', '"64"', '1e9'])}},"start":${pick(['false', '"yes"', '1'])}}`;
      }
      if (r < 0.45) return `{"id":${pick(['"aaaaaaaaaaaa"', '"../../etc"', '"__proto__"', '12', '"' + 'a'.repeat(5000) + '"'])},"path":${JSON.stringify(path())},"dataBase64":"QUJD","command":["/bin/sh","-c","touch /tmp/pwned"]}`;
      return objectText(2);
    };
    const methods = [...METHOD_NAMES, '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'vm.list\u0000', 'vm.' + 'x'.repeat(1000), 'engine.info ', 'VM.LIST'];
    const frame = (id: number): string => {
      const r = rand();
      if (r < 0.05) return pick(['not json', '{"t":"req"}', '[1,2]', `{"t":"req","id":"1","method":"vm.list"}`, `{"t":"res","id":1,"ok":true}`, deep(5000, false), '{"t":"req","id":1e400}', '\u0000\u0001']);
      return `{"t":"req","id":${id},"method":${JSON.stringify(pick(methods))},"params":${params()}}`;
    };

    // transports
    const layout = new HomeLayout(home);
    const sock: Socket = createConnection(layout.engineSock);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const ws = new WebSocket(`ws://127.0.0.1:${web.port}/api`, ['flotilla.v1', `flotilla-token.${web.token}`], { headers: { Origin: `http://127.0.0.1:${web.port}` } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    const answered = new Set<string>();
    let sockBuf = '';
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      sockBuf += c;
      let nl: number;
      while ((nl = sockBuf.indexOf('\n')) >= 0) {
        const f = JSON.parse(sockBuf.slice(0, nl)) as { t: string; id?: number };
        sockBuf = sockBuf.slice(nl + 1);
        if (f.t === 'res') answered.add(`s${f.id}`);
      }
    });
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as { t: string; id?: number };
      if (f.t === 'res') answered.add(`w${f.id}`);
    });
    const ctx: CallContext = { clientId: 'fuzz', emit: () => undefined, onClose: () => undefined };
    let sent = 0;
    const expectAnswers = new Set<string>();
    const texts = new Map<string, string>();
    for (let i = 1; i <= PAYLOADS; i++) {
      const text = frame(i);
      const which = i % 3;
      if (which === 0) {
        let f: unknown = null;
        try {
          f = JSON.parse(text);
        } catch {
          /* junk frames are for the wire transports */
        }
        if (f && typeof f === 'object') {
          const req = f as { method?: unknown; params?: unknown };
          await dispatch(opened.handler, req.method, req.params, ctx);
        }
      } else if (which === 1) {
        sock.write(text + '\n');
        if (/^\{"t":"req","id":\d+,/.test(text)) expectAnswers.add(`s${i}`);
        texts.set(`s${i}`, text);
      } else {
        ws.send(text);
        if (/^\{"t":"req","id":\d+,/.test(text)) expectAnswers.add(`w${i}`);
        texts.set(`w${i}`, text);
      }
      sent++;
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    // every well-framed request got an answer on its wire
    const deadline = Date.now() + 20_000;
    while ([...expectAnswers].some((k) => !answered.has(k)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const unanswered = [...expectAnswers].filter((k) => !answered.has(k));
    for (const k of unanswered.slice(0, 5)) console.log(`[reliability] check 11 unanswered ${k}: ${texts.get(k)!.slice(0, 400)}`);
    expect(unanswered.slice(0, 5)).toEqual([]);

    // still responsive on all three transports
    expect((await dispatch(opened.handler, 'engine.info', {}, ctx)).ok).toBe(true);
    sock.write('{"t":"req","id":999999999,"method":"engine.info","params":{}}\n');
    ws.send('{"t":"req","id":999999999,"method":"engine.info","params":{}}');
    const t0 = Date.now();
    while (!(answered.has('s999999999') && answered.has('w999999999')) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(answered.has('s999999999') && answered.has('w999999999')).toBe(true);
    sock.destroy();
    ws.close();

    // nothing outside the data dir was touched or made; nothing polluted
    expect(await snapshot(canary)).toBe(before);
    const appeared = [...namedPaths].filter((p) => existsSync(p));
    expect(appeared).toEqual([]);
    expect(existsSync('/tmp/pwned')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'x')).toBe(false);
    // VMs the fuzzer managed to create live inside the data dir only
    const vms = await dispatch(opened.handler, 'vm.list', {}, ctx);
    console.log(`[reliability] check 11: fuzz created ${(vms as { value: unknown[] }).value.length} VM(s) inside the data dir; ${expectAnswers.size} wire requests answered`);
    await opened.engine!.stopAll({ deadlineMs: 500, includeKeepRunning: true });
    expect(await processesUsing(home)).toEqual([]);
    reportFigure({ check: 11, title: 'fuzz every method (dispatch, engine socket, WebSocket)', load: `${METHOD_NAMES.length} methods + junk names`, faults: 0, badInputs: sent, lost: unanswered.length + appeared.length });
  });
});
