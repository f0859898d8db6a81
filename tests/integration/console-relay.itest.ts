// The default guest's console relay (assets/guest/relay.c: the console port ⇄ the shell's pty),
// against a real default guest under QEMU (TCG), read straight from the console's chardev socket:
// - a 16 MiB write arrives byte-exact (numbered lines, so a lost, doubled or reordered piece shows),
//   with the CR of NL → CRLF added once per line (by the relay, not the pty: relay.c says why);
// - that CR is added as a pty would: not in raw mode, and not twice when a program sets ONLCR;
// - output written while no host is connected waits (the writer blocks) and all of it arrives once
//   a host connects, to the same shell: the relay takes "host absent" as a pause, not the end;
// - a host that goes away in the middle of output and comes back gets the rest of it, in order,
//   from the same shell. (What QEMU had already taken from the guest when the socket closed is
//   gone: virtio-serial discards a closed port's queued data; so only the order is checked here.)
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AgentClient } from '../../electron/engine/agent-client';
import { connectWhenReady, launchGuest, type LaunchedGuest } from '../../electron/engine/guest/guest-launcher';
import { agentWhenUp, ensureTestGuest } from './fixtures/test-guest';

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `seq 1 n` as the host sees it through the pty (NL → CRLF). */
function seqText(n: number): string {
  const parts: string[] = [];
  for (let i = 1; i <= n; i++) parts.push(`${i}\r\n`);
  return parts.join('');
}

/** A console connection that keeps what arrives (from `mark()` on) and can wait for a pattern. */
class Console {
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private size = 0;
  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.size += d.length;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(path: string): Promise<Console> {
    return new Console(await connectWhenReady(path));
  }
  get bytes(): number {
    return this.size;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  mark(): void {
    this.chunks = [];
    this.size = 0;
  }
  async waitFor(pred: (c: Console) => boolean, what: string, timeoutMs = 240_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred(this)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${this.size} bytes so far)`);
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), nap(500)]);
    }
  }
  /** the tail of the text, cheap to look at while megabytes arrive */
  tail(n = 64): string {
    const last = this.chunks.slice(-4);
    return Buffer.concat(last).toString('latin1').slice(-n);
  }
  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.sock.once('close', () => r());
      this.sock.destroy();
    });
  }
}

describe('the default guest console relay', () => {
  let guest: LaunchedGuest;
  let agent: AgentClient;
  let con: Console;

  const sh = (cmd: string) => agent.exec(['/bin/sh', '-c', cmd], { timeoutMs: 240_000 });
  /** the console shell's PID, asked through the console itself */
  const shellPid = async (): Promise<string> => {
    con.mark();
    con.sock.write('echo "shell-pid=$((0+$$))"\n');
    await con.waitFor((c) => /shell-pid=\d+\r\n[^]*:~# /.test(c.text()), 'the shell to answer');
    return /shell-pid=(\d+)\r\n/.exec(con.text())![1]!;
  };

  beforeAll(async () => {
    const home = await ensureTestGuest();
    guest = await launchGuest({ dir: join(home, 'images', 'default'), name: 'relay' });
    con = await Console.open(guest.serialSock);
    agent = await agentWhenUp(guest);
    await con.waitFor((c) => c.text().includes('relay:~# '), 'the console shell');
  }, 180_000);

  afterAll(async () => {
    agent?.close();
    await con?.close();
    await guest?.dispose();
  });

  it('passes a 16 MiB write to the host byte-exact', async () => {
    // numbered lines of 64 bytes: 16 MiB in 262 144 lines
    const n = 262_144;
    const made = await sh(`awk 'BEGIN { for (i = 1; i <= ${n}; i++) printf "%063d\\n", i }' > /tmp/lines && wc -c < /tmp/lines && sha256sum /tmp/lines`);
    expect(made.exitCode, made.stderr).toBe(0);
    const [size, sum] = made.stdout.trim().split(/\s+/);
    expect(Number(size)).toBe(16 * 1024 * 1024);
    con.mark();
    expect((await sh('cat /tmp/lines > /dev/flotilla-console')).exitCode).toBe(0);
    await con.waitFor((c) => c.tail(80).endsWith(`\n${String(n).padStart(63, '0')}\r\n`), 'the last line');
    expect(con.bytes).toBe(Number(size) + n); // one CR a line, no more
    const got = Buffer.from(con.text().replaceAll('\r\n', '\n'), 'latin1');
    expect(got.length).toBe(Number(size));
    expect(createHash('sha256').update(got).digest('hex')).toBe(sum);
  }, 300_000);

  it('adds the CR of NL → CRLF as the pty would: in cooked mode only, and once when a program sets ONLCR itself', async () => {
    // what is read is translated by the mode of the moment it is read, so each mode's output is
    // given a second to be read before the next switch (the cooked part had none: under CI's load
    // the relay once read "c2\n" after `stty onlcr`, and left it without its CR)
    con.mark();
    con.sock.write(`stty raw; printf 'r1\\nr2\\n'; sleep 1; stty -raw; printf 'c1\\nc2\\n'; sleep 1; stty onlcr; printf 'o1\\n'; sleep 1; stty -onlcr; echo done-$((1+1))\n`);
    await con.waitFor((c) => c.text().includes('done-2\r\n'), 'the commands to finish');
    const out = con.text();
    expect(out).toContain('r1\nr2\nc1\r\nc2\r\no1\r\ndone-2\r\n');
    // the shell's line as typed comes back in the pty's echo, its Enter as CRLF
    expect(out.startsWith("stty raw; printf 'r1\\nr2\\n'")).toBe(true);
  }, 120_000);

  it('holds output while no host is connected and delivers all of it when one connects, to the same shell', async () => {
    const before = await shellPid();
    await con.close();
    await nap(1000); // QEMU tells the guest the host has gone
    const n = 200_000; // 1.3 MB: more than the pty and the relay hold, so the writer must wait
    // made first and written by cat in large writes (seq's line-by-line writes crawl through a pty under TCG)
    expect((await sh(`seq 1 ${n} > /tmp/held && cat /tmp/held > /dev/flotilla-console 2>/dev/null </dev/null &`)).exitCode).toBe(0);
    await nap(1500);
    expect((await sh('pidof cat')).exitCode).toBe(0); // still writing: it waits for a host
    con = await Console.open(guest.serialSock);
    await con.waitFor((c) => c.tail().endsWith(`\n${n}\r\n`), 'the last line');
    expect(con.text() === seqText(n)).toBe(true);
    expect(await shellPid()).toBe(before);
  }, 300_000);

  it('carries on, in order and to the same shell, when the host goes away in the middle of output', async () => {
    const before = await shellPid();
    const n = 600_000; // 4.6 MB on the wire
    expect((await sh(`seq 1 ${n} > /tmp/cut`)).exitCode).toBe(0);
    con.mark();
    expect((await sh('cat /tmp/cut > /dev/flotilla-console 2>/dev/null </dev/null &')).exitCode).toBe(0);
    await con.waitFor((c) => c.bytes > 1024 * 1024, 'the first MiB');
    await con.close();
    await nap(1000);
    con = await Console.open(guest.serialSock);
    await con.waitFor((c) => c.tail().endsWith(`\n${n}\r\n`), 'the last line');
    const after = con.text();
    expect(after.length).toBeGreaterThan(0);
    // a contiguous piece of the output, up to its end: nothing doubled or out of order
    expect(seqText(n).endsWith(after)).toBe(true);
    expect(await shellPid()).toBe(before);
  }, 300_000);
});
