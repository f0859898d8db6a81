// Domain XML for VMs Flotilla creates on a libvirt host: a pure builder (golden tests in
// testdata/domain-xml/, one file per case, as libvirt keeps qemuxml2argvdata). It follows
// libvirt's conventions: type='qemu' (TCG; KVM hosts can change it later), the guest agent on
// the org.qemu.guest_agent.0 channel, the console (the built-in guest's: a virtio-serial channel,
// org.flotilla.console.0, which QEMU throttles instead of dropping, as on the local host; any other
// guest's: a virtio console, hvc0), VNC on loopback only, and libvirt's "default" network when
// the host has it running (else QEMU's user networking). Every value is XML-escaped.
import { FlotillaError } from '../../../../shared/errors';
import { CONSOLE_PORT_NAME } from '../../qemu-args';

export interface DomainDisk {
  /** a path on the libvirt host (a volume path or a user-named file there); null: an empty CD drive */
  path: string | null;
  format: 'qcow2' | 'raw';
  device: 'disk' | 'cdrom';
  /** its target device when not the one its place gives (an imported added disk keeps its number) */
  target?: string;
  /** what the guest sees as its serial (flotilla-extra-<n>: the built-in Linux mounts it at /mnt/extra-<n>) */
  serial?: string;
}

export interface DomainXmlInput {
  name: string;
  uuid: string;
  memoryMiB: number;
  cpus: number;
  /** boot a kernel directly (built-in guest, kernel source) instead of from a disk */
  kernel?: { kernel: string; initrd?: string; cmdline?: string };
  /** firmware ROM for direct kernel boot (the built-in guest uses QEMU's qboot) */
  romLoader?: string;
  /**
   * UEFI: libvirt picks OVMF from the host's firmware descriptors and makes the domain's variable
   * store from its template, as virt-manager's domains get them; without Secure Boot, as a local VM's
   */
  uefi?: boolean;
  disks: DomainDisk[];
  display: 'vnc' | 'none';
  /**
   * the built-in guest's console port (a unix-socket channel named org.flotilla.console.0, opened
   * with virDomainOpenChannel) instead of a virtio console: its relay finds the port and joins it
   * to the shell's pty, and a reader that stalls slows the shell rather than losing its output
   */
  consolePort?: boolean;
  /** CPU model and features (the built-in guest: qemu64 + rdrand) */
  cpu?: { model: string; features: string[] };
  /**
   * a libvirt network to join (its DHCP gives the guest an address that host reaches, as
   * virt-manager's domains on "default" have), or none for QEMU's user networking (outbound only)
   */
  network?: string;
  /** the note, as libvirt's <description> (what virt-manager and Cockpit show as one) */
  description?: string;
  /** JSON kept in the domain's <metadata> so Flotilla knows what it created */
  metadata: Record<string, unknown>;
}

export const FLOTILLA_METADATA_NS = 'https://flotilla.invalid/libvirt/vm/1';

const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

/** The text of an XML attribute or element with its five predefined entities decoded (others stay). */
export function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|amp|apos|quot);/g, (_, e: string) => XML_ENTITIES[e]!);
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function checkPath(p: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (!p.startsWith('/') || /[\u0000-\u001f]/.test(p) || p.length > 4096) throw new FlotillaError('BAD_REQUEST', `${what} must be an absolute path on the host`);
  return xmlEscape(p);
}

