import { describe, expect, it } from 'vitest';
import { extraNumber, nextTarget, parseBlkInfo, parseBlkList } from './domain-disks';

describe('libvirt disk listings (what virsh prints is the host\'s text)', () => {
  it('reads domblklist --details, a path with spaces whole, an empty drive as none', () => {
    const text = [
      ' Type   Device   Target   Source',
      '------------------------------------------------',
      ' file   disk     vda      /var/lib/libvirt/flotilla/web-1234.qcow2',
      ' file   disk     vdb      /srv/my images/data disk.qcow2',
      ' file   cdrom    sda      -',
      ' block  disk     vdc      /dev/vg0/lv1',
      '',
    ].join('\n');
    expect(parseBlkList(text)).toEqual([
      { device: 'disk', target: 'vda', source: '/var/lib/libvirt/flotilla/web-1234.qcow2' },
      { device: 'disk', target: 'vdb', source: '/srv/my images/data disk.qcow2' },
      { device: 'cdrom', target: 'sda', source: null },
      { device: 'disk', target: 'vdc', source: '/dev/vg0/lv1' },
    ]);
  });

  it('skips what is not a block device line, a target that could be an option, and a relative or control-character source', () => {
    expect(parseBlkList(' file   disk     --pool   /x\n network disk vdb rbd/pool\n file disk vdc /a\u001bb')).toEqual([
      { device: 'disk', target: 'vdb', source: null },
      { device: 'disk', target: 'vdc', source: null },
    ]);
  });

  it('reads domblkinfo in bytes', () => {
    expect(parseBlkInfo('Capacity:       1073741824\nAllocation:     200704\nPhysical:       196624\n')).toEqual({ capacity: 1073741824, allocation: 200704 });
    expect(parseBlkInfo('error: no such disk')).toBeNull();
  });

  it('names an added disk after the last in use', () => {
    expect(nextTarget(['vda', 'sda'])).toBe('vdb');
    expect(nextTarget(['vda', 'vdb', 'vdd'])).toBe('vdc');
    expect(() => nextTarget(Array.from({ length: 26 }, (_, i) => `vd${String.fromCharCode(97 + i)}`))).toThrow(/no free virtio disk name/);
    // and numbers it as the built-in Linux mounts it (serial flotilla-extra-<n>, /mnt/extra-<n>)
    expect([extraNumber('vdb'), extraNumber('vdc'), extraNumber('vda'), extraNumber('sda')]).toEqual([1, 2, null, null]);
  });
});
