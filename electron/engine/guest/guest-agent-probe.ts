// A small qemu-ga client for tests and the boot benchmark: JSON lines over the agent's unix
// socket, resynchronised with guest-sync-delimited (the agent answers it after a 0xFF byte, which
// tells us where stale output ends). The engine's full agent client lives in ../agent.ts.
import { connect, type Socket } from 'node:net';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class GuestAgentProbe {
  private buf = '';
  private waiting: Pending[] = [];
  private synced = false;
  private closed: Error | null = null;
  private nextId = Math.floor(Math.random() * 1e9);

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => this.onData(d));
    const fail = (e: Error) => {
      this.closed = e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('agent socket closed')));
  }

  /** Connects to the host end of the agent's virtio-serial chardev. */
  static connect(path: string): Promise<GuestAgentProbe> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new GuestAgentProbe(s)));
      s.once('error', reject);
    });
  }

  private onData(d: string): void {
    this.buf += d;
    // 0xFF marks the start of the answer to guest-sync-delimited: drop everything before it
    const ff = this.buf.lastIndexOf('\xff');
    if (ff >= 0) this.buf = this.buf.slice(ff + 1);
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: unknown;
      try {
        msg = JSON.parse(Buffer.from(line, 'latin1').toString('utf8'));
      } catch {
        continue; // partial garbage from before a resync
      }
      this.waiting.shift()?.resolve(msg);
    }
  }

  private send(obj: unknown): void {
    this.sock.write(`${JSON.stringify(obj)}\n`);
  }

  private next(timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const entry: Pending = {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new Error('timeout'));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }

  /**
   * Resynchronises with the agent, retrying until it answers or deadlineMs passes. Before the
   * guest opens its end, QEMU holds our bytes, so an early sync is answered once qemu-ga starts.
   */
  async sync(deadlineMs = 60_000, retryMs = 1000): Promise<void> {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      const id = ++this.nextId;
      this.send({ execute: 'guest-sync-delimited', arguments: { id } });
      const stop = Math.min(end, Date.now() + retryMs);
      try {
        while (Date.now() < stop) {
          const msg = (await this.next(Math.max(1, stop - Date.now()))) as { return?: unknown };
          if (msg && msg.return === id) {
            this.synced = true;
            return;
          }
        }
      } catch (e) {
        if (this.closed) throw e;
      }
    }
    throw new Error(`guest agent did not answer within ${deadlineMs} ms`);
  }

  /** Runs one agent command; throws the agent's error message if it returns one. */
  async call<T = unknown>(execute: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (!this.synced) await this.sync();
    const reply = this.next(timeoutMs);
    this.send(args ? { execute, arguments: args } : { execute });
    const msg = (await reply) as { return?: T; error?: { class?: string; desc?: string } };
    if (msg.error) throw new Error(`${execute}: ${msg.error.desc ?? msg.error.class ?? 'agent error'}`);
    return msg.return as T;
  }

  /** guest-shutdown sends no reply on success; just write it. */
  shutdown(mode: 'powerdown' | 'reboot' | 'halt' = 'powerdown'): void {
    this.send({ execute: 'guest-shutdown', arguments: { mode } });
  }

  /** guest-exec + guest-exec-status polling; returns exit code and decoded output. */
  async exec(path: string, args: string[] = [], opts: { waitMs?: number; pollMs?: number; wait?: boolean } = {}): Promise<{ exitcode: number | null; stdout: string; stderr: string; pid: number }> {
    const { pid } = await this.call<{ pid: number }>('guest-exec', { path, arg: args, 'capture-output': opts.wait !== false });
    if (opts.wait === false) return { exitcode: null, stdout: '', stderr: '', pid };
    const end = Date.now() + (opts.waitMs ?? 30_000);
    while (true) {
      const st = await this.call<{ exited: boolean; exitcode?: number; 'out-data'?: string; 'err-data'?: string }>('guest-exec-status', { pid });
      if (st.exited) {
        return {
          pid,
          exitcode: st.exitcode ?? null,
          stdout: Buffer.from(st['out-data'] ?? '', 'base64').toString('utf8'),
          stderr: Buffer.from(st['err-data'] ?? '', 'base64').toString('utf8'),
        };
      }
      if (Date.now() > end) throw new Error(`${path} did not exit within ${opts.waitMs ?? 30_000} ms`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
