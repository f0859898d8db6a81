// The host bar: how much of this computer the running VMs take, as configured (vCPUs, memory)
// against the host's totals from engine.info. Overcommitting CPUs is normal; memory past the
// host's total is what makes guests swap or fail, so that is the number that turns red. Without
// KVM every VM is emulated, many times slower: the bar says so, and why (engine.info's
// noKvmReason: what to change), as virt-manager does when it finds no KVM.
import type { ReactElement } from 'react';
import type { HostTotals, VmInfo } from '../../../shared/contract';
import { isActive } from '../../../shared/state';
import { formatBytes } from '../lib/format';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/store';

export interface HostUse {
  /** VMs up and not paused (starting and stopping ones included) */
  running: number;
  /** paused VMs: they run no guest code, but keep their memory */
  paused: number;
  cpus: number;
  memoryBytes: number;
}

export function hostUse(vms: Iterable<Pick<VmInfo, 'state' | 'spec'>>): HostUse {
  let running = 0;
  let paused = 0;
  let cpus = 0;
  let memoryBytes = 0;
  for (const vm of vms) {
    if (!isActive(vm)) continue;
    if (vm.state === 'paused') paused++;
    else running++;
    cpus += vm.spec.cpus;
    memoryBytes += vm.spec.memoryMiB * 1024 * 1024;
  }
  return { running, paused, cpus, memoryBytes };
}

function Meter({ label, value, max, text, over }: { label: string; value: number; max: number; text: string; over: boolean }): ReactElement {
  return (
    <div className={`host-meter${over ? ' over' : ''}`}>
      <span className="host-meter-label">{label}</span>
      <meter aria-label={`${label} ${text}`} min={0} max={max} value={Math.min(value, max)} />
      <span className="host-meter-text">{text}</span>
    </div>
  );
}

function NoKvm({ reason }: { reason: string | null }): ReactElement {
  return (
    <details className="host-accel">
      <summary>No KVM: VMs are emulated</summary>
      <p>
        Every VM runs many times slower than with KVM{reason ? `: ${reason}` : '.'}
        {reason ? '.' : ''}
      </p>
    </details>
  );
}

export function HostBar(): ReactElement | null {
  const totals: HostTotals | undefined = useStore((s) => s.ui.engine?.hostTotals);
  const noKvm = useStore((s) => s.ui.engine?.kvm === false);
  const noKvmReason = useStore((s) => s.ui.engine?.noKvmReason ?? null);
  // one pass over the VMs, compared field by field, so a stats tick never re-renders the bar
  const { running, paused, cpus, memoryBytes: mem } = useStore(useShallow((s) => hostUse(Object.values(s.vms.byId))));
  if (!totals) return null;
  return (
    <section className="host-bar" aria-label="This computer">
      <span className="host-running">
        {running} running{paused > 0 && `, ${paused} paused`}
      </span>
      <Meter label="CPUs" value={cpus} max={totals.cpus} text={`${cpus} of ${totals.cpus}`} over={false} />
      <Meter label="Memory" value={mem} max={totals.memoryBytes} text={`${formatBytes(mem)} of ${formatBytes(totals.memoryBytes)}`} over={mem > totals.memoryBytes} />
      {noKvm && <NoKvm reason={noKvmReason} />}
    </section>
  );
}
