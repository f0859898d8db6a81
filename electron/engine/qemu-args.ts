// Builds the qemu-system-x86_64 argument array for one VM. Pure: spec + resources in, args out.
// Composed section by section (identity, machine, memory/cpus, firmware, disks/sources, chardevs,
// network, display) so each section can be read and tested on its own.
//
// Decisions worth knowing:
// - Guest reboots stay inside QEMU (no -no-reboot) so a reboot keeps the same PID and sockets; the
//   engine's restart (stop + start) is separate. Only the default guest's boot profile may ask for
//   -no-reboot (defaultGuest.noReboot).
// - ISO VMs attach the blank disk first and the CD second in boot order: firmware skips the empty
//   disk and boots the CD; once an OS is installed, the disk boots without detaching the ISO.
// - Every user path put inside a QEMU option string has its commas doubled, QEMU's escape, so a
//   path cannot inject extra options.
// - Every disk, CD and firmware flash is attached with two -blockdev nodes of fixed names
//   (qemu-block-args.ts, which builds the disks and the CD drive).
import { dirname, join } from 'node:path';
import type { PortEntry } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import type { VmSpec } from '../../shared/spec';
import { UART_SOCK } from './paths';
import { blockdevArgs, diskArgs, escapeOptValue, extraDiskArgs, mediaArgs, PFLASH_CODE, PFLASH_VARS, virtio } from './qemu-block-args';

export { blockdevArgs, CDROM_ID, CDROM_QDEV_ID, cdromMedium, DISK_ID, escapeOptValue, EXTRA_DISK_RE, PFLASH_CODE, PFLASH_VARS } from './qemu-block-args';

/**
 * Where a default guest's console (the engine's serial socket) is, as its manifest records it:
 * - 'ttyS0': the first UART. Lossless (a 16550 waits for its reader) but ~0.3 MB/s under TCG.
 * - 'hvc0': a virtio *console* port (guests built before 'vport'). ~30× faster than the UART, but
 *   QEMU never throttles console ports: what the socket cannot take at once is dropped.
 * - 'vport': a plain virtio-serial port, which QEMU throttles when the socket is full (the guest's
 *   writer then waits), so nothing is dropped; in the guest a relay (flotilla-relay) joins it to a pty
 *   running the shell. The kernel's log stays on the UART.
 */
export type GuestConsoleKind = 'ttyS0' | 'hvc0' | 'vport';

/** The console port's name on the virtio-serial bus; the guest's relay finds its port by it. */
export const CONSOLE_PORT_NAME = 'org.flotilla.console.0';

export const DEFAULT_MACHINE = 'q35';
export const VM_DISK_FILE = 'disk.qcow2';
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/**
 * Per-VM UEFI variables, qcow2 so that a full (RAM + disks) snapshot can include them; QEMU's
 * snapshot-save refuses a writable raw node. VMs made before this keep a raw `ovmf-vars.fd`, which
 * firmware-vars.ts converts on their next start.
 */
export const OVMF_VARS_FILE = 'ovmf-vars.qcow2';
export const OVMF_VARS_LEGACY_FILE = 'ovmf-vars.fd';
export const SANDBOX_OPTS = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';

export interface DefaultGuestBoot {
  kernel: string;
  initrd: string;
  append: string;
  machine?: string;
  /** from the guest's boot profile: a guest reboot (or panic) ends QEMU instead of looping */
  noReboot?: boolean;
  /** from the guest's boot profile: extra TCG properties, e.g. 'tb-size=64' */
  tcgAccelProps?: string;
  /** from the guest's boot profile: CPU model under TCG (KVM always uses `host`) */
  tcgCpu?: string;
  /** from the guest's manifest: where its console is (see GuestConsoleKind); default 'ttyS0' */
  console?: GuestConsoleKind;
  /** from the guest's manifest: a -bios firmware file from QEMU's data dir (qboot.rom boots it faster than SeaBIOS) */
  bios?: string;
  /**
   * the kernel for UEFI boots: one with an EFI stub (Debian's bzImage). OVMF runs a fw_cfg kernel
   * as an EFI application; the PVH ELF in `kernel` is not one. Absent in guests built before this.
   */
  uefiKernel?: string;
}

