import { describe, expect, it } from 'vitest';
import { FlotillaError } from '../../../../shared/errors';
import { shareRefusal, sharesOf, withShareAdded, withShareRemoved } from './domain-shares';

// the shape of `virsh dumpxml --inactive` of a built-in domain (trimmed)
const BUILT_IN = `<domain type='qemu'>
  <name>web</name>
  <uuid>0b6d4c8e-1111-4222-8333-944455556666</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <kernel>/var/lib/libvirt/flotilla/default-vmlinuz-1</kernel>
    <cmdline>console=ttyS0 quiet flotilla.name=web</cmdline>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <filesystem type='mount' accessmode='passthrough'>
      <source dir='/srv/9p'/>
      <target dir='ninep'/>
    </filesystem>
  </devices>
</domain>
`;

describe('a libvirt definition with shared folders', () => {
  it('adds a virtiofs share on shared memory, with the fw_cfg list and the flag the built-in Linux mounts by', () => {
    const one = withShareAdded(BUILT_IN, { tag: 'src', hostPath: "/home/me/it's <mine>", readOnly: false }, true);
    expect(one).toContain(`<memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>`);
    expect(one).toContain(`<source dir='/home/me/it&apos;s &lt;mine&gt;'/>\n      <target dir='src'/>`);
    expect(one).toContain(`<sysinfo type='fwcfg'>\n    <entry name='opt/org.flotilla/shares'>src rw\n</entry>\n  </sysinfo>\n  <os>`);
    expect(one).toContain('<cmdline>console=ttyS0 quiet flotilla.name=web flotilla.shares=1</cmdline>');
    // a 9p filesystem of someone's own is no share of ours, and stays
    expect(sharesOf(one)).toEqual([{ tag: 'src', hostPath: "/home/me/it's <mine>", readOnly: false }]);
    const two = withShareAdded(one, { tag: 'docs', hostPath: '/srv/docs', readOnly: true }, true);
    expect(two.match(/<memoryBacking>/g)).toHaveLength(1);
    expect(two).toContain(`<entry name='opt/org.flotilla/shares'>src rw\ndocs ro\n</entry>`);
    expect(sharesOf(two).map((s) => s.tag)).toEqual(['src', 'docs']);

    const back = withShareRemoved(withShareRemoved(two, 'src', true), 'docs', true);
    expect(sharesOf(back)).toEqual([]);
    expect(back).not.toContain('sysinfo');
    expect(back).toContain('<cmdline>console=ttyS0 quiet flotilla.name=web</cmdline>');
    expect(back).toContain("<target dir='ninep'/>");
  });

  it("keeps other fw_cfg entries, and touches neither list nor command line of a domain that is not the built-in Linux", () => {
    const withOther = BUILT_IN.replace('  <os>', "  <sysinfo type='fwcfg'>\n    <entry name='opt/com.example/x'>1</entry>\n  </sysinfo>\n  <os>");
    const added = withShareAdded(withOther, { tag: 'a', hostPath: '/a', readOnly: false }, true);
    expect(added).toMatch(/<entry name='opt\/com.example\/x'>1<\/entry>\n {4}<entry name='opt\/org.flotilla\/shares'>a rw\n<\/entry>/);
    expect(withShareRemoved(added, 'a', true)).toContain("<sysinfo type='fwcfg'>\n    <entry name='opt/com.example/x'>1</entry>\n  </sysinfo>");
    const foreign = withShareAdded(BUILT_IN, { tag: 'a', hostPath: '/a', readOnly: false }, false);
    expect(foreign).not.toContain('sysinfo');
    expect(foreign).not.toContain('flotilla.shares');
  });

  it('joins memory backing set up by hand when it can, and refuses when it is backed otherwise', () => {
    const huge = BUILT_IN.replace('  <vcpu', '  <memoryBacking>\n    <hugepages/>\n  </memoryBacking>\n  <vcpu');
    expect(withShareAdded(huge, { tag: 'a', hostPath: '/a', readOnly: false }, false)).toContain(`<memoryBacking>\n    <hugepages/>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>`);
    const file = BUILT_IN.replace('  <vcpu', "  <memoryBacking>\n    <source type='file'/>\n  </memoryBacking>\n  <vcpu");
    expect(() => withShareAdded(file, { tag: 'a', hostPath: '/a', readOnly: false }, false)).toThrow(/memory backing is set up by hand and not shared/);
    const shared = BUILT_IN.replace('  <vcpu', "  <memoryBacking>\n    <source type='memfd'/>\n    <access mode='shared'/>\n  </memoryBacking>\n  <vcpu");
    expect(withShareAdded(shared, { tag: 'a', hostPath: '/a', readOnly: false }, false).match(/<access mode='shared'\/>/g)).toHaveLength(1);
  });

  it("says what to do when libvirt refuses a read-only share", () => {
    const e = shareRefusal(new FlotillaError('INTERNAL', 'libvirt host lab: virsh define failed: error: unsupported configuration: virtiofs does not yet support read-only mode'), 'lab');
    expect(e).toMatchObject({ code: 'UNSUPPORTED', message: 'libvirt on lab cannot share a folder read-only (virtiofs there does not support it yet); share it read-write, or from a VM on this computer' });
    const other = new FlotillaError('INTERNAL', 'something else');
    expect(shareRefusal(other, 'lab')).toBe(other);
  });
});
