// The limit Flotilla is measured against: QEMU spawned by the bench itself with exactly the
// arguments the engine generated (read from the engine's QEMU's /proc/<pid>/cmdline), only
// the per-VM socket and pidfile paths moved to a fresh directory. Readiness is judged the way
// the engine judges it (guest-sync-delimited then guest-ping, with the engine's AgentClient),
// but polled without pauses, so it is the earliest moment the guest could be called ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentClient } from '../../electron/engine/agent-client';

export function cmdlineOf(pid: number): string[] {
  const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return raw.split('\0').filter((s, i, a) => i < a.length - 1 || s !== '');
}

export interface RawQemu {
  proc: ChildProcess;
  runDir: string;
  serialSock: string;
  agentSock: string;
  exited: Promise<void>;
  stderr(): string;
  dispose(): Promise<void>;
}

/** `engineRunDir` is the engine's run/<id> dir that every socket/pidfile path of `argv` lives in. */
export async function spawnRaw(argv: string[], engineRunDir: string): Promise<RawQemu> {
  // short names: unix socket paths must stay under 108 bytes
  const runDir = await mkdtemp(join(tmpdir(), 'fbr-'));
  await chmod(runDir, 0o700);
  const [bin, ...args] = argv;
  const moved = args.map((a) => a.split(engineRunDir).join(runDir));
  const proc = spawn(bin!, moved, { stdio: ['ignore', 'ignore', 'pipe'], cwd: runDir });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    if (err.length < 16_000) err += d;
  });
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.once('error', (e) => {
      err += String(e);
      resolve();
    });
  });
  return {
    proc,
    runDir,
    serialSock: join(runDir, 'ser.sock'),
    agentSock: join(runDir, 'qga.sock'),
    exited,
    stderr: () => err,
    dispose: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once the guest agent answers a sync and a ping. Before the guest opens its port QEMU
 * holds the bytes we send, so one long sync is answered the moment qemu-ga starts. `poll` imitates
 * a client that gives each attempt a deadline and pauses between attempts (as the engine does).
 */
export async function waitAgentReady(raw: RawQemu, timeoutMs = 180_000, poll?: { attemptMs: number; napMs: number }): Promise<AgentClient> {
  const end = Date.now() + timeoutMs;
  let dead = false;
  void raw.exited.then(() => (dead = true));
  while (true) {
    if (dead) throw new Error(`raw QEMU exited before its agent answered: ${raw.stderr().slice(-400)}`);
    const left = end - Date.now();
    if (left <= 0) throw new Error('raw QEMU: guest agent did not answer in time');
    try {
      const a = await AgentClient.connect(raw.agentSock, { timeoutMs: poll ? Math.min(poll.attemptMs, left) : left });
      await a.ping(poll ? Math.min(poll.attemptMs, left) : left);
      return a;
    } catch {
      await nap(poll ? poll.napMs : 10); // socket not created yet, or (engine-like polling) no answer within the attempt
    }
  }
}
