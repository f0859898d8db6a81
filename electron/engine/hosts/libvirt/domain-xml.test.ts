// Golden tests for the generated domain XML: one file per case in testdata/domain-xml/, as
// libvirt keeps qemuxml2argvdata. A change in the XML shows up as a diff of that file in review.
// Regenerate with UPDATE_GOLDEN=1 after checking the change is wanted.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDomainXml, cdromOf, descriptionOf, flotillaMetadataOf, FLOTILLA_METADATA_NS, ownDiskTargets, hasConsolePort, hasVncGraphics, parseFlotillaMetadata, type DomainXmlInput } from './domain-xml';

const dir = join(__dirname, 'testdata', 'domain-xml');
const base = { uuid: '11111111-2222-3333-4444-555555555555', memoryMiB: 256, cpus: 1, display: 'none', metadata: { spec: { name: 'x' } } } as const;

const cases: Record<string, DomainXmlInput> = {
  'builtin-guest': {
    ...base,
    name: 'web1',
    kernel: { kernel: '/var/lib/libvirt/flotilla/default-vmlinuz-0123', initrd: '/var/lib/libvirt/flotilla/default-initrd-4567', cmdline: 'console=ttyS0 quiet flotilla.name=web1 flotilla.net=dhcp' },
    romLoader: '/usr/share/qemu/qboot.rom',
    consolePort: true,
    network: 'default',
    cpu: { model: 'qemu64', features: ['rdrand'] },
    disks: [{ path: '/var/lib/libvirt/flotilla/web1-11111111.qcow2', format: 'qcow2', device: 'disk' }],
  },
  'iso-with-vnc': {
    ...base,
    name: 'installer',
    memoryMiB: 2048,
    cpus: 2,
    display: 'vnc',
    disks: [
      { path: '/var/lib/libvirt/flotilla/installer-11111111.qcow2', format: 'qcow2', device: 'disk' },
      { path: '/srv/iso/debian-12.iso', format: 'raw', device: 'cdrom' },
    ],
  },
  // built before the console port: its shell is on hvc0
  'builtin-guest-hvc0': {
    ...base,
    name: 'old1',
    kernel: { kernel: '/var/lib/libvirt/flotilla/default-vmlinuz-89ab', initrd: '/var/lib/libvirt/flotilla/default-initrd-cdef', cmdline: 'console=ttyS0 quiet flotilla.name=old1' },
    romLoader: '/usr/share/qemu/qboot.rom',
    disks: [{ path: '/var/lib/libvirt/flotilla/old1-11111111.qcow2', format: 'qcow2', device: 'disk' }],
  },
  'disk-on-host': { ...base, name: 'legacy', disks: [{ path: '/srv/vm/legacy.img', format: 'raw', device: 'disk' }] },
  'kernel-initrd': { ...base, name: 'k1', kernel: { kernel: '/srv/k/vmlinuz', initrd: '/srv/k/initrd' }, disks: [] },
  'escaping': {
    ...base,
    name: 'a<b>&"c\'',
    kernel: { kernel: "/srv/it's/<k>&", cmdline: 'x="</cmdline><devices>"' },
    disks: [],
    metadata: { note: '</flotilla:vm><evil/>' },
  },
};

describe('buildDomainXml (golden files)', () => {
  it.each(Object.keys(cases))('%s', (name) => {
    const xml = buildDomainXml(cases[name]!);
    const file = join(dir, `${name}.xml`);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, xml);
    expect(xml).toBe(readFileSync(file, 'utf8'));
  });

  it('refuses relative paths and bad uuids', () => {
    expect(() => buildDomainXml({ ...cases['disk-on-host']!, disks: [{ path: 'rel.img', format: 'raw', device: 'disk' }] })).toThrow(/absolute path/);
    expect(() => buildDomainXml({ ...cases['disk-on-host']!, uuid: 'x' })).toThrow(/uuid/);
  });

  it('metadata reads back, and odd metadata is ignored', () => {
    const xml = buildDomainXml(cases['escaping']!);
    const inner = /<flotilla:vm[^]*?<\/flotilla:vm>/.exec(xml)![0];
    expect(parseFlotillaMetadata(inner)).toEqual({ note: '</flotilla:vm><evil/>' });
    expect(parseFlotillaMetadata('<flotilla:vm>[1,2]</flotilla:vm>')).toBeNull();
    expect(parseFlotillaMetadata('<flotilla:vm>{bad</flotilla:vm>')).toBeNull();
  });

  it('metadata and description come out of one dumpxml, as libvirt 9.0 prints them', () => {
    // `virsh desc --config` with quotes, a tab, a newline and UTF-8, and `virsh metadata --set`
    const xml = `<domain type='qemu'>
  <name>desc-probe</name>
  <description>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;\ttab
line2 é &#x1F600;</description>
  <metadata>
    <other:vm xmlns:other="https://example.org/not-ours">{"spec":{"name":"theirs"}}</other:vm>
    <fl:vm xmlns:fl="${FLOTILLA_METADATA_NS}">{"a":"x&lt;"}</fl:vm>
  </metadata>
  <memory unit='KiB'>65536</memory>
</domain>`;
    expect(descriptionOf(xml)).toBe('a <b> & "c" \'d\'\ttab\nline2 é 😀');
    // ours by its namespace, whatever its prefix; another tool's element is not
    expect(flotillaMetadataOf(xml)).toEqual({ a: 'x<' });
    expect(flotillaMetadataOf(xml.replace(FLOTILLA_METADATA_NS, 'https://example.org/x'))).toBeNull();
    // a domain without either (made outside Flotilla)
    expect(descriptionOf('<domain><name>x</name></domain>')).toBe('');
    expect(flotillaMetadataOf('<domain><name>x</name></domain>')).toBeNull();
    // the built XML reads back the same way
    expect(flotillaMetadataOf(buildDomainXml(cases['escaping']!))).toEqual({ note: '</flotilla:vm><evil/>' });
  });
});

