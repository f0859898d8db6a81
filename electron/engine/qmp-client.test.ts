// The QMP client against a fake QMP server on a real unix socket: the server misbehaves on purpose.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../shared/errors';
import { QmpClient, QMP_MAX_LINE_BYTES, type QmpEvent } from './qmp-client';

const GREETING = JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\n';

interface Cmd {
  execute: string;
  arguments?: Record<string, unknown>;
  id?: string;
}
type Handler = (cmd: Cmd, conn: Socket) => void;

let dir: string;
let sock: string;
let server: Server | undefined;
const clients: QmpClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-qmp-'));
  sock = join(dir, 'qmp.sock');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const reply = (conn: Socket, id: string | undefined, ret: unknown = {}) => conn.write(JSON.stringify({ return: ret, id }) + '\n');

/** A QMP server: greets (unless told not to), answers qmp_capabilities, hands other commands to `onCommand`. */
function fakeQmp(onCommand: Handler, opts: { greeting?: string | null } = {}): Promise<void> {
  server = createServer((conn) => {
    if (opts.greeting !== null) conn.write(opts.greeting ?? GREETING);
    let buf = '';
    conn.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, i)) as Cmd;
        buf = buf.slice(i + 1);
        if (cmd.execute === 'qmp_capabilities') reply(conn, cmd.id);
        else onCommand(cmd, conn);
      }
    });
    conn.on('error', () => undefined);
  });
  return new Promise((r) => server!.listen(sock, () => r()));
}

async function connect(timeoutMs?: number): Promise<QmpClient> {
  const c = await QmpClient.connect(sock, { timeoutMs });
  clients.push(c);
  return c;
}

function protocolErrors(c: QmpClient): string[] {
  const out: string[] = [];
  c.on('protocol-error', (e: Error) => out.push(e.message));
  return out;
}

const nextEvent = (c: QmpClient, name: string) => new Promise<void>((r) => c.on(name, () => r()));

