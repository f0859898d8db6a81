// Boot benchmark (issue 2 §5, issue 7 defaultBootMs): boots the default guest N times, one at a
// time, 1 vCPU under TCG, and reports QEMU spawn → guest-ping answered. A benchmark, not a test.
// `npm run bench:boot` runs it; the full bench imports benchDefaultBoot().
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildDefaultGuest, readDefaultGuest } from '../electron/engine/guest/build-default';
import { GuestAgentProbe } from '../electron/engine/guest/guest-agent-probe';
import { connectWhenReady, launchGuest } from '../electron/engine/guest/guest-launcher';
import { DEFAULT_GUEST_PROFILE, type GuestBootProfile } from '../electron/engine/guest/boot-profile';

export interface BootBenchOptions {
  /** FLOTILLA_HOME holding images/default (built first if missing) */
  home?: string;
  /** a guest dir to boot instead of <home>/images/default */
  dir?: string;
  runs?: number;
  profile?: GuestBootProfile;
  append?: string;
  log?: (line: string) => void;
}

export interface Stat {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function stat(values: number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: values };
}

export function defaultHome(): string {
  return process.env.FLOTILLA_HOME ?? join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'flotilla');
}

/** CPU time (user+system) a process has used so far, in ms; null when /proc cannot tell. */
function cpuMs(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of the full line, in clock ticks (100 Hz on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** One boot: spawn → guest-ping answered, in ms. Then a clean guest-shutdown. */
export async function bootOnce(dir: string, opts: { profile?: GuestBootProfile; append?: string } = {}): Promise<number> {
  return (await bootOnceDetailed(dir, opts)).ms;
}

/**
 * Like bootOnce, also reporting QEMU's CPU time up to agent-ready: on a shared machine wall time
 * swings with other load, while CPU time of a 1-vCPU TCG guest tracks the boot's own work.
 */
export async function bootOnceDetailed(dir: string, opts: { profile?: GuestBootProfile; append?: string } = {}): Promise<{ ms: number; qemuCpuMs: number | null }> {
  const t0 = performance.now();
  const g = await launchGuest({ dir, name: 'bench', ...(opts.profile ? { profile: opts.profile } : {}), ...(opts.append ? { append: opts.append } : {}) });
  try {
    (await connectWhenReady(g.agentSock)).destroy();
    const agent = await GuestAgentProbe.connect(g.agentSock);
    // retry the sync often: the agent's start is what we are timing
    await agent.sync(120_000, 100);
    await agent.call('guest-ping');
    const ms = performance.now() - t0;
    const qemuCpuMs = cpuMs(g.proc.pid);
    agent.shutdown();
    const code = await Promise.race([g.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
    agent.close();
    if (code !== 0) throw new Error(`guest did not power off cleanly (${String(code)}): ${g.stderr()}`);
    return { ms, qemuCpuMs };
  } finally {
    await g.dispose();
  }
}

export async function benchDefaultBoot(opts: BootBenchOptions = {}): Promise<Stat> {
  const log = opts.log ?? (() => {});
  let dir = opts.dir;
  if (!dir) {
    const home = opts.home ?? defaultHome();
    const state = await readDefaultGuest(home);
    if (state.ready) dir = state.dir;
    else {
      log(`building the default guest in ${state.dir}`);
      dir = (await buildDefaultGuest({ home })).dir;
    }
  }
  // one boot first, not counted: the first boot after a build reads 10–15 % slower (the build's
  // writeback and a cold QEMU binary; measured 2177 ms against 1863–1962 for the next four)
  const warm = await bootOnce(dir, { profile: opts.profile ?? DEFAULT_GUEST_PROFILE, ...(opts.append ? { append: opts.append } : {}) });
  log(`warm-up boot (not counted): ${warm.toFixed(0)} ms`);
  const runs: number[] = [];
  for (let i = 0; i < (opts.runs ?? 5); i++) {
    const ms = await bootOnce(dir, { profile: opts.profile ?? DEFAULT_GUEST_PROFILE, ...(opts.append ? { append: opts.append } : {}) });
    log(`run ${i + 1}: ${ms.toFixed(0)} ms`);
    runs.push(Math.round(ms));
  }
  return stat(runs);
}

if (/boot\.[jt]s$/.test(process.argv[1] ?? '')) {
  const runs = Number(process.env.BOOT_RUNS ?? 5);
  benchDefaultBoot({ runs, log: (l) => console.log(l) }).then(
    (s) => {
      console.log(`default guest boot → agent ready (${s.runs.length} runs, 1 vCPU, TCG): median ${s.median} ms, min ${s.min} ms, max ${s.max} ms`);
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