export function buildDomainXml(d: DomainXmlInput): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(d.uuid)) throw new FlotillaError('INTERNAL', `bad uuid ${d.uuid}`);
  const L: string[] = [];
  L.push(`<domain type='qemu'>`);
  L.push(`  <name>${xmlEscape(d.name)}</name>`);
  L.push(`  <uuid>${d.uuid}</uuid>`);
  if (d.description) L.push(`  <description>${xmlEscape(d.description)}</description>`);
  L.push(`  <metadata>`);
  L.push(`    <flotilla:vm xmlns:flotilla='${FLOTILLA_METADATA_NS}'>${xmlEscape(JSON.stringify(d.metadata))}</flotilla:vm>`);
  L.push(`  </metadata>`);
  L.push(`  <memory unit='MiB'>${Math.trunc(d.memoryMiB)}</memory>`);
  L.push(`  <vcpu>${Math.trunc(d.cpus)}</vcpu>`);
  L.push(d.uefi ? `  <os firmware='efi'>` : `  <os>`);
  L.push(`    <type arch='x86_64' machine='q35'>hvm</type>`);
  if (d.uefi) L.push(`    <firmware><feature enabled='no' name='secure-boot'/></firmware>`);
  if (d.romLoader) L.push(`    <loader type='rom' readonly='yes'>${checkPath(d.romLoader, 'firmware')}</loader>`);
  if (d.kernel) {
    L.push(`    <kernel>${checkPath(d.kernel.kernel, 'kernel')}</kernel>`);
    if (d.kernel.initrd) L.push(`    <initrd>${checkPath(d.kernel.initrd, 'initrd')}</initrd>`);
    if (d.kernel.cmdline) L.push(`    <cmdline>${xmlEscape(d.kernel.cmdline)}</cmdline>`);
  } else {
    const cdrom = d.disks.some((x) => x.device === 'cdrom');
    if (cdrom) L.push(`    <boot dev='cdrom'/>`);
    L.push(`    <boot dev='hd'/>`);
  }
  L.push(`  </os>`);
  L.push(`  <features><acpi/></features>`);
  if (d.cpu) {
    L.push(`  <cpu mode='custom' match='exact' check='none'>`);
    L.push(`    <model fallback='allow'>${xmlEscape(d.cpu.model)}</model>`);
    for (const f of d.cpu.features) L.push(`    <feature policy='require' name='${xmlEscape(f)}'/>`);
    L.push(`  </cpu>`);
  }
  L.push(`  <on_poweroff>destroy</on_poweroff>`);
  L.push(`  <on_reboot>restart</on_reboot>`);
  L.push(`  <on_crash>destroy</on_crash>`);
  L.push(`  <devices>`);
  d.disks.forEach((disk, i) => {
    const dev = disk.target ?? (disk.device === 'cdrom' ? `sd${String.fromCharCode(97 + i)}` : `vd${String.fromCharCode(97 + i)}`);
    if (!/^[a-z]{2}[a-z]$/.test(dev) || (disk.serial !== undefined && !/^[a-z0-9-]{1,20}$/.test(disk.serial))) throw new FlotillaError('INTERNAL', `bad disk target ${dev}`);
    if (disk.path === null && disk.device !== 'cdrom') throw new FlotillaError('INTERNAL', 'only a CD drive can be empty');
    L.push(`    <disk type='file' device='${disk.device}'>`);
    L.push(`      <driver name='qemu' type='${disk.format}'/>`);
    if (disk.path !== null) L.push(`      <source file='${checkPath(disk.path, 'disk')}'/>`);
    L.push(`      <target dev='${dev}' bus='${disk.device === 'cdrom' ? 'sata' : 'virtio'}'/>`);
    if (disk.serial) L.push(`      <serial>${disk.serial}</serial>`);
    if (disk.device === 'cdrom') L.push(`      <readonly/>`);
    L.push(`    </disk>`);
  });
  L.push(`    <controller type='virtio-serial' index='0'/>`);
  if (d.consolePort) {
    L.push(`    <channel type='unix'>`);
    L.push(`      <target type='virtio' name='${CONSOLE_PORT_NAME}'/>`);
    L.push(`    </channel>`);
  } else {
    L.push(`    <console type='pty'>`);
    L.push(`      <target type='virtio' port='0'/>`);
    L.push(`    </console>`);
  }
  L.push(`    <channel type='unix'>`);
  L.push(`      <target type='virtio' name='org.qemu.guest_agent.0'/>`);
  L.push(`    </channel>`);
  if (d.network) {
    L.push(`    <interface type='network'>`);
    L.push(`      <source network='${xmlEscape(d.network)}'/>`);
    L.push(`      <model type='virtio'/>`);
    L.push(`    </interface>`);
  } else {
    L.push(`    <interface type='user'>`);
    L.push(`      <model type='virtio'/>`);
    L.push(`    </interface>`);
  }
  L.push(`    <rng model='virtio'>`);
  L.push(`      <backend model='random'>/dev/urandom</backend>`);
  L.push(`    </rng>`);
  if (d.display === 'vnc') {
    L.push(`    <graphics type='vnc' autoport='yes' listen='127.0.0.1'>`);
    L.push(`      <listen type='address' address='127.0.0.1'/>`);
    L.push(`    </graphics>`);
    L.push(`    <video>`);
    L.push(`      <model type='vga'/>`);
    L.push(`    </video>`);
    L.push(`    <input type='tablet' bus='usb'/>`);
  } else {
    L.push(`    <video>`);
    L.push(`      <model type='none'/>`);
    L.push(`    </video>`);
  }
  L.push(`    <memballoon model='none'/>`);
  L.push(`  </devices>`);
  L.push(`</domain>`);
  return L.join('\n') + '\n';
}

/** Reads Flotilla's metadata back from `virsh metadata DOMAIN URI` output (untrusted). */
export function parseFlotillaMetadata(text: string): Record<string, unknown> | null {
  const m = /^<flotilla:vm[^>]*>([^<]{0,65536})<\/flotilla:vm>\s*$/.exec(text.trim()) ?? /^<vm[^>]*>([^<]{0,65536})<\/vm>\s*$/.exec(text.trim());
  if (!m) return null;
  const json = xmlUnescape(m[1]!);
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Flotilla's metadata element in a domain's XML (`virsh dumpxml`; untrusted), by its namespace
 * whatever prefix it carries: what `virsh metadata --uri` answers, without a call of its own.
 */
export function flotillaMetadataOf(xml: string): Record<string, unknown> | null {
  const ns = FLOTILLA_METADATA_NS.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`<([A-Za-z_][\\w.-]{0,63}):vm\\b[^>]*\\bxmlns:\\1\\s*=\\s*(['"])${ns}\\2[^>]*>([^<]{0,65536})</\\1:vm>`).exec(xml);
  return m ? parseFlotillaMetadata(`<flotilla:vm>${m[3]}</flotilla:vm>`) : null;
}

