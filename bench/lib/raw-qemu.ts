// The limit Flotilla is measured against: QEMU spawned by the bench itself with exactly the
// arguments the engine generated (read from the engine's QEMU's /proc/<pid>/cmdline), only
// the per-VM socket and pidfile paths moved to a fresh directory, and each qcow2 disk of the VM
// replaced by a copy-on-write overlay of it in that directory. Readiness is judged the way
// the engine judges it (guest-sync-delimited then guest-ping, with the engine's AgentClient),
// but polled without pauses, so it is the earliest moment the guest could be called ready.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient } from '../../electron/engine/agent-client';
import { qemuRunDir, spawnQemu, type SpawnedQemu } from '../../electron/engine/guest/guest-launcher';

export function cmdlineOf(pid: number): string[] {
  const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return raw.split('\0').filter((s, i, a) => i < a.length - 1 || s !== '');
}

export interface RawQemu extends SpawnedQemu {
  runDir: string;
  serialSock: string;
  agentSock: string;
}

const templates = new Map<string, string>();

/** The raw twins' copy of an engine VM disk, made on first use beside the engine's data (removed with it). */
function templateOf(disk: string, engineRunDir: string): string {
  let t = templates.get(disk);
  if (!t) {
    t = join(engineRunDir, '..', '..', `raw-twin-${templates.size}.qcow2`);
    execFileSync('qemu-img', ['convert', '-U', '-O', 'qcow2', disk, t]);
    templates.set(disk, t);
  }
  return t;
}

/** `engineRunDir` is the engine's run/<id> dir that every socket/pidfile path of `argv` lives in. */
export async function spawnRaw(argv: string[], engineRunDir: string): Promise<RawQemu> {
  const runDir = await qemuRunDir('fbr-');
  const [bin, ...args] = argv;
  let moved = args.map((a) => a.split(engineRunDir).join(runDir));
  // The built-in Linux has a disk of its own (vms/<id>/disk.qcow2). QEMU locks an image it writes,
  // so a second QEMU on the same file fails at once (a storm of raw twins lost 7 of 8), and an
  // overlay on it cannot open its backing file while the engine's VM runs. So each disk is copied
  // once (qemu-img convert -U: the first raw start comes after the engine's first start and stop,
  // its disk formatted and idle) and every raw QEMU writes to its own overlay on that copy.
  const disks = [...new Set(moved.flatMap((a) => /(?:^|,)filename=([^,]+\.qcow2)(?:,|$)/.exec(a)?.[1] ?? []))].filter((p) => !p.startsWith(runDir));
  disks.forEach((disk, i) => {
    const overlay = join(runDir, `overlay-${i}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', templateOf(disk, engineRunDir), '-F', 'qcow2', overlay]);
    moved = moved.map((a) => a.split(`filename=${disk}`).join(`filename=${overlay}`));
  });
  return { ...spawnQemu(bin!, moved, runDir, 16_000, { detached: true }), runDir, serialSock: join(runDir, 'ser.sock'), agentSock: join(runDir, 'qga.sock') };
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
