import { describe, expect, it } from 'vitest';
import { clonedXml } from './clone-domain';
import { cdromOf, diskTargets, FLOTILLA_METADATA_NS, parseFlotillaMetadata } from './domain-xml';

// as `virsh dumpxml --inactive` prints a built-in guest Flotilla made (trimmed)
const SOURCE = `<domain type='qemu'>
  <name>web</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <metadata>
    <flotilla:vm xmlns:flotilla="${FLOTILLA_METADATA_NS}">{&quot;spec&quot;:{&quot;name&quot;:&quot;web&quot;,&quot;id&quot;:&quot;11111111222233334444555555555555&quot;,&quot;cpus&quot;:1},&quot;volumes&quot;:[&quot;web-11111111.qcow2&quot;]}</flotilla:vm>
  </metadata>
  <os>
    <kernel>/var/lib/libvirt/flotilla/default-vmlinuz-ab</kernel>
    <cmdline>console=ttyS0 quiet flotilla.name=web</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/flotilla/web-11111111.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/srv/base.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
    <disk type='file' device='cdrom'>
      <source file='/srv/iso/tools.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:aa:bb:cc'/>
      <source network='default'/>
    </interface>
    <channel type='unix'>
      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/web.org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
  </devices>
</domain>
`;

describe('clonedXml (a full copy of a libvirt domain)', () => {
  const out = clonedXml(SOURCE, {
    name: 'web-copy',
    uuid: '99999999-8888-7777-6666-555555555555',
    copies: new Map([['vda', "/var/lib/libvirt/flotilla/web-copy-99999999-vda.qcow2"]]),
    volumes: ['web-copy-99999999-vda.qcow2'],
    builtIn: true,
  });

  it('has its own name, UUID and hostname, and no MAC (libvirt gives a new one)', () => {
    expect(out).toContain('<name>web-copy</name>');
    expect(out).toContain('<uuid>99999999-8888-7777-6666-555555555555</uuid>');
    expect(out).not.toContain('11111111-2222');
    expect(out).not.toMatch(/<mac\b/);
    expect(out).toContain('<cmdline>console=ttyS0 quiet flotilla.name=web-copy</cmdline>');
  });

  it('reads its own copy of the disk; the read-only disk and the CD stay shared', () => {
    expect(out).toContain("<source file='/var/lib/libvirt/flotilla/web-copy-99999999-vda.qcow2'/>");
    expect(out).toContain("<source file='/srv/base.img'/>");
    expect(cdromOf(out)).toEqual({ target: 'sda', medium: '/srv/iso/tools.iso' });
    expect(diskTargets(out)).toEqual(['vda', 'vdb']);
  });

  it('names no socket of the source, and its metadata names the copy', () => {
    expect(out).not.toContain('/var/lib/libvirt/qemu/channel');
    expect(out).toContain("<source mode='bind'/>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>");
    const meta = parseFlotillaMetadata(/<flotilla:vm\b[\s\S]*?<\/flotilla:vm>/.exec(out)![0]);
    expect(meta).toMatchObject({ spec: { name: 'web-copy', id: '99999999888877776666555555555555', cpus: 1 }, volumes: ['web-copy-99999999-vda.qcow2'] });
  });

  it('adds a UUID where the source had none, and leaves a foreign domain without metadata as it was otherwise', () => {
    const foreign = "<domain type='qemu'>\n  <name>other</name>\n  <devices/>\n</domain>\n";
    expect(clonedXml(foreign, { name: 'other-2', uuid: '99999999-8888-7777-6666-555555555555', copies: new Map(), volumes: [], builtIn: false })).toBe(
      "<domain type='qemu'>\n  <name>other-2</name>\n  <uuid>99999999-8888-7777-6666-555555555555</uuid>\n  <devices/>\n</domain>\n",
    );
  });
});
