// withBootFiles: which definitions are moved to the current build's kernel and initrd, and what
// else is left alone. Against libvirtd: tests/integration/libvirt-pool.itest.ts.
import { describe, expect, it } from 'vitest';
import { withBootFiles } from './boot-update';

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
