// The guest agent client against a fake qemu-ga on a real unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentClient, usableIps } from './agent-client';

interface Cmd {
  execute: string;
  arguments?: Record<string, unknown>;
}
type Answer = (cmd: Cmd, conn: Socket) => unknown | undefined;

let dir: string;
let sock: string;
let server: Server | undefined;
const clients: AgentClient[] = [];
const received: Cmd[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-qga-'));
  sock = join(dir, 'qga.sock');
  received.length = 0;
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const send = (conn: Socket, msg: unknown) => conn.write(JSON.stringify(msg) + '\n');

/**
 * A fake qemu-ga: ignores 0xFF bytes from the client, answers guest-sync-delimited with 0xFF + reply
 * (after some stale junk, as a real channel may hold), and other commands via `answer` (which returns
 * the `return` value, or undefined to stay silent).
 */
function fakeAgent(answer: Answer, opts: { silent?: boolean } = {}): Promise<void> {
  server = createServer((conn) => {
    let buf = '';
    conn.on('data', (d: Buffer) => {
      buf += Buffer.from(d.filter((b) => b !== 0xff)).toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const cmd = JSON.parse(buf.slice(0, i)) as Cmd;
        buf = buf.slice(i + 1);
        received.push(cmd);
        if (opts.silent) continue;
        if (cmd.execute === 'guest-sync-delimited') {
          conn.write('{"return": 12345}\n{"return": {}}\n');
          conn.write(Buffer.from([0xff]));
          send(conn, { return: cmd.arguments!.id });
          continue;
        }
        const ret = answer(cmd, conn);
        if (ret !== undefined) send(conn, { return: ret });
      }
    });
    conn.on('error', () => undefined);
  });
  return new Promise((r) => server!.listen(sock, () => r()));
}

