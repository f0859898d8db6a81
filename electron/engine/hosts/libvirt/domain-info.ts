// A libvirt domain as Flotilla holds it (from dominfo, its metadata and the event stream), and
// how it shows as a VmInfo: the spec Flotilla recorded when it made the domain, or one shaped from
// libvirt's numbers for a domain made elsewhere; a host that is unreachable shows each domain's
// last known state with the reason, never a made-up "stopped".
import { capsOf, type VmCaps, type VmInfo } from '../../../../shared/contract';
import { vmName, vmSpecSchema, type SettingsRule, type Share, type VmSpec } from '../../../../shared/spec';
import type { AgentState, VmState } from '../../../../shared/state';
import type { CdDrive } from './domain-xml';
import type { readDomain } from './domain-ops';
import { uuidToId } from './virsh-parse';

export interface LibvirtDomain {
  uuid: string;
  /** the name as libvirt has it (display text only) */
  name: string;
  state: VmState;
  reason: string;
  stateSince: string;
  cpus: number;
  memoryMiB: number;
  agent: AgentState;
  ips: string[];
  /**
   * What the guest's agent says it runs (guest-get-osinfo, guest-os.ts), asked each time the agent
   * connects until it answers; undefined until then, null when the agent answered but could not say.
   */
  guestOs?: string | null;
  /** what Flotilla recorded when it created the domain (null for foreign domains) */
  meta: Record<string, unknown> | null;
  /** a foreign domain's XML has a VNC display (read once per load; Flotilla's own say it in meta) */
  vnc?: boolean;
  /** its XML has the built-in guest's console port (domains made before it have hvc0) */
  consolePort?: boolean;
  /** libvirt starts it with libvirtd (dominfo "Autostart") */
  autostart?: boolean;
  /** the domain's <description> (virsh desc), shown as its note; as virt-manager and Cockpit show it */
  description?: string;
  /** its first CD drive and the image in it (the live definition while it runs); null: no drive */
  cdrom?: CdDrive | null;
  /** its disks' target devices (vda, …), as VmInfo.spec.disks names them */
  disks?: string[];
  /** its virtiofs shared folders (domain-shares.ts) */
  shares?: Share[];
  /** it boots UEFI (OVMF, a variable store of its own) */
  uefi?: boolean;
}

/** the guest's side of the console port, as the Console tab names it */
export const CONSOLE_PORT_DEVICE = 'virtio-serial, /dev/flotilla-console';

/**
 * What a VM on a libvirt host can do (the UI hides the rest): no port forwards (libvirt 9.0's
 * user networking needs passt for them). Files go through the domain's agent, 64 KiB an agent
 * command (domain-ops.ts). Disks are libvirt's volumes (domain-disks.ts). A domain with a CD drive
 * also changes its CD (`media`, added per domain).
 */
export const LIBVIRT_CAPS: VmCaps = capsOf(['lifecycle', 'pause', 'edit', 'console', 'display', 'exec', 'files', 'stats', 'logs', 'snapshots', 'disks', 'clone', 'export', 'shares']);

/**
 * The settings Flotilla changes on a libvirt domain, with libvirt's own commands
 * (domain-edit.ts): its name, vCPUs and memory on a shut-off domain, as virt-manager and
 * Cockpit do; its description (the note) and libvirt's autostart at any time. The rest of its
 * definition is `virsh edit`'s.
 */
export const LIBVIRT_SETTINGS: SettingsRule = { editable: ['name', 'cpus', 'memoryMiB', 'note', 'autostart'], live: ['note', 'autostart'] };

/** A note from a domain's description: text only, at most what a note holds. */
export function noteOf(description: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (description ?? '').replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim().slice(0, 500);
}

/** A spec-shaped name for a foreign domain (the real name stays in VmInfo.name). */
export function specName(name: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, 63);
  return n || 'domain';
}