export interface QemuResources {
  /** used by the supervisor, not part of the args */
  qemuBinary?: string;
  accel: 'kvm' | 'tcg' | 'kvm:tcg';
  qmpSock: string;
  serialSock: string;
  agentSock: string;
  vncSock: string;
  pidFile: string;
  vmDir: string;
  /** host ports from the allocator; only purpose 'forward' entries are used */
  forwards: PortEntry[];
  defaultGuest?: DefaultGuestBoot;
  ovmfCode?: string;
  /** per-VM writable qcow2 copy of OVMF_VARS; default <vmDir>/ovmf-vars.qcow2 */
  ovmfVars?: string;
  startPaused?: boolean;
  /**
   * Format of a user's disk used by reference (source disk/reference, or kernel's disk), as detected
   * by qemuImgInfo. Required then: guessing raw for a qcow2 file would let the guest corrupt it.
   */
  referenceDiskFormat?: string;
  /** built-in Linux: a file of SSH public keys, passed to the guest as fw_cfg opt/org.flotilla/authorized_keys */
  authorizedKeys?: string;
  /** shared folders: each one's virtiofsd socket, ready before QEMU starts (shares/share-helpers.ts) */
  shares?: { tag: string; sock: string; readOnly: boolean }[];
  /** built-in Linux: a file of `TAG ro|rw` lines, passed as fw_cfg opt/org.flotilla/shares; the guest mounts each at /mnt/TAG */
  shareList?: string;
}

/** The serial of the built-in Linux's own disk: the guest's init mounts the disk with it at /root. */
export const ROOT_DISK_SERIAL = 'flotilla-root';
export const FW_CFG_AUTHORIZED_KEYS = 'opt/org.flotilla/authorized_keys';
export const FW_CFG_SHARES = 'opt/org.flotilla/shares';


function machineFor(spec: VmSpec, r: QemuResources): string {
  return spec.source.kind === 'default' && r.defaultGuest?.machine ? r.defaultGuest.machine : DEFAULT_MACHINE;
}

function identityArgs(spec: VmSpec, r: QemuResources): string[] {
  return [
    '-name', `guest=${spec.name},process=flotilla-${spec.id}`,
    ...(spec.uuid ? ['-uuid', spec.uuid] : []),
    '-nodefaults',
    '-no-user-config',
    '-sandbox', SANDBOX_OPTS,
    '-pidfile', r.pidFile,
  ];
}

function accelArgs(r: QemuResources, tcgProps: string, tcgCpu: string | undefined): string[] {
  const tcg = tcgProps ? `tcg,${tcgProps}` : 'tcg';
  if (r.accel === 'kvm') return ['-accel', 'kvm', '-cpu', 'host'];
  if (r.accel === 'tcg') return ['-accel', tcg, ...(tcgCpu ? ['-cpu', tcgCpu] : [])];
  // kvm:tcg: use KVM when the host has it, else fall back to TCG; `max` is valid for both.
  return ['-accel', 'kvm', '-accel', tcg, '-cpu', 'max'];
}

function machineArgs(spec: VmSpec, machine: string, r: QemuResources): string[] {
  const guest = spec.source.kind === 'default' ? r.defaultGuest : undefined;
  // UEFI flash is attached through the machine's pflash0/pflash1 properties (the -blockdev form of if=pflash)
  const flash = spec.firmware === 'uefi' ? `,pflash0=${PFLASH_CODE}-fmt,pflash1=${PFLASH_VARS}-fmt` : '';
  return [
    '-machine',
    `${machine}${flash}`,
    ...accelArgs(r, guest?.tcgAccelProps ?? '', guest?.tcgCpu),
    ...(guest?.bios && spec.firmware === 'bios' ? ['-bios', guest.bios] : []),
    ...(guest?.noReboot ? ['-no-reboot'] : []),
  ];
}

function sizingArgs(spec: VmSpec): string[] {
  return ['-m', String(spec.memoryMiB), '-smp', String(spec.cpus)];
}

/**
 * Shared folders (virtio-fs): virtiofsd maps the guest's RAM, so the RAM must be a shareable
 * memfd given to the one NUMA node; each share is a vhost-user-fs device on its virtiofsd's
 * socket (QEMU connects as the client: the socket must exist first). Tags are validated
 * (a-z 0-9 _ -), so they need no escaping.
 */
function shareArgs(spec: VmSpec, r: QemuResources, machine: string): string[] {
  const shares = r.shares ?? [];
  if (shares.length === 0) return [];
  const dev = machine.startsWith('microvm') ? 'vhost-user-fs-device' : 'vhost-user-fs-pci';
  return [
    '-object', `memory-backend-memfd,id=mem,size=${spec.memoryMiB}M,share=on`,
    '-numa', 'node,memdev=mem',
    ...shares.flatMap((s, i) => ['-chardev', `socket,id=fs${i},path=${escapeOptValue(s.sock)}`, '-device', `${dev},chardev=fs${i},tag=${s.tag}`]),
    ...(spec.source.kind === 'default' && r.shareList ? ['-fw_cfg', `name=${FW_CFG_SHARES},file=${escapeOptValue(r.shareList)}`] : []),
  ];
}

/** The built-in Linux's list of shares to mount: one `TAG ro|rw` line each. */
export function shareListText(shares: readonly { tag: string; readOnly: boolean }[]): string {
  return shares.map((s) => `${s.tag} ${s.readOnly ? 'ro' : 'rw'}\n`).join('');
}