async function connect(timeoutMs?: number): Promise<AgentClient> {
  const c = await AgentClient.connect(sock, { timeoutMs });
  clients.push(c);
  return c;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('AgentClient', () => {
  it('syncs past stale replies and the 0xFF sentinel, then pings', async () => {
    await fakeAgent((cmd) => (cmd.execute === 'guest-ping' ? {} : undefined));
    const c = await connect();
    await c.ping();
    expect(received.map((r) => r.execute)).toEqual(['guest-sync-delimited', 'guest-ping']);
  });

  it('exec: sends base64 stdin, polls status until exited, decodes stdout/stderr and exit code', async () => {
    let polls = 0;
    await fakeAgent((cmd) => {
      if (cmd.execute === 'guest-exec') return { pid: 77 };
      if (cmd.execute === 'guest-exec-status') {
        expect(cmd.arguments).toEqual({ pid: 77 });
        return ++polls < 3 ? { exited: false } : { exited: true, exitcode: 3, 'out-data': b64('hello\n'), 'err-data': b64('oops\n') };
      }
    });
    const c = await connect();
    const r = await c.exec(['/bin/sh', '-c', 'cat; exit 3'], { stdin: 'in put' });
    expect(r).toEqual({ exitCode: 3, stdout: 'hello\n', stderr: 'oops\n' });
    const exec = received.find((x) => x.execute === 'guest-exec')!;
    expect(exec.arguments).toEqual({ path: '/bin/sh', arg: ['-c', 'cat; exit 3'], 'capture-output': true, 'input-data': b64('in put') });
    expect(polls).toBe(3);
  });

  it('exec: reports a signal and truncation', async () => {
    await fakeAgent((cmd) =>
      cmd.execute === 'guest-exec' ? { pid: 1 } : { exited: true, signal: 9, 'out-data': b64('x'), 'out-truncated': true },
    );
    const c = await connect();
    expect(await c.exec(['/bin/yes'])).toEqual({ exitCode: null, signal: 9, stdout: 'x', stderr: '', truncated: true });
  });

  it('exec: a command that never exits times out with TIMEOUT naming it', async () => {
    await fakeAgent((cmd) => (cmd.execute === 'guest-exec' ? { pid: 5 } : { exited: false }));
    const c = await connect();
    await expect(c.exec(['/bin/sleep', '1000'], { timeoutMs: 150 })).rejects.toMatchObject({ code: 'TIMEOUT', message: /sleep is still running.*pid 5/ });
  });

  it('readFile: open, read chunks until eof, close', async () => {
    const parts = ['first-', 'second-', 'third'];
    await fakeAgent((cmd) => {
      if (cmd.execute === 'guest-file-open') return 9;
      if (cmd.execute === 'guest-file-read') {
        const p = parts.shift()!;
        return { count: p.length, 'buf-b64': b64(p), eof: parts.length === 0 };
      }
      if (cmd.execute === 'guest-file-close') return {};
    });
    const c = await connect();
    expect((await c.readFile('/etc/hostname')).toString()).toBe('first-second-third');
    expect(received.find((r) => r.execute === 'guest-file-open')!.arguments).toEqual({ path: '/etc/hostname', mode: 'r' });
    expect(received.at(-1)).toEqual({ execute: 'guest-file-close', arguments: { handle: 9 } });
  });

  it('writeFile: writes base64 chunks, returns bytes written, closes the handle', async () => {
    const got: Buffer[] = [];
    await fakeAgent((cmd) => {
      if (cmd.execute === 'guest-file-open') return 4;
      if (cmd.execute === 'guest-file-write') {
        const b = Buffer.from(cmd.arguments!['buf-b64'] as string, 'base64');
        got.push(b);
        return { count: b.length, eof: false };
      }
      return {};
    });
    const c = await connect();
    const data = Buffer.alloc(600 * 1024, 7);
    expect(await c.writeFile('/tmp/x', data)).toBe(data.length);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(got.length).toBe(3);
    expect(received.at(-1)!.execute).toBe('guest-file-close');
  });

  it('a guest error reply becomes AGENT_ERROR, and the handle is still closed', async () => {
    await fakeAgent((cmd, conn) => {
      if (cmd.execute === 'guest-file-open') return 2;
      if (cmd.execute === 'guest-file-read') {
        send(conn, { error: { class: 'GenericError', desc: 'read failed: Is a directory' } });
        return undefined;
      }
      return {};
    });
    const c = await connect();
    await expect(c.readFile('/etc')).rejects.toMatchObject({ code: 'AGENT_ERROR', message: /guest-file-read failed: read failed: Is a directory/ });
    expect(received.at(-1)!.execute).toBe('guest-file-close');
  });

  it('ips: non-loopback IPv4 and IPv6 addresses, without link-local', async () => {
    await fakeAgent(() => [
      { name: 'lo', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1' }, { 'ip-address-type': 'ipv6', 'ip-address': '::1' }] },
      {
        name: 'eth0',
        'ip-addresses': [
          { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 },
          { 'ip-address-type': 'ipv6', 'ip-address': 'fec0::5054:ff:fe12:3456', prefix: 64 },
          { 'ip-address-type': 'ipv6', 'ip-address': 'fe80::5054:ff:fe12:3456', prefix: 64 },
        ],
      },
      { name: 'eth1' },
    ]);
    const c = await connect();
    expect(await c.ips()).toEqual(['10.0.2.15', 'fec0::5054:ff:fe12:3456']);
    expect(usableIps([])).toEqual([]);
  });

  it('shutdown sends guest-shutdown without waiting for a reply; the next command re-syncs first', async () => {
    await fakeAgent((cmd) => (cmd.execute === 'guest-ping' ? {} : undefined));
    const c = await connect();
    await c.shutdown('reboot');
    await c.ping();
    expect(received.map((r) => r.execute)).toEqual(['guest-sync-delimited', 'guest-shutdown', 'guest-sync-delimited', 'guest-ping']);
    expect(received[1]!.arguments).toEqual({ mode: 'reboot' });
  });

  it('no agent answering: connect fails with AGENT_UNAVAILABLE after the timeout', async () => {
    await fakeAgent(() => undefined, { silent: true });
    await expect(AgentClient.connect(sock, { timeoutMs: 150 })).rejects.toMatchObject({
      code: 'AGENT_UNAVAILABLE',
      message: /qemu-guest-agent running/,
    });
  });

  it('no socket: AGENT_UNAVAILABLE naming the path', async () => {
    await expect(AgentClient.connect(join(dir, 'none.sock'))).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: /none\.sock/ });
  });

  it('a command timeout re-syncs so the late reply is not taken as the next answer', async () => {
    let late: (() => void) | undefined;
    await fakeAgent((cmd, conn) => {
      if (cmd.execute === 'slow') {
        late = () => send(conn, { return: 'late' });
        return undefined;
      }
      if (cmd.execute === 'guest-sync-delimited') return undefined;
      return 'fresh';
    });
    const c = await connect();
    await expect(c.request('slow', undefined, 100)).rejects.toMatchObject({ code: 'TIMEOUT' });
    late!();
    expect(await c.request('fast')).toBe('fresh');
    expect(received.map((r) => r.execute)).toEqual(['guest-sync-delimited', 'slow', 'guest-sync-delimited', 'fast']);
  });

  it('ping with the agent gone silent: AGENT_UNAVAILABLE; a closed connection rejects further commands', async () => {
    let silent = false;
    await fakeAgent((cmd) => (silent ? undefined : cmd.execute === 'guest-ping' ? {} : undefined));
    const c = await connect();
    await c.ping();
    silent = true;
    await expect(c.ping(100)).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    c.close();
    expect(c.closed).toBe(true);
    await expect(c.ips()).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: /closed/ });
  });

  it('serializes concurrent commands: each gets its own answer in order', async () => {
    await fakeAgent((cmd) => ({ echo: cmd.arguments?.n }));
    const c = await connect();
    const rs = await Promise.all([1, 2, 3, 4, 5].map((n) => c.request('echo', { n })));
    expect(rs).toEqual([1, 2, 3, 4, 5].map((n) => ({ echo: n })));
  });
});