export function domainInfo(d: LibvirtDomain, host: { host: string; reachable: boolean; reason: string | null; stopDeadline?: string | null }): VmInfo {
  const id = uuidToId(d.uuid);
  const metaSpec = d.meta?.spec ? vmSpecSchema.safeParse(d.meta.spec) : null;
  const spec: VmSpec = metaSpec?.success
    ? {
        ...metaSpec.data,
        id,
        // libvirt's word on what can change behind Flotilla (virsh domrename, setvcpus, …)
        name: vmName.safeParse(d.name).success ? d.name : metaSpec.data.name,
        cpus: d.cpus || metaSpec.data.cpus,
        memoryMiB: Math.max(64, d.memoryMiB || metaSpec.data.memoryMiB),
        note: noteOf(d.description),
        autostart: d.autostart ?? false,
      }
    : {
        id,
        name: specName(d.name),
        // a domain Flotilla did not make: its disks are whatever its XML says; shown as "disk"
        source: { kind: 'disk', path: '/', mode: 'reference' },
        cpus: Math.max(1, Math.min(64, d.cpus || 1)),
        memoryMiB: Math.max(64, Math.min(262144, d.memoryMiB || 64)),
        firmware: d.uefi ? 'uefi' : 'bios',
        // headless, its tile previews the console text instead of a screenshot
        display: d.vnc ? 'vnc' : 'none',
        forwards: [],
        restartPolicy: 'never',
        keepRunningOnQuit: true,
        autostart: d.autostart ?? false,
        note: noteOf(d.description),
        sshKeys: [],
        createdAt: '',
        disks: [],
      };
  // the drive as libvirt has it now, never the ISO the domain was made from (cdMedium's fallback)
  if (d.cdrom) spec.cdrom = d.cdrom.medium;
  else delete spec.cdrom;
  spec.disks = d.disks ?? [];
  spec.shares = d.shares ?? [];
  const reachable = host.reachable;
  const stopping = reachable && !!host.stopDeadline && (d.state === 'running' || d.state === 'stopping');
  const info: VmInfo = {
    id,
    host: host.host,
    caps: { ...LIBVIRT_CAPS, display: spec.display === 'vnc', media: !!d.cdrom },
    settings: LIBVIRT_SETTINGS,
    broken: null,
    name: d.name,
    spec,
    // libvirt says "running" until the guest starts its shutdown; Flotilla's stop waits meanwhile
    state: stopping ? 'stopping' : d.state,
    reason: stopping ? 'graceful stop requested: shutdown, then destroy at the deadline' : reachable ? d.reason : `host ${host.host} unreachable (last known: ${d.state}): ${host.reason ?? ''}`.trim(),
    stateSince: d.stateSince,
    pid: null,
    agent: reachable ? d.agent : 'unknown',
    ips: d.ips,
    guestOs: reachable ? (d.guestOs ?? null) : null,
    ports: [],
    hasDisplay: spec.display === 'vnc',
    ...(d.consolePort ? { consoleDevice: CONSOLE_PORT_DEVICE } : {}),
    progress: null,
    lastExit: null,
    lastDiskCheck: null,
    adopted: true,
    qmpHealthy: reachable,
    stopDeadline: stopping ? host.stopDeadline! : null,
    // the agent is asked on events, not watched
    agentLastSeen: null,
  };
  return info;
}

/**
 * The domain as one read (dominfo + dumpxml, domain-ops.ts readDomain) has it. What only events
 * and the agent tell is kept from `prev` while the run state is the same: the reason and since
 * when, the agent's state, the addresses and the guest's OS.
 */
export function domainFromRead(read: Awaited<ReturnType<typeof readDomain>>, prev: LibvirtDomain | undefined, now: string): LibvirtDomain {
  const { info, meta, description, vnc, consolePort, cdrom, disks, shares, uefi } = read;
  const same = prev?.state === info.state;
  const running = info.state === 'running';
  return {
    uuid: info.uuid,
    name: info.name,
    state: info.state,
    reason: same ? prev.reason : `libvirt reports ${info.stateWord || 'unknown'}`,
    stateSince: same ? prev.stateSince : now,
    cpus: info.cpus,
    memoryMiB: info.memoryMiB,
    agent: running ? (prev?.agent ?? 'connecting') : 'unknown',
    ips: running ? (prev?.ips ?? []) : [],
    ...(running && prev?.guestOs !== undefined ? { guestOs: prev.guestOs } : {}),
    meta,
    ...(vnc !== undefined ? { vnc } : {}),
    consolePort,
    cdrom,
    disks,
    shares,
    uefi,
    autostart: info.autostart,
    ...(description !== undefined ? { description } : {}),
  };
}