function firmwareArgs(spec: VmSpec, r: QemuResources): string[] {
  if (spec.firmware !== 'uefi') return [];
  const code = r.ovmfCode ?? OVMF_CODE;
  const vars = r.ovmfVars ?? join(r.vmDir, OVMF_VARS_FILE);
  return [...blockdevArgs(PFLASH_CODE, code, 'raw', true), ...blockdevArgs(PFLASH_VARS, vars, 'qcow2', false)];
}

function kernelArgs(kernel: string, initrd: string | undefined, append: string | undefined): string[] {
  return [
    '-kernel', kernel,
    ...(initrd ? ['-initrd', initrd] : []),
    ...(append ? ['-append', append] : []),
  ];
}

function ownedDisk(spec: VmSpec, r: QemuResources): string {
  return join(r.vmDir, spec.disks[0] ?? VM_DISK_FILE);
}

function referenceFormat(path: string, r: QemuResources): string {
  if (!r.referenceDiskFormat) {
    throw new FlotillaError('INTERNAL', `the format of ${path} is unknown: pass referenceDiskFormat from qemuImgInfo`);
  }
  return r.referenceDiskFormat;
}

function sourceArgs(spec: VmSpec, r: QemuResources, machine: string): string[] {
  const src = spec.source;
  switch (src.kind) {
    case 'default': {
      const g = r.defaultGuest;
      if (!g) throw new FlotillaError('DEFAULT_IMAGE_MISSING', 'the default guest image is missing: run `flotilla image build-default`');
      if (spec.firmware === 'uefi' && !g.uefiKernel) {
        throw new FlotillaError('DEFAULT_IMAGE_MISSING', 'the default guest image was built before UEFI support: rebuild it with `flotilla image build-default`, or use BIOS firmware');
      }
      return [
        ...kernelArgs(spec.firmware === 'uefi' ? g.uefiKernel! : g.kernel, g.initrd, g.append),
        // its own disk (from the spec; the supervisor makes it before launch), not a boot device
        ...(spec.disks[0] ? diskArgs(ownedDisk(spec, r), 'qcow2', null, machine, ROOT_DISK_SERIAL) : []),
        ...(r.authorizedKeys ? ['-fw_cfg', `name=${FW_CFG_AUTHORIZED_KEYS},file=${escapeOptValue(r.authorizedKeys)}`] : []),
      ];
    }
    case 'iso':
      return diskArgs(ownedDisk(spec, r), 'qcow2', 0, machine);
    case 'disk':
      return src.mode === 'copy'
        ? diskArgs(ownedDisk(spec, r), 'qcow2', 0, machine)
        : diskArgs(src.path, referenceFormat(src.path, r), 0, machine);
    case 'kernel':
      return [
        ...kernelArgs(src.kernel, src.initrd, src.append),
        ...(src.disk ? diskArgs(src.disk, referenceFormat(src.disk, r), null, machine) : []),
      ];
  }
}

/**
 * Whether a QEMU command line puts the engine's serial socket on a virtio console, which drops
 * output its reader is late for (console-link.ts reads those on its own thread). Unknown (null)
 * counts as yes: the careful way costs only latency.
 */
export function consoleDropsWhenSlow(argv: readonly string[] | null): boolean {
  return argv === null || argv.some((a) => a.startsWith('virtconsole,'));
}

function socketChardev(id: string, path: string): string {
  return `socket,id=${id},path=${escapeOptValue(path)},server=on,wait=off`;
}

/**
 * The console, the UART and the agent's port (one virtio-serial bus). With a virtio console or
 * port ('hvc0', 'vport') the serial socket is a port of the bus and the UART (kernel messages, a
 * second root shell on ttyS0) gets its own socket next to it, which the engine does not read;
 * with 'ttyS0' the serial socket is the UART. Shared with the default guest's test/bench launcher.
 */
export function consoleAndAgentArgs(o: { serialSock: string; agentSock: string; virtioSerial: string; console: GuestConsoleKind }): string[] {
  const onBus = o.console !== 'ttyS0';
  const uart = onBus ? ['-chardev', socketChardev('uart0', join(dirname(o.serialSock), UART_SOCK)), '-serial', 'chardev:uart0'] : ['-serial', 'chardev:ser0'];
  const port = o.console === 'hvc0' ? 'virtconsole' : 'virtserialport';
  return [
    '-chardev', socketChardev('ser0', o.serialSock),
    ...uart,
    '-device', `${o.virtioSerial},id=vser0`,
    ...(onBus ? ['-device', `${port},bus=vser0.0,chardev=ser0,name=${CONSOLE_PORT_NAME}`] : []),
    '-chardev', socketChardev('qga0', o.agentSock),
    '-device', 'virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0',
  ];
}

