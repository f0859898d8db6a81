// What the UI offers for one VM: the lifecycle guards of state.ts combined with what the VM's
// backend can do (VmInfo.caps) and whether its spec could be read (VmInfo.broken). The UI asks
// these and never re-derives them, so a libvirt VM never shows a button its host cannot honour,
// and a broken VM shows exactly what its engine accepts: start (which re-reads vm.json first),
// force stop of a QEMU it left running, and delete.
import type { VmCaps } from './contract';
import { canDelete, canEdit, canForceStop, canPause, canRestart, canResume, canStart, canStop, type VmState } from './state';

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

export type VmTabName = 'console' | 'display' | 'exec' | 'files' | 'snapshots' | 'logs' | 'settings';

/** The VM view's tabs this VM has: each needs its capability; a broken VM has only its logs. */
export function offersTab(vm: Offerable, tab: VmTabName): boolean {
  if (vm.broken) return tab === 'logs';
  const need: Record<VmTabName, keyof VmCaps> = { console: 'console', display: 'display', exec: 'exec', files: 'files', snapshots: 'snapshots', logs: 'logs', settings: 'edit' };
  return vm.caps[need[tab]];
}

/** The lifecycle operations of issue 12, offered per VM (menu items, buttons, tabs). */
export type VmOp = 'snapshots' | 'clone' | 'export' | 'addDisk' | 'removeDisk' | 'resizeDisk' | 'insertCd' | 'ejectCd';

/** Hidden (the VM's host cannot do it), or shown: enabled, or disabled with the reason to show in its tooltip. */
export type OpOffer = { shown: false } | { shown: true; disabledReason: string | null };

export interface OfferableWithSpec extends Offerable {
  spec: { cdrom?: string | null | undefined; source: { kind: string; path?: string } };
}

/** The CD in the VM's drive: a path, null for an empty drive, undefined when it has no drive. */
export function cdMedium(vm: OfferableWithSpec): string | null | undefined {
  if (vm.spec.cdrom !== undefined) return vm.spec.cdrom;
  return vm.spec.source.kind === 'iso' ? vm.spec.source.path : undefined;
}

const OP_CAP: Record<VmOp, keyof VmCaps> = {
  snapshots: 'snapshots',
  clone: 'clone',
  export: 'export',
  addDisk: 'disks',
  removeDisk: 'disks',
  resizeDisk: 'disks',
  insertCd: 'media',
  ejectCd: 'media',
};

export function offerOp(vm: OfferableWithSpec, op: VmOp): OpOffer {
  if (vm.broken || !vm.caps[OP_CAP[op]]) return { shown: false };
  const stopped = canEdit(vm);
  const runningOrStopped = stopped || vm.state === 'running';
  const why = (reason: string | null): OpOffer => ({ shown: true, disabledReason: reason });
  switch (op) {
    case 'clone':
      return why(stopped ? null : 'Stop the VM to clone it');
    case 'export':
      return why(stopped ? null : 'Stop the VM to export it');
    case 'addDisk':
      return why(stopped ? null : 'Stop the VM to add a disk');
    case 'removeDisk':
      return why(stopped ? null : 'Stop the VM to remove a disk');
    case 'snapshots':
    case 'resizeDisk':
      return why(runningOrStopped ? null : `Not while the VM is ${vm.state}`);
    case 'insertCd': {
      if (!runningOrStopped) return why(`Not while the VM is ${vm.state}`);
      // a drive is added only at start: a running VM without one cannot take a CD
      if (!stopped && cdMedium(vm) === undefined) return why('This VM has no CD drive while it runs: stop it to insert a CD');
      return why(null);
    }
    case 'ejectCd': {
      if (typeof cdMedium(vm) !== 'string') return { shown: false };
      return why(runningOrStopped ? null : `Not while the VM is ${vm.state}`);
    }
  }
}
