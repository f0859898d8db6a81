// A local VM's VmInfo: the plain data (a structured clone, never the Supervisor itself) that
// crosses every transport, built from its spec, its supervisor's run-time state and its ports.
import { LOCAL_HOST, type PortEntry, type VmInfo } from '../../../shared/contract';
import { LOCAL_SETTINGS, type VmSpec } from '../../../shared/spec';
import type { Supervisor } from '../supervisor';
import { capsOf } from './host';

/** What a local VM can do. */
const LOCAL_CAPS = capsOf(['lifecycle', 'pause', 'edit', 'forwards', 'console', 'exec', 'files', 'stats', 'logs', 'clone', 'export', 'disks', 'media', 'snapshots', 'shares']);

export function localVmInfo(sup: Supervisor, spec: VmSpec, ports: PortEntry[]): VmInfo {
  return structuredClone({
    id: spec.id,
    host: LOCAL_HOST,
    caps: { ...LOCAL_CAPS, display: spec.display === 'vnc' },
    settings: LOCAL_SETTINGS,
    broken: null,
    name: spec.name,
    spec,
    state: sup.state,
    reason: sup.reason,
    stateSince: sup.stateSince,
    pid: sup.pid,
    agent: sup.agentState,
    ips: sup.ips,
    guestOs: sup.guestOs,
    ports,
    hasDisplay: spec.display === 'vnc',
    progress: sup.progress,
    lastExit: sup.lastExit,
    lastDiskCheck: sup.lastDiskCheck,
    adopted: sup.adopted,
    qmpHealthy: sup.qmpHealthy,
    stopDeadline: sup.stopDeadline,
    agentLastSeen: sup.agentLastSeen,
  });
}