function chardevArgs(spec: VmSpec, r: QemuResources, machine: string): string[] {
  return [
    '-qmp', `unix:${escapeOptValue(r.qmpSock)},server=on,wait=off`,
    ...consoleAndAgentArgs({
      serialSock: r.serialSock,
      agentSock: r.agentSock,
      virtioSerial: virtio('serial', machine),
      console: spec.source.kind === 'default' ? (r.defaultGuest?.console ?? 'ttyS0') : 'ttyS0',
    }),
  ];
}

/**
 * The forwards a QEMU command line holds (`hostfwd=tcp:127.0.0.1:H-:G` in its -netdev), read
 * back from /proc/PID/cmdline to rebuild an adopted VM's ports when ports.json was lost.
 */
export function parseHostfwds(args: readonly string[]): { proto: 'tcp' | 'udp'; hostPort: number; guestPort: number }[] {
  const out: { proto: 'tcp' | 'udp'; hostPort: number; guestPort: number }[] = [];
  args.forEach((a, i) => {
    if (args[i - 1] !== '-netdev') return;
    for (const m of a.matchAll(/(?:^|,)hostfwd=(tcp|udp):127\.0\.0\.1:(\d+)-:(\d+)(?=,|$)/g)) {
      out.push({ proto: m[1] as 'tcp' | 'udp', hostPort: Number(m[2]), guestPort: Number(m[3]) });
    }
  });
  return out;
}

/** The id of a VM's user network (-netdev), which live forward changes name (lifecycle/live-forwards.ts). */
export const NETDEV_ID = 'n0';

function hostfwd(p: PortEntry): string {
  if (p.guestPort === undefined) throw new FlotillaError('INTERNAL', `forward on host port ${p.hostPort} has no guest port`);
  return `hostfwd=${p.proto}:127.0.0.1:${p.hostPort}-:${p.guestPort}`;
}

function networkArgs(spec: VmSpec, r: QemuResources, machine: string): string[] {
  const fwds = r.forwards.filter((p) => p.purpose === 'forward').map(hostfwd);
  // without mac= every guest gets QEMU's 52:54:00:12:34:56, which collides once VMs share a network
  return ['-netdev', ['user', `id=${NETDEV_ID}`, ...fwds].join(','), '-device', `${virtio('net', machine)},netdev=${NETDEV_ID}${spec.mac ? `,mac=${spec.mac}` : ''}`];
}

/** Guests block at boot waiting for entropy without a hardware RNG. */
function rngArgs(machine: string): string[] {
  return ['-object', 'rng-random,id=rng0,filename=/dev/urandom', '-device', `${virtio('rng', machine)},rng=rng0`];
}

function displayArgs(spec: VmSpec, r: QemuResources, machine: string): string[] {
  if (spec.display !== 'vnc') return ['-display', 'none'];
  const vnc = ['-display', 'none', '-vnc', `unix:${escapeOptValue(r.vncSock)}`];
  // microvm has no PCI bus for a VGA card or USB: VNC then shows only "display not initialized"
  if (machine.startsWith('microvm')) return vnc;
  return [
    ...vnc,
    '-device', 'VGA',
    // an absolute pointer, so a browser VNC viewer's cursor matches the guest's
    '-device', 'qemu-xhci,id=xhci0',
    '-device', 'usb-tablet,bus=xhci0.0',
    ...CLIPBOARD_ARGS,
  ];
}

/**
 * Clipboard text between the VNC viewer and the guest: QEMU's own vdagent speaks the SPICE agent
 * protocol on the port a guest's spice-vdagent looks for (com.redhat.spice.0) and hands the
 * clipboard to the VNC server's clipboard extension, which noVNC uses. Guests without
 * spice-vdagent simply never open the port. It is the last port of the console/agent bus
 * (vser0), so hvc0 and the agent's port keep their numbers.
 */
const CLIPBOARD_ARGS = [
  '-chardev', 'qemu-vdagent,id=vdagent0,name=vdagent,clipboard=on',
  '-device', 'virtserialport,bus=vser0.0,chardev=vdagent0,name=com.redhat.spice.0',
];

export function buildQemuArgs(spec: VmSpec, r: QemuResources): string[] {
  const machine = machineFor(spec, r);
  return [
    ...identityArgs(spec, r),
    ...machineArgs(spec, machine, r),
    ...sizingArgs(spec),
    ...shareArgs(spec, r, machine),
    ...firmwareArgs(spec, r),
    ...sourceArgs(spec, r, machine),
    ...extraDiskArgs(spec, r.vmDir, machine),
    ...mediaArgs(spec, machine),
    ...chardevArgs(spec, r, machine),
    ...networkArgs(spec, r, machine),
    ...rngArgs(machine),
    ...displayArgs(spec, r, machine),
    ...(r.startPaused ? ['-S'] : []),
  ];
}
