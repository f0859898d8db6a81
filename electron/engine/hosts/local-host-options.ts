// What the engine gives the `local` host (LocalHostOptions), and the SupervisorDeps each of its
// VMs gets from them: the defaults (node's spawn, the QEMU binary, the built guest, the stop
// deadline) are filled in here, once, so every Supervisor of the host is set up alike.
import { spawn as nodeSpawn } from 'node:child_process';
import { defaultGuestBoot } from '../default-guest-boot';
import { qemuBinary, STOP_DEADLINE_MS } from '../defaults';
import { assertNoLinkedClones } from '../lifecycle/clone';
import type { HomeLayout } from '../paths';
import type { PortAllocator } from '../port-allocator';
import type { DefaultGuestBoot } from '../qemu-args';
import type { BackoffOptions } from '../restart-backoff';
import type { SpawnFn, SupervisorDeps } from '../supervisor';
import type { VmStore } from '../vm-store';

export interface LocalHostOptions {
  layout: HomeLayout;
  accel: () => 'kvm' | 'tcg' | 'kvm:tcg';
  qemuBinary?: string;
  spawn?: SpawnFn;
  now: () => number;
  stopDeadlineMs?: number;
  /** a graceful stop presses the power button again this often (stop-ladder.ts) */
  powerdownRepeatMs?: number;
  agentGraceMs?: number;
  backoff?: BackoffOptions;
  portRange?: [number, number];
  defaultGuest?: (vmName: string) => Promise<DefaultGuestBoot>;
  /** where this computer's boot id is read, for autostart (tests: a file of their own) */
  bootIdPath?: string;
}

export function supervisorDeps(o: LocalHostOptions, store: VmStore, ports: PortAllocator): SupervisorDeps {
  return {
    layout: o.layout,
    ports,
    spawn: o.spawn ?? ((cmd, args, so) => nodeSpawn(cmd, args, so)),
    qemuBinary: qemuBinary(o.qemuBinary),
    accel: o.accel(),
    defaultGuest: o.defaultGuest ?? ((name) => defaultGuestBoot(o.layout.home, name)),
    stopDeadlineMs: o.stopDeadlineMs ?? STOP_DEADLINE_MS,
    ...(o.powerdownRepeatMs !== undefined ? { powerdownRepeatMs: o.powerdownRepeatMs } : {}),
    setDisks: (vmId, disks) => store.setDisks(vmId, disks),
    agentGraceMs: o.agentGraceMs ?? 60_000,
    ...(o.backoff ? { backoff: o.backoff } : {}),
    now: o.now,
    launchGuard: (vmId) => assertNoLinkedClones(store, vmId, 'start'),
  };
}
