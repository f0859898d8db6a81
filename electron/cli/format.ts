// Human-readable output of the CLI (the --json output is the contract DTOs themselves).
import type { EngineInfo, HostInfo, HostVolume, PortEntry, VmInfo } from '../../shared/contract';
import { LOCAL_HOST } from '../../shared/contract-names';
import { cdMedium } from '../../shared/offers';

export function formatPorts(ports: readonly PortEntry[]): string {
  return ports
    .filter((p) => p.purpose === 'forward')
    .map((p) => `${p.host}:${p.hostPort}->${p.guestPort}/${p.proto}`)
    .join(', ');
}

export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** The agent state, marked when it is the last known one (from an earlier engine's record). */
export function agentText(vm: VmInfo, long = false): string {
  if (vm.agentLastSeen === null) return vm.agent;
  return long ? `${vm.agent} (last known, seen ${vm.agentLastSeen})` : `${vm.agent} (last known)`;
}

/** The VM table; `host`: the list was of that host only (`list --host`), whose create line it gives when empty. */
export function formatList(vms: readonly VmInfo[], host?: string): string {
  if (vms.length === 0) return host && host !== LOCAL_HOST ? `no VMs on host ${host} yet: create one with \`flotilla create NAME --host ${host}\`\n` : 'no VMs yet: create one with `flotilla create NAME`\n';
  // a HOST column once any VM lives on another host than this machine
  const withHost = vms.some((v) => v.host !== LOCAL_HOST);
  const rows = [[...(withHost ? ['HOST'] : []), 'NAME', 'STATE', 'AGENT', 'PID', 'IPS', 'PORTS']];
  for (const vm of vms) {
    const state = vm.broken ? `broken (${vm.state})` : vm.state;
    rows.push([...(withHost ? [vm.host] : []), vm.name, state, agentText(vm), vm.pid === null ? '-' : String(vm.pid), vm.ips.join(',') || '-', formatPorts(vm.ports) || '-']);
  }
  return formatTable(rows);
}

export function formatHosts(hosts: readonly HostInfo[]): string {
  const rows = [['NAME', 'KIND', 'URI', 'STATE', 'VMS']];
  for (const h of hosts) rows.push([h.name, h.kind, h.uri ?? '-', h.state === 'failed' && h.reason ? `failed: ${h.reason}` : h.state, String(h.vmCount)]);
  return formatTable(rows);
}

/** A libvirt host's storage volumes: pool, name, kind, size and the path to give create. */
export function formatVolumes(vols: readonly (HostVolume & { kind: string })[]): string {
  const rows = [['POOL', 'NAME', 'KIND', 'SIZE', 'PATH']];
  for (const v of vols) rows.push([v.pool, v.name, v.kind, v.bytes === null ? '-' : sizeText(v.bytes), v.path]);
  return formatTable(rows);
}

/** Bytes the way virsh and ls -h print them: 1.5 GiB, 640 MiB. */
function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v >= 10 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

function sourceText(vm: VmInfo): string {
  const s = vm.spec.source;
  switch (s.kind) {
    case 'default':
      return 'default guest';
    case 'iso':
      return `ISO ${s.path} (disk ${s.diskSizeGiB} GiB)`;
    case 'disk':
      return `disk ${s.path} (${s.mode})`;
    case 'kernel':
      return `kernel ${s.kernel}${s.initrd ? ` + initrd ${s.initrd}` : ''}${s.append ? ` append "${s.append}"` : ''}${s.disk ? ` disk ${s.disk}` : ''}`;
  }
}

export function formatInfo(vm: VmInfo): string {
  const lines: [string, string][] = [
    ['name', vm.name],
    ['id', vm.id],
    ['state', `${vm.state} (${vm.reason}) since ${vm.stateSince}`],
    ['pid', vm.pid === null ? '-' : String(vm.pid) + (vm.adopted ? ' (adopted)' : '')],
    ['agent', agentText(vm, true)],
    ['ips', vm.ips.join(', ') || '-'],
    ['guest os', vm.guestOs ?? '-'],
    ['ports', formatPorts(vm.ports) || '-'],
    ['source', sourceText(vm)],
    ['cpus', String(vm.spec.cpus)],
    ['memory', `${vm.spec.memoryMiB} MiB`],
    ['firmware', vm.spec.firmware],
    ['display', vm.spec.display],
    ['forwards', vm.spec.forwards.map((f) => `${f.guestPort}${f.hostPort ? `:${f.hostPort}` : ''}/${f.proto}`).join(', ') || '-'],
    ['restart', vm.spec.restartPolicy],
    ['keep running on quit', vm.spec.keepRunningOnQuit ? 'yes' : 'no'],
  ];
  // what `disk list`, `media` and `share list` say more about
  if (vm.caps.disks) lines.push(['disks', vm.spec.disks.join(', ') || '-']);
  const cd = cdMedium(vm);
  if (vm.caps.media && cd !== undefined) lines.push(['cd', cd ?? 'empty drive']);
  if (vm.caps.shares && vm.spec.shares?.length) lines.push(['shares', vm.spec.shares.map((s) => `${s.tag} → ${s.hostPath}${s.readOnly ? ' (read-only)' : ''}`).join(', ')]);
  // a libvirt domain's autostart is libvirt's (virsh autostart), not this spec's
  if (vm.caps.edit) lines.push(['start automatically', vm.spec.autostart ? 'yes, after this computer starts' : 'no']);
  if (vm.broken) lines.push(['broken', vm.broken.reason]);
  if (vm.stopDeadline) lines.push(['forced stop at', vm.stopDeadline]);
  if (!vm.qmpHealthy) lines.push(['qmp', 'not answering (the VM is left alone)']);
  if (vm.lastExit) lines.push(['last exit', `${vm.lastExit.reason} at ${vm.lastExit.at}`]);
  if (vm.lastDiskCheck) lines.push(['last disk check', `exit ${vm.lastDiskCheck.exitCode}: ${vm.lastDiskCheck.summary}`]);
  let out = formatPairs(lines);
  if (vm.state === 'crashed' && vm.lastExit?.logTail.length) {
    out += `last log lines:\n${vm.lastExit.logTail.map((l) => `  ${l}`).join('\n')}\n`;
  }
  return out;
}

function formatPairs(lines: [string, string][]): string {
  const w = Math.max(...lines.map(([k]) => k.length));
  // a value of several lines (qemu-img check's summary) keeps to its column
  return lines.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${v.trimEnd().replace(/\n/g, `\n${' '.repeat(w + 2)}`)}`).join('\n') + '\n';
}

const GiB = 2 ** 30;

/** `flotilla info` without a VM: this computer as the engine sees it, and why VMs would be slow. */
export function formatEngineInfo(e: EngineInfo): string {
  const lines: [string, string][] = [
    ['flotilla', e.version],
    ['qemu', e.qemuVersion ?? 'not found (install qemu-system-x86)'],
    ['kvm', e.kvm ? 'yes' : `no: VMs are emulated, many times slower${e.noKvmReason ? `, because ${e.noKvmReason}` : ''}`],
    ['built-in linux', e.defaultImage.ready ? `${e.defaultImage.kernelVersion ?? 'ready'}${e.defaultImage.stale ? ' (built by an older Flotilla: flotilla image build-default)' : ''}` : 'not built (flotilla image build-default)'],
    ['home', e.home],
  ];
  if (e.hostTotals) lines.push(['this computer', `${e.hostTotals.cpus} CPUs, ${(e.hostTotals.memoryBytes / GiB).toFixed(1)} GiB memory (${(e.hostTotals.freeMemoryBytes / GiB).toFixed(1)} GiB free)`]);
  return formatPairs(lines);
}

/** What `--json` prints: the contract's DTO, indented. */
export function formatJson(v: unknown): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
