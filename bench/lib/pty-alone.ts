// The guest's pty alone (bench/pty-alone.c): how fast the default guest moves bytes through a pty
// with no relay, no virtio port and no host, measured in a raw twin beside the console runs. It is
// the bound on any console that goes through a pty in this guest.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentClient } from '../../electron/engine/agent-client';

export type PtyMode = 'shell' | 'raw';
/** where the helper goes in the guest (its root is RAM-backed) */
const GUEST_PATH = '/tmp/pty-alone';

/** Compiles bench/pty-alone.c with the host's gcc (static: the guest has only its programs' libraries). */
export function compilePtyAlone(benchDir: string): Buffer {
  const work = mkdtempSync(join(tmpdir(), 'flotilla-pty-alone-'));
  try {
    execFileSync('gcc', ['-static', '-O2', '-s', '-std=gnu11', '-Wall', '-o', join(work, 'pty-alone'), join(benchDir, 'pty-alone.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(join(work, 'pty-alone'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Puts the helper into the guest; then `ptyAloneRun` can run it. */
export async function installPtyAlone(agent: AgentClient, binary: Buffer): Promise<void> {
  await agent.writeFile(GUEST_PATH, binary);
  const r = await agent.exec(['/bin/chmod', '755', GUEST_PATH]);
  if (r.exitCode !== 0) throw new Error(`chmod of ${GUEST_PATH} in the guest failed: ${r.stderr}`);
}

/** One run: `bytes` through a fresh pty in `mode`; MB/s from the first byte read to the last. */
export async function ptyAloneRun(agent: AgentClient, bytes: number, mode: PtyMode): Promise<number> {
  const r = await agent.exec([GUEST_PATH, String(bytes), mode], { timeoutMs: 120_000 });
  const m = /^(\d+(?:\.\d+)?) \d+$/m.exec(r.stdout);
  if (r.exitCode !== 0 || !m) throw new Error(`pty-alone ${mode} in the guest failed (exit ${r.exitCode}): ${r.stderr.trim() || r.stdout.trim()}`);
  return Number(m[1]);
}
