// The host bar: how much of this computer the running VMs take, as configured (vCPUs, memory)
// against the host's totals from engine.info. Overcommitting CPUs is normal; memory past the
// host's total is what makes guests swap or fail, so that is the number that turns red. Without
// KVM every VM is emulated, many times slower: the bar says so, and why (engine.info's
// noKvmReason: what to change), as virt-manager does when it finds no KVM.
// Only VMs that run on this computer count: its own and those of its libvirt (qemu:///system or
// session). A VM of another host takes that host's CPUs and memory; the bar counts it apart.
import type { ReactElement } from 'react';
import type { HostInfo, HostTotals, VmInfo } from '../../../shared/contract';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { isLocalLibvirtUri } from '../../../shared/ssh-command';
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
  /** VMs up on other computers (libvirt hosts reached over ssh): not in the meters */
  elsewhere: number;
  /** the host of all of those when it is one host, else null */
  elsewhereHost: string | null;
}

/** The hosts whose VMs run on this computer. */
export function hostsHere(hosts: readonly Pick<HostInfo, 'id' | 'uri'>[]): Set<string> {
  return new Set([LOCAL_HOST, ...hosts.filter((h) => isLocalLibvirtUri(h.uri)).map((h) => h.id)]);
}

export function hostUse(vms: Iterable<Pick<VmInfo, 'state' | 'spec' | 'host'>>, here: ReadonlySet<string> = new Set([LOCAL_HOST])): HostUse {
  let running = 0;
  let paused = 0;
  let cpus = 0;
  let memoryBytes = 0;
  let elsewhere = 0;
  let elsewhereHost: string | null = null;
  for (const vm of vms) {
    if (!isActive(vm)) continue;
    if (!here.has(vm.host)) {
      elsewhereHost = elsewhere === 0 || elsewhereHost === vm.host ? vm.host : null;
      elsewhere++;
      continue;
    }
    if (vm.state === 'paused') paused++;
    else running++;
    cpus += vm.spec.cpus;
    memoryBytes += vm.spec.memoryMiB * 1024 * 1024;
  }
  return { running, paused, cpus, memoryBytes, elsewhere, elsewhereHost };
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
  const { running, paused, cpus, memoryBytes: mem, elsewhere, elsewhereHost } = useStore(useShallow((s) => hostUse(Object.values(s.vms.byId), hostsHere(s.vms.hosts))));
  const elsewhereName = useStore((s) => s.vms.hosts.find((h) => h.id === elsewhereHost)?.name ?? null);
  if (!totals) return null;
  return (
    <section className="host-bar" aria-label="This computer">
      <span className="host-running">
        {running} running{paused > 0 && `, ${paused} paused`}
        {elsewhere > 0 && <span className="host-elsewhere"> here, {elsewhere} on {elsewhereName ?? 'other hosts'}</span>}
      </span>
      <Meter label="CPUs" value={cpus} max={totals.cpus} text={`${cpus} of ${totals.cpus}`} over={false} />
      <Meter label="Memory" value={mem} max={totals.memoryBytes} text={`${formatBytes(mem)} of ${formatBytes(totals.memoryBytes)}`} over={mem > totals.memoryBytes} />
      {noKvm && <NoKvm reason={noKvmReason} />}
    </section>
  );
}
