// The VM lifecycle as data: states, allowed transitions and the guards the UI and
// the engine both ask (as Cockpit's domainCanRun). Nothing here re-derives rules elsewhere.

export const VM_STATES = ['stopped', 'starting', 'running', 'paused', 'stopping', 'crashed'] as const;
export type VmState = (typeof VM_STATES)[number];

const TRANSITIONS: Record<VmState, readonly VmState[]> = {
  stopped: ['starting'],
  // starting can fail (back to stopped/crashed) or be aborted (stopping)
  starting: ['running', 'paused', 'stopping', 'stopped', 'crashed'],
  running: ['paused', 'stopping', 'stopped', 'crashed'],
  paused: ['running', 'stopping', 'stopped', 'crashed'],
  stopping: ['stopped', 'crashed'],
  crashed: ['starting', 'stopped'],
};

export function canTransition(from: VmState, to: VmState): boolean {
  return TRANSITIONS[from].includes(to);
}

interface HasState {
  state: VmState;
}

export const canStart = (vm: HasState): boolean => vm.state === 'stopped' || vm.state === 'crashed';
/** Graceful stop (ACPI powerdown → deadline → quit → kill). */
export const canStop = (vm: HasState): boolean => vm.state === 'running' || vm.state === 'paused' || vm.state === 'starting';
/** Force stop is also offered while a graceful stop is in progress. */
export const canForceStop = (vm: HasState): boolean => canStop(vm) || vm.state === 'stopping';
export const canPause = (vm: HasState): boolean => vm.state === 'running';
export const canResume = (vm: HasState): boolean => vm.state === 'paused';
export const canRestart = (vm: HasState): boolean => vm.state === 'running' || vm.state === 'paused';
export const canDelete = (vm: HasState): boolean => vm.state === 'stopped' || vm.state === 'crashed';
export const canEdit = (vm: HasState): boolean => vm.state === 'stopped' || vm.state === 'crashed';
/** A live QEMU process exists (consoles, exec, stats make sense). */
export const isActive = (vm: HasState): boolean =>
  vm.state === 'running' || vm.state === 'paused' || vm.state === 'starting' || vm.state === 'stopping';

export const AGENT_STATES = ['unknown', 'connecting', 'ready', 'unavailable'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** Why a command or a file cannot go to a paused VM, in the same words on every host. */
export const pausedRefusal = (name: string): string => `${name} is paused: resume it first (its guest agent cannot answer)`;
