// How a QEMU is stopped, as lima's driver does it: ask the guest (agent shutdown plus the ACPI
// power button, pressed again every few seconds), then QMP `quit` after the deadline, then
// SIGKILL of the process group. Force stop skips the asking. Both return once the process is
// gone (or give up after the kill); settling the exit (state, ports, files) is the caller's.
import type { AgentClient } from './agent-client';
import type { QemuProcess } from './qemu-process';
import type { QmpClient } from './qmp-client';

/** a graceful stop presses the power button again this often (default) */
export const POWERDOWN_REPEAT_MS = 5000;
/**
 * After SIGKILL the exit is certain; what remains is the kernel reaping it, which under a
 * 20-VM stop takes a moment. A stop returns only once the VM is really stopped.
 */
const AFTER_KILL_WAIT_MS = 60_000;
/** the longest one request to the guest (agent shutdown, ACPI power button) is waited for */
const ASK_MS = 2000;

/** Waits for `p` (its failure ignored) or `ms`, whichever comes first; `p` may go on by itself. */
function atMost(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    p.catch(() => undefined).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface LadderTarget {
  proc: QemuProcess;
  qmpSock: string;
  qmp(): QmpClient | null;
  /** the agent when it is ready, else null */
  agent(): AgentClient | null;
  /** true once the agent answers (at once if it does), false if it will not within `ms` */
  agentReady(ms: number): Promise<boolean>;
  log(text: string): void;
  now(): number;
}

/**
 * Agent shutdown plus the ACPI power button, pressed again until the deadline: a press that
 * lands while the guest is still booting (before its acpid or agent runs, e.g. right after a
 * reset) is lost, and a person would simply press again. Then quit, then kill.
 */
export async function gracefulStop(t: LadderTarget, opts: { deadlineMs: number; repeatMs: number; wasPaused: boolean; signal: AbortSignal }): Promise<void> {
  const { proc } = t;
  const { signal } = opts;
  const qmp = t.qmp();
  if (qmp && opts.wasPaused) await qmp.execute('cont', {}, { timeoutMs: 2000 }).catch(() => undefined);
  const end = t.now() + opts.deadlineMs;
  for (;;) {
    if (signal.aborted) return;
    // a frozen guest or QEMU answers neither: each ask waits at most what is left of the
    // deadline (and 2 s), so the deadline the log names is the one kept
    const ask = (): number => Math.max(0, Math.min(ASK_MS, end - t.now()));
    const agent = t.agent();
    await atMost(agent?.shutdown('powerdown'), ask());
    await atMost(t.qmp()?.execute('system_powerdown', {}, { timeoutMs: ASK_MS }), ask());
    const left = end - t.now();
    if (left <= 0) break;
    if (await waitExitOrAgent(t, Math.min(opts.repeatMs, left), agent === null, signal)) return;
  }
  if (signal.aborted) return;
  t.log(`the guest did not power off within ${Math.round(opts.deadlineMs / 1000)} s; sending QMP quit`);
  await t.qmp()?.execute('quit', {}, { timeoutMs: 2000 }).catch(() => undefined);
  if (await proc.waitExit(3000, signal)) return;
  if (signal.aborted) return;
  t.log('QEMU ignored quit; killing its process group');
  await proc.kill(t.qmpSock);
  await proc.waitExit(AFTER_KILL_WAIT_MS, signal);
}

/**
 * Until the process exits (true) or `ms` pass (false). While `agentPending`, also until the agent
 * answers (false): a stop asked while the guest boots lost its press and had no agent to ask, and
 * the agent answering is the first moment the guest can take one (it waited for the next press,
 * up to `repeatMs` later: a stop of a booting built-in VM took 7 s instead of 2).
 */
async function waitExitOrAgent(t: LadderTarget, ms: number, agentPending: boolean, signal: AbortSignal): Promise<boolean> {
  if (!agentPending) return t.proc.waitExit(ms, signal);
  const woken = new AbortController();
  const exit = t.proc.waitExit(ms, AbortSignal.any([signal, woken.signal]));
  void t.agentReady(ms).then((ready) => {
    if (ready) woken.abort();
  });
  const exited = await exit;
  woken.abort();
  return exited;
}

/** QMP quit, a short wait, then SIGKILL. */
export async function forcedStop(t: LadderTarget): Promise<void> {
  const { proc } = t;
  await t.qmp()?.execute('quit', {}, { timeoutMs: 1000 }).catch(() => undefined);
  if (await proc.waitExit(2000)) return;
  await proc.kill(t.qmpSock);
  await proc.waitExit(AFTER_KILL_WAIT_MS);
}
