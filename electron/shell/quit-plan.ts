// What quitting means given the VMs: quit at once when nothing is running (or everything
// running asked to be kept), otherwise ask whether to stop them or leave them running for the
// next start to adopt. Pure; the dialog lives in quit.ts.
import type { VmInfo } from '../../shared/contract';

export type QuitPlan =
  | { kind: 'quit-now'; keptRunning: string[] }
  | { kind: 'ask'; toStop: string[]; keptRunning: string[] };

const LIVE = new Set<VmInfo['state']>(['starting', 'running', 'paused', 'stopping']);

/** `role` 'client': another engine (e.g. `flotilla serve`) owns the VMs, so leaving never stops them. */
export function planQuit(vms: readonly VmInfo[], role: 'engine' | 'client'): QuitPlan {
  const live = vms.filter((v) => LIVE.has(v.state));
  const keptRunning = live.filter((v) => v.spec.keepRunningOnQuit || role === 'client').map((v) => v.name);
  const toStop = live.filter((v) => !v.spec.keepRunningOnQuit && role === 'engine').map((v) => v.name);
  return toStop.length === 0 ? { kind: 'quit-now', keptRunning } : { kind: 'ask', toStop, keptRunning };
}

export function quitQuestion(plan: Extract<QuitPlan, { kind: 'ask' }>): { message: string; detail: string } {
  const n = plan.toStop.length;
  const list = (names: string[]) => names.slice(0, 8).join(', ') + (names.length > 8 ? ` and ${names.length - 8} more` : '');
  const kept = plan.keptRunning.length ? `\n${list(plan.keptRunning)} will keep running (keep running on quit).` : '';
  return {
    message: n === 1 ? `1 VM is still running` : `${n} VMs are still running`,
    detail: `${list(plan.toStop)}.\nStop them (graceful shutdown, then forced after 30 s), or keep them running in the background; Flotilla picks them up again next time.${kept}`,
  };
}
