// withBootFiles: which definitions are moved to the current build's kernel and initrd, and what
// else is left alone. Against libvirtd: tests/integration/libvirt-pool.itest.ts.
import { describe, expect, it } from 'vitest';
import { withBootFiles, withCurrentDevices, withRootSerial } from './boot-update';
import { hasConsolePort } from './domain-xml';

const pool = '/var/lib/libvirt/flotilla';
const files = { kernel: `${pool}/default-vmlinuz-aaaaaaaaaaaaaaaa`, initrd: `${pool}/default-initrd-bbbbbbbbbbbbbbbb` };
const domain = (kernel: string, initrd: string, cmdline: string) =>
  `<domain type='qemu'>\n  <name>web1</name>\n  <os>\n    <type arch='x86_64'>hvm</type>\n    <kernel>${kernel}</kernel>\n    <initrd>${initrd}</initrd>\n    <cmdline>${cmdline}</cmdline>\n  </os>\n  <devices><console type='pty'><target type='virtio' port='0'/></console></devices>\n</domain>\n`;
const old = domain(`${pool}/default-vmlinuz-1111111111111111`, `${pool}/default-initrd-2222222222222222`, 'console=ttyS0 old=1 flotilla.name=web1 flotilla.net=dhcp');

describe('withBootFiles', () => {
  it('moves a domain on an earlier build to the new files and command line, and nothing else', () => {
    const seen: string[] = [];
    const next = withBootFiles(old, files, (line) => (seen.push(line), 'console=ttyS0 new=1 flotilla.name=web1 flotilla.net=dhcp'));
    expect(seen).toEqual(['console=ttyS0 old=1 flotilla.name=web1 flotilla.net=dhcp']);
    expect(next).toBe(domain(files.kernel, files.initrd, 'console=ttyS0 new=1 flotilla.name=web1 flotilla.net=dhcp'));
  });

  it('leaves a domain on the current build, one pointed elsewhere and an odd one alone', () => {
    const line = () => 'x';
    expect(withBootFiles(domain(files.kernel, files.initrd, 'console=ttyS0 mine=1'), files, line)).toBeNull();
    // a kernel of the user's own (virsh edit), or outside the pool
    expect(withBootFiles(domain('/boot/vmlinuz-6.1', `${pool}/default-initrd-2222222222222222`, 'a'), files, line)).toBeNull();
    expect(withBootFiles(domain(`/elsewhere/default-vmlinuz-1111111111111111`, `${pool}/default-initrd-2222222222222222`, 'a'), files, line)).toBeNull();
    expect(withBootFiles(domain(`${pool}/my-kernel`, `${pool}/default-initrd-2222222222222222`, 'a'), files, line)).toBeNull();
    // not one of each
    expect(withBootFiles(old.replace('</os>', `<kernel>${pool}/default-vmlinuz-3333333333333333</kernel></os>`), files, line)).toBeNull();
    expect(withBootFiles(old.replace(/<cmdline>.*<\/cmdline>/, ''), files, line)).toBeNull();
  });

  it('escapes what it writes', () => {
    expect(withBootFiles(old, files, () => 'a=<b>&c')).toContain('<cmdline>a=&lt;b&gt;&amp;c</cmdline>');
  });
});

describe('withCurrentDevices', () => {
  // as libvirt returns a domain made before the console port and the default network
  const before = `<domain type='qemu'>
  <devices>
    <controller type='virtio-serial' index='0'>
    </controller>
    <interface type='user'>
      <mac address='52:54:00:07:b6:09'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <console type='pty'>
      <target type='virtio' port='0'/>
    </console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
  </devices>
</domain>
`;

  it('puts the console port in place of hvc0 and the network in place of user networking, keeping the MAC', () => {
    const after = withCurrentDevices(before, { consolePort: true, network: 'default' });
    expect(hasConsolePort(after)).toBe(true);
    expect(after).not.toContain("<console type='pty'>");
    expect(after).toContain(`<interface type='network'>\n      <source network='default'/>\n      <mac address='52:54:00:07:b6:09'/>`);
    expect(after).not.toContain("<interface type='user'>");
    expect(after).toContain("name='org.qemu.guest_agent.0'");
  });

  it('changes only what it is asked to, and nothing it does not find exactly once', () => {
    expect(withCurrentDevices(before, { consolePort: false, network: null })).toBe(before);
    expect(withCurrentDevices(before, { consolePort: true, network: null })).toContain("<interface type='user'>");
    // two NICs, or a guest already on a network: the networking is someone's choice
    const twoNics = before.replace('</devices>', "<interface type='user'><model type='e1000'/></interface></devices>");
    expect(withCurrentDevices(twoNics, { consolePort: false, network: 'default' })).toBe(twoNics);
    const bridged = before.replace('</devices>', "<interface type='bridge'><source bridge='br0'/></interface></devices>");
    expect(withCurrentDevices(bridged, { consolePort: false, network: 'default' })).toBe(bridged);
  });
});

describe('withRootSerial', () => {
  // as libvirt 9.0 returns the disk of a built-in domain made before its disk kept /root
  const disk = (extra = '') => `<domain type='qemu'>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/flotilla/web-1234abcd.qcow2'/>
      <target dev='vda' bus='virtio'/>${extra}
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/flotilla/web-1234abcd-vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
      <serial>flotilla-extra-1</serial>
    </disk>
  </devices>
</domain>
`;

  it("gives the first virtio disk the serial the guest keeps /root on, and nothing else", () => {
    expect(withRootSerial(disk())).toBe(disk('\n      <serial>flotilla-root</serial>'));
  });

  it('leaves a definition that has it, a vda with a serial of its own, and an odd one alone', () => {
    const done = disk('\n      <serial>flotilla-root</serial>');
    expect(withRootSerial(done)).toBe(done);
    const own = disk('\n      <serial>mine</serial>');
    expect(withRootSerial(own)).toBe(own);
    const twoVda = disk().replace("<target dev='vdb' bus='virtio'/>", "<target dev='vda' bus='virtio'/>");
    expect(withRootSerial(twoVda)).toBe(twoVda);
    const block = disk().replace("<disk type='file' device='disk'>", "<disk type='block' device='disk'>").replace(/<disk type='file' device='disk'>[\s\S]*?<\/disk>\n/, '');
    expect(withRootSerial(block)).toBe(block);
  });
});