describe('hasVncGraphics (a foreign domain: screenshot or console text on its tile)', () => {
  it('finds a VNC display in the devices, in either quoting', () => {
    expect(hasVncGraphics(`<domain><devices><graphics type='vnc' port='-1' autoport='yes'/></devices></domain>`)).toBe(true);
    expect(hasVncGraphics(`<domain><devices><graphics autoport="yes" type="vnc"><listen type="address"/></graphics></devices></domain>`)).toBe(true);
  });
  it('a headless domain, a SPICE-only one, and a mere mention are not VNC', () => {
    expect(hasVncGraphics(`<domain type='qemu'><name>x</name><devices><console type='pty'/></devices></domain>`)).toBe(false);
    expect(hasVncGraphics(`<domain><devices><graphics type='spice' autoport='yes'/></devices></domain>`)).toBe(false);
    expect(hasVncGraphics(`<domain><description>graphics type='vnc' someday</description><!-- <graphics type='vnc'/> --></domain>`)).toBe(false);
  });
});

describe('hasConsolePort (the Console tab names the guest side)', () => {
  it('finds the port in the domains Flotilla writes, not in those made before it', () => {
    expect(hasConsolePort(buildDomainXml(cases['builtin-guest']!))).toBe(true);
    expect(hasConsolePort(buildDomainXml(cases['builtin-guest-hvc0']!))).toBe(false);
    // as libvirt returns it, with the socket path it chose
    expect(hasConsolePort(`<channel type="unix"><source mode="bind" path="/run/libvirt/qemu/channel/1-x/org.flotilla.console.0"/><target type="virtio" name="org.flotilla.console.0" state="connected"/></channel>`)).toBe(true);
    expect(hasConsolePort(`<!-- <target type='virtio' name='org.flotilla.console.0'/> --><target type='virtio' name='org.flotilla.console.0x'/>`)).toBe(false);
  });
});

describe('cdromOf (Insert CD / Eject on a libvirt domain)', () => {
  const disk = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/a.qcow2'/><target dev='vda' bus='virtio'/></disk>`;
  it('finds the first CD drive, its target and the image in it, entities decoded', () => {
    expect(cdromOf(`<domain><devices>${disk}<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/isos/debian &amp; co&apos;s.iso' index='2'/><target dev='sda' bus='sata'/><readonly/></disk></devices></domain>`)).toEqual({ target: 'sda', medium: "/isos/debian & co's.iso" });
    expect(cdromOf(`<disk device="cdrom" type="block"><source dev="/dev/sr0"/><target bus="ide" dev="hdc"/></disk>`)).toEqual({ target: 'hdc', medium: '/dev/sr0' });
    // the domains Flotilla writes for an installer CD
    expect(cdromOf(buildDomainXml(cases['iso-with-vnc']!))).toEqual({ target: 'sdb', medium: '/srv/iso/debian-12.iso' });
  });
  it('an empty drive has no medium; a domain without a drive has no CD', () => {
    expect(cdromOf(`<domain><devices>${disk}<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sdb' bus='sata'/><readonly/></disk></devices></domain>`)).toEqual({ target: 'sdb', medium: null });
    expect(cdromOf(`<domain><devices>${disk}</devices></domain>`)).toBeNull();
    expect(cdromOf(buildDomainXml(cases['builtin-guest']!))).toBeNull();
  });
  it('reads nothing from comments, and a medium that is not an absolute path shows as empty', () => {
    expect(cdromOf(`<!-- <disk device='cdrom'><source file='/x.iso'/><target dev='sda'/></disk> -->${disk}`)).toBeNull();
    expect(cdromOf(`<disk type='network' device='cdrom'><source protocol='http' name='isos/x.iso'><host name='example.org'/></source><target dev='sda' bus='sata'/></disk>`)).toEqual({ target: 'sda', medium: null });
    expect(cdromOf(`<disk device='cdrom'><source file='relative.iso'/><target dev='sda'/></disk>`)).toEqual({ target: 'sda', medium: null });
    expect(cdromOf(`<disk device='cdrom'><source file='/a&#10;b.iso'/><target dev='sda'/></disk>`)?.medium).toBe('/a&#10;b.iso');
  });
});

describe('ownDiskTargets (what "delete its disks too" removes)', () => {
  it('lists writable disks, never the CD (its ISO may be shared), a floppy, a read-only or a shareable disk', () => {
    expect(ownDiskTargets(buildDomainXml(cases['iso-with-vnc']!))).toEqual(['vda']);
    const xml = `<domain><devices>
      <disk type='file' device='disk'><source file='/p/a.qcow2'/><target dev='vda' bus='virtio'/></disk>
      <disk type="file"><source file="/p/b.qcow2"/><target dev="vdb" bus="virtio"/></disk>
      <disk type='file' device='disk'><source file='/p/base.img'/><target dev='vdc'/><readonly/></disk>
      <disk type='file' device='disk'><source file='/p/shared.img'/><target dev='vdd'/><shareable/></disk>
      <disk type='file' device='cdrom'><source file='/p/x.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
      <disk type='file' device='floppy'><source file='/p/f.img'/><target dev='fda'/></disk>
      <!-- <disk device='disk'><target dev='vdz'/></disk> -->
      <disk device='disk'><target dev='vd,x'/></disk>
    </devices></domain>`;
    expect(ownDiskTargets(xml)).toEqual(['vda', 'vdb']);
  });
});
