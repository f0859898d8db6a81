// The block devices of a VM's QEMU command line: the disk, the extra disks and the CD drive, each
// attached as two -blockdev nodes of fixed names (a file node `<id>-file` under a format node
// `<id>-fmt`) and a device with id `<id>`, so QMP jobs that name nodes (snapshot-save/-load,
// block_resize, blockdev-change-medium) can address them; `-drive` would give the nodes generated
// names (#block123) that change from run to run. Part of qemu-args.ts, which composes the rest.
import { join } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import type { VmSpec } from '../../shared/spec';

/** QEMU's option parser splits on commas; a literal comma is written twice. */
export function escapeOptValue(v: string): string {
  return v.replaceAll(',', ',,');
}

/** microvm has no PCI bus: its virtio devices are the -device (mmio) variants. */
export function virtio(kind: 'blk' | 'net' | 'serial' | 'rng', machine: string): string {
  return machine.startsWith('microvm') ? `virtio-${kind}-device` : `virtio-${kind}-pci`;
}

export const PFLASH_CODE = 'pflash0';
export const PFLASH_VARS = 'pflash1';
/** Device ids of the disks and the CD; their nodes are `<id>-file` and `<id>-fmt`. */
export const DISK_ID = 'disk0';
export const CDROM_ID = 'cd0';

/** A format driver name from qemu-img info; anything else could smuggle options into -blockdev. */
const FORMAT_RE = /^[a-z0-9]+$/;

/**
 * The two nodes of one image: `<id>-file` (the host file) under `<id>-fmt` (the format driver).
 * Writable images get writeback caching (QEMU's default for -blockdev: no O_DIRECT, flushes
 * honoured) and pass guest discards down so a qcow2 stays sparse.
 */
export function blockdevArgs(id: string, file: string, format: string, readOnly: boolean): string[] {
  if (!FORMAT_RE.test(format)) throw new FlotillaError('INTERNAL', `not a disk format name: ${JSON.stringify(format)}`);
  const opts = readOnly ? ',read-only=on' : ',discard=unmap';
  return [
    '-blockdev', `driver=file,filename=${escapeOptValue(file)},node-name=${id}-file${opts}`,
    '-blockdev', `driver=${format},file=${id}-file,node-name=${id}-fmt${opts}`,
  ];
}


/** bootindex null: not a boot device (a -kernel boot, whose linuxboot ROM takes bootindex 0). */
export function diskArgs(file: string, format: string, bootindex: number | null, machine: string, serial?: string): string[] {
  return [
    ...blockdevArgs(DISK_ID, file, format, false),
    '-device', `${virtio('blk', machine)},drive=${DISK_ID}-fmt,id=${DISK_ID},write-cache=on${serial ? `,serial=${serial}` : ''}${bootindex === null ? '' : `,bootindex=${bootindex}`}`,
  ];
}

/**
 * Disks added after create (`flotilla disk add`) are named extra-<n>.qcow2; they never boot. Each
 * carries the serial flotilla-extra-<n>, by which the built-in Linux mounts it at /mnt/extra-<n>.
 */
export const EXTRA_DISK_RE = /^extra-(\d+)\.qcow2$/;

export function extraDiskArgs(spec: VmSpec, vmDir: string, machine: string): string[] {
  return spec.disks
    .filter((d) => EXTRA_DISK_RE.test(d))
    .flatMap((d) => {
      const id = `x${EXTRA_DISK_RE.exec(d)![1]}`;
      return [
        ...blockdevArgs(id, join(vmDir, d), 'qcow2', false),
        '-device', `${virtio('blk', machine)},drive=${id}-fmt,id=${id},write-cache=on,serial=flotilla-extra-${EXTRA_DISK_RE.exec(d)![1]}`,
      ];
    });
}

/** qdev id of the CD drive: QMP blockdev-change-medium / eject address it by this */
export const CDROM_QDEV_ID = CDROM_ID;

/** What the CD drive holds: an ISO path, null (an empty drive), or undefined (no drive). */
export function cdromMedium(spec: VmSpec): string | null | undefined {
  if (spec.cdrom !== undefined) return spec.cdrom;
  return spec.source.kind === 'iso' ? spec.source.path : undefined;
}

function cdromArgs(iso: string | null, bootindex: number | null): string[] {
  return [
    // an empty drive has no block node at all: the device alone (QMP can insert a medium later)
    ...(iso === null ? [] : blockdevArgs(CDROM_ID, iso, 'raw', true)),
    '-device', `ide-cd,${iso === null ? '' : `drive=${CDROM_ID}-fmt,`}id=${CDROM_QDEV_ID},bus=ide.0${bootindex === null ? '' : `,bootindex=${bootindex}`}`,
  ];
}

/** The CD drive, where the VM has one (a microvm has no IDE bus). */
export function mediaArgs(spec: VmSpec, machine: string): string[] {
  const medium = cdromMedium(spec);
  if (medium === undefined || machine.startsWith('microvm')) return [];
  // an ISO VM's CD boots after the (blank, then installed) disk; kernel boots use no bootindex
  const boot = spec.source.kind === 'iso' || spec.source.kind === 'disk' ? 1 : null;
  return cdromArgs(medium, boot);
}