/** A domain's description from its XML ('' for none): what `virsh desc` answers. */
export function descriptionOf(xml: string): string {
  const m = /<description>([^<]*)<\/description>/.exec(xml);
  if (!m) return '';
  // free text: character references too (a path, say, keeps them: cdromOf)
  return xmlUnescape(m[1]!.replace(/&#(?:(\d{1,7})|x([0-9a-fA-F]{1,6}));/g, (whole, dec: string | undefined, hex: string | undefined) => {
    const code = dec ? Number(dec) : parseInt(hex!, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  }));
}

/** The definition boots UEFI: libvirt's firmware auto-selection, or a pflash loader of its own. */
export function bootsUefi(xml: string): boolean {
  return /<os\b[^>]*\bfirmware\s*=\s*(['"])efi\1/.test(xml) || /<loader\b[^>]*\btype\s*=\s*(['"])pflash\1/.test(xml);
}

/** The domain has the built-in guest's console port (a virtio-serial channel named org.flotilla.console.0). */
export function hasConsolePort(xml: string): boolean {
  const noComments = xml.slice(0, 1 << 20).replace(/<!--[\s\S]*?-->/g, '');
  return new RegExp(`<target\\b[^>]*\\bname\\s*=\\s*(['"])${CONSOLE_PORT_NAME.replace(/\./g, '\\.')}\\1`).test(noComments);
}

/**
 * Whether a domain's XML (`virsh dumpxml`, untrusted) has a VNC display the noVNC proxy can use.
 * Only the element's own attributes are read; a comment or text that merely mentions graphics
 * does not count.
 */
export function hasVncGraphics(xml: string): boolean {
  const noComments = xml.slice(0, 1 << 20).replace(/<!--[\s\S]*?-->/g, '');
  return /<graphics\b[^>]*\btype\s*=\s*(['"])vnc\1/.test(noComments);
}

/** A CD drive of a domain: its target device (what `virsh change-media --path` names) and the image in it. */
export interface CdDrive {
  target: string;
  /** the file (or block device) in the drive, as the host names it; null for an empty drive */
  medium: string | null;
}


/**
 * The domain's first CD drive, from its XML (`virsh dumpxml`, untrusted), or null when it has none.
 * Only a drive's own elements are read (comments dropped); a medium that is not an absolute path
 * (a network source) shows as an empty drive.
 */
export function cdromOf(xml: string): CdDrive | null {
  const drive = diskElements(xml).find((e) => e.device === 'cdrom' && e.target);
  if (!drive) return null;
  const medium = drive.source;
  // eslint-disable-next-line no-control-regex
  return { target: drive.target!, medium: medium && medium.startsWith('/') && !/[\u0000-\u001f]/.test(medium) ? medium : null };
}

/** One `<disk>` element of a domain's XML: its device, target, the file or block device it reads, and whether it is shared. */
export interface DiskElement {
  device: string;
  target?: string;
  /** entities decoded */
  source?: string;
  /** read-only or shareable: an image other domains may use */
  shared: boolean;
}

/** The `<disk>` elements of a domain's XML (untrusted), in order; only each element's own tags are read, comments dropped. */
export function diskElements(xml: string): DiskElement[] {
  const noComments = xml.slice(0, 1 << 20).replace(/<!--[\s\S]*?-->/g, '');
  return [...noComments.matchAll(/<disk\b([^>]*)>([\s\S]*?)<\/disk>/g)].map((m) => {
    const target = /<target\b[^>]*\bdev\s*=\s*(['"])([a-z0-9]{1,32})\1/.exec(m[2]!)?.[2];
    const source = /<source\b[^>]*\b(?:file|dev)\s*=\s*(['"])([^'"<>]{1,4096})\1/.exec(m[2]!)?.[2];
    return {
      device: /\bdevice\s*=\s*(['"])([a-z]+)\1/.exec(m[1]!)?.[2] ?? 'disk',
      ...(target ? { target } : {}),
      ...(source !== undefined ? { source: xmlUnescape(source) } : {}),
      shared: /<(readonly|shareable)\b/.test(m[2]!),
    };
  });
}

/**
 * The target devices of a domain's own writable disks, from its XML (untrusted): what "delete its
 * disks too" may remove. A CD or floppy, and a read-only or shareable disk, is an image other
 * domains may use (the installer ISO in a pool, a shared base), so it is never listed, as
 * virt-manager's delete dialog leaves those unticked. (`virsh undefine --remove-all-storage`
 * removes them all, the ISO too.)
 */
export function ownDiskTargets(xml: string): string[] {
  return diskTargets(xml, true);
}

/** The target devices of a domain's disks (not its CD or floppy drives), in the XML's order. */
export function diskTargets(xml: string, writableOnly = false): string[] {
  return diskElements(xml).flatMap((e) => (e.device === 'disk' && e.target && !(writableOnly && e.shared) ? [e.target] : []));
}
