// What the UI offers for one VM: the lifecycle guards of state.ts combined with what the VM's
// backend can do (VmInfo.caps) and whether its spec could be read (VmInfo.broken). The UI asks
// these and never re-derives them, so a libvirt VM never shows a button its host cannot honour,
// and a broken VM shows exactly what its engine accepts: start (which re-reads vm.json first),
// force stop of a QEMU it left running, and delete.
import type { VmCaps } from './contract';
import { canDelete, canForceStop, canPause, canRestart, canResume, canStart, canStop, type VmState } from './state';

export interface Offerable {
  state: VmState;
  caps: VmCaps;
  broken: unknown;
}

export type VmAction = 'start' | 'stop' | 'pause' | 'resume' | 'restart' | 'forceStop' | 'delete';

export function offers(vm: Offerable, action: VmAction): boolean {
  if (vm.broken) {
    if (action === 'start') return canStart(vm);
    if (action === 'forceStop') return canForceStop(vm);
    if (action === 'delete') return canDelete(vm);
    return false;
  }
  const { caps } = vm;
  switch (action) {
    case 'start':
      return caps.lifecycle && canStart(vm);
    case 'stop':
      return caps.lifecycle && canStop(vm);
    case 'forceStop':
      return caps.lifecycle && canForceStop(vm);
    case 'restart':
      return caps.lifecycle && canRestart(vm);
    case 'delete':
      return caps.lifecycle && canDelete(vm);
    case 'pause':
      return caps.pause && canPause(vm);
    case 'resume':
      return caps.pause && canResume(vm);
  }
}

export type VmTabName = 'console' | 'display' | 'exec' | 'logs' | 'settings';

/** The VM view's tabs this VM has: each needs its capability; a broken VM has only its logs. */
export function offersTab(vm: Offerable, tab: VmTabName): boolean {
  if (vm.broken) return tab === 'logs';
  const need: Record<VmTabName, keyof VmCaps> = { console: 'console', display: 'display', exec: 'exec', logs: 'logs', settings: 'edit' };
  return vm.caps[need[tab]];
}