describe('QmpClient', () => {
  it('negotiates capabilities and resolves commands by id', async () => {
    await fakeQmp((cmd, conn) => {
      if (cmd.execute === 'query-status') reply(conn, cmd.id, { status: 'running', running: true });
    });
    const c = await connect();
    expect(c.greeting).toMatchObject({ version: { qemu: { major: 7 } } });
    expect(await c.execute('query-status')).toEqual({ status: 'running', running: true });
    expect(c.closed).toBe(false);
  });

  it('resolves the right promise when replies arrive out of order', async () => {
    const held: Cmd[] = [];
    await fakeQmp((cmd, conn) => {
      held.push(cmd);
      if (held.length === 3) for (const h of held.reverse()) reply(conn, h.id, { echo: h.arguments?.n });
    });
    const c = await connect();
    const results = await Promise.all([1, 2, 3].map((n) => c.execute('echo', { n })));
    expect(results).toEqual([{ echo: 1 }, { echo: 2 }, { echo: 3 }]);
  });

  it('delivers events with data and timestamp, interleaved with replies', async () => {
    await fakeQmp((cmd, conn) => {
      conn.write(JSON.stringify({ event: 'STOP', timestamp: { seconds: 5, microseconds: 6 } }) + '\n');
      conn.write(JSON.stringify({ event: 'RESUME', data: { x: 1 }, timestamp: { seconds: 7, microseconds: 8 } }) + '\n');
      reply(conn, cmd.id);
    });
    const c = await connect();
    const events: QmpEvent[] = [];
    c.on('event', (e: QmpEvent) => events.push(e));
    await c.execute('stop');
    expect(events).toEqual([
      { event: 'STOP', data: {}, timestamp: { seconds: 5, microseconds: 6 } },
      { event: 'RESUME', data: { x: 1 }, timestamp: { seconds: 7, microseconds: 8 } },
    ]);
  });

  it('survives malformed lines, non-objects and replies for unknown ids', async () => {
    await fakeQmp((cmd, conn) => {
      conn.write('this is not json\n[1,2]\n{"return":{},"id":"nobody"}\n{"weird":true}\n\n');
      reply(conn, cmd.id, 'ok');
    });
    const c = await connect();
    const errs = protocolErrors(c);
    expect(await c.execute('x')).toBe('ok');
    expect(errs).toHaveLength(4);
    expect(errs[0]).toMatch(/malformed QMP line: this is not json/);
  });

  it('joins a reply split into many partial writes', async () => {
    await fakeQmp((cmd, conn) => {
      const text = JSON.stringify({ return: { status: 'paused' }, id: cmd.id }) + '\n';
      let i = 0;
      const drip = () => {
        if (i >= text.length) return;
        conn.write(text.slice(i, i + 3));
        i += 3;
        setImmediate(drip);
      };
      drip();
    });
    const c = await connect();
    expect(await c.execute('query-status')).toEqual({ status: 'paused' });
  });

  it('drops an oversized line without crashing; the command it answered times out; the next one works', async () => {
    let n = 0;
    await fakeQmp((cmd, conn) => {
      n++;
      if (n === 1) conn.write(JSON.stringify({ return: 'x'.repeat(QMP_MAX_LINE_BYTES + 10), id: cmd.id }) + '\n');
      else reply(conn, cmd.id, 'small');
    });
    const c = await connect();
    const oversized = new Promise<string>((r) => c.on('protocol-error', (e: Error) => /oversized/.test(e.message) && r(e.message)));
    const big = c.execute('big', undefined, { timeoutMs: 1000 });
    expect(await oversized).toMatch(/dropped an oversized QMP line/);
    await expect(big).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(await c.execute('small')).toBe('small');
  });

  it('turns a QMP error reply into QMP_ERROR with the class and description', async () => {
    await fakeQmp((cmd, conn) =>
      conn.write(JSON.stringify({ error: { class: 'CommandNotFound', desc: 'The command nope has not been found' }, id: cmd.id }) + '\n'),
    );
    const c = await connect();
    const err = (await c.execute('nope').catch((e: unknown) => e)) as FlotillaError;
    expect(err).toBeInstanceOf(FlotillaError);
    expect(err.code).toBe('QMP_ERROR');
    expect(err.message).toMatch(/nope failed: The command nope has not been found/);
    expect(err.details).toEqual({ class: 'CommandNotFound', desc: 'The command nope has not been found' });
  });

  it('times out a command cleanly and ignores its late reply', async () => {
    let late: (() => void) | undefined;
    await fakeQmp((cmd, conn) => {
      if (cmd.execute === 'slow') late = () => reply(conn, cmd.id, 'late');
      else reply(conn, cmd.id, 'fast');
    });
    const c = await connect();
    const errs = protocolErrors(c);
    await expect(c.execute('slow', undefined, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT', message: /slow got no reply/ });
    late!();
    expect(await c.execute('fast')).toBe('fast');
    expect(errs.some((e) => /matches no pending command/.test(e))).toBe(true);
  });

  it('a truncated reply then close: pending commands reject DISCONNECTED and close is emitted', async () => {
    await fakeQmp((_cmd, conn) => conn.end('{"return": {"stat'));
    const c = await connect();
    const errs = protocolErrors(c);
    const closed = nextEvent(c, 'close');
    await expect(c.execute('query-status')).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await closed;
    expect(c.closed).toBe(true);
    expect(errs.some((e) => /closed mid-line/.test(e))).toBe(true);
    await expect(c.execute('again')).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('a throwing event listener does not break the connection', async () => {
    await fakeQmp((cmd, conn) => {
      conn.write(JSON.stringify({ event: 'STOP', timestamp: { seconds: 1, microseconds: 0 } }) + '\n');
      reply(conn, cmd.id, 'fine');
    });
    const c = await connect();
    c.on('event', () => {
      throw new Error('listener bug');
    });
    expect(await c.execute('stop')).toBe('fine');
  });

  it('connect: no socket → QMP_ERROR naming the path; no greeting → TIMEOUT; garbage greeting → TIMEOUT', async () => {
    await expect(QmpClient.connect(join(dir, 'missing.sock'))).rejects.toMatchObject({ code: 'QMP_ERROR', message: /missing\.sock: ENOENT/ });
    await fakeQmp(() => undefined, { greeting: null });
    await expect(QmpClient.connect(sock, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'TIMEOUT', message: /did not greet/ });
  });

  it('connect: the server closing before the handshake gives DISCONNECTED', async () => {
    server = createServer((conn) => conn.end('{"QMP": {"vers'));
    await new Promise<void>((r) => server!.listen(sock, () => r()));
    await expect(QmpClient.connect(sock, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('close() rejects in-flight commands and emits close once', async () => {
    await fakeQmp(() => undefined);
    const c = await connect();
    let closes = 0;
    c.on('close', () => closes++);
    const p = c.execute('hang');
    c.close();
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(closes).toBe(1);
  });
});
