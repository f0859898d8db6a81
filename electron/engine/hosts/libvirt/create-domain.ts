// Creating a domain on a libvirt host from the same VmConfig the local host takes:
//   default → the built-in guest's kernel and initrd uploaded once into the "flotilla" pool
//             (storage.ts) and booted directly, plus a qcow2 disk the guest keeps /root on (as a
//             local built-in VM does; qcow2, so libvirt's internal snapshots work);
//   iso     → a new qcow2 disk in the pool and the ISO (a path on that host) as a cdrom;
//   disk    → a disk image that is on that host, referenced in place;
//   kernel  → a kernel (+ initrd, + disk) that are on that host.
// The XML is defined from a private temp file; a failure after a volume was made removes it, and
// the volume journal removes one a killed engine made (volume-journal.ts).
// The built-in guest's boot files are boot-update.ts's, which also keeps older domains on them.
import { FlotillaError } from '../../../../shared/errors';
import { tidyHostPath, type Share, type VmConfig } from '../../../../shared/spec';
import { DEFAULT_GUEST_PROFILE } from '../../guest/boot-profile';
import { ROOT_DISK_SERIAL } from '../../qemu-args';
import { readDefaultGuest } from '../../guest/build-default';
import { builtInCmdline, DEFAULT_NETWORK, defaultNetworkActive, pruneInBackground, readyGuest, uploadBootFiles, type Bar, type BootContext } from './boot-update';
import { defineXml } from './define-xml';
import { buildDomainXml, type DomainDisk, type DomainXmlInput } from './domain-xml';
import { createDiskVolume, deleteVolume, ensurePool, POOL } from './storage';
import { extraDisk } from './domain-disks';
import { shareRefusal, withShareAdded } from './domain-shares';
import { nextShare, resolveShareDir } from '../../lifecycle/shares';


/** Where QEMU's qboot ROM is on Debian hosts (qemu-system-data); the built-in guest boots faster with it. */
export const QBOOT_ROM = '/usr/share/qemu/qboot.rom';

/**
 * The disks of an import (import-domain.ts), already volumes in the pool: its root disk, the
 * disks added to it (by their number: extra-<n> keeps /mnt/extra-<n> in the built-in Linux) and,
 * for a VM made from an ISO, what its CD drive holds (null: empty; the ISO was a file of the
 * computer it came from).
 */
export interface ImportedDisks {
  root: string;
  extras: { path: string; n: number }[];
  cd?: string | null;
  /** the volumes, for the definition's record of what Flotilla made (deleted with the domain's storage) */
  volumes: string[];
}

export async function createDomain(ctx: BootContext, config: VmConfig, uuid: string, imported?: ImportedDisks, bar?: Bar): Promise<string> {
  if (config.forwards.length > 0) {
    throw new FlotillaError('UNSUPPORTED', 'port forwards are not available on libvirt hosts (they need libvirt user networking with passt); reach the guest on its address instead', { field: 'forwards' });
  }
  if (config.firmware === 'uefi' && config.source.kind === 'default') throw new FlotillaError('UNSUPPORTED', 'the built-in Linux boots with BIOS on libvirt hosts (qboot); choose BIOS', { field: 'firmware' });
  const short = uuid.slice(0, 8);
  const madeVolumes: string[] = [];
  /** forgets the journal's record of each volume made (volume-journal.ts) */
  const forget: (() => Promise<void>)[] = [];
  const newDisk = async (vol: string, sizeGiB: number): Promise<string> => {
    if (imported) return imported.root;
    forget.push(await ctx.journal.track(POOL, vol, uuid));
    const path = await createDiskVolume(ctx.virsh, vol, sizeGiB);
    madeVolumes.push(vol);
    return path;
  };
  /** the built-in guest's kernel and initrd volumes this domain boots */
  let bootVolumes: string[] = [];
  // the built-in guest joins a network only if it can ask DHCP (a guest built before cannot); other
  // guests bring their own network set-up
  const builtIn = config.source.kind === 'default' ? await readDefaultGuest(ctx.home) : null;
  const dhcpGuest = !builtIn || builtIn.manifest?.dhcp === true;
  const network = dhcpGuest && (await defaultNetworkActive(ctx.virsh)) ? DEFAULT_NETWORK : undefined;
  const base = { name: config.name, uuid, memoryMiB: config.memoryMiB, cpus: config.cpus, display: config.display, description: config.note, uefi: config.firmware === 'uefi', ...(network ? { network } : {}) } as const;
  let input: DomainXmlInput;
  try {
    const src = config.source;
    if (src.kind === 'default') {
      const g = builtIn!;
      const m = readyGuest(g);
      const boot = await uploadBootFiles(ctx, g, bar);
      bootVolumes = boot.volumes;
      // its /root, as a local built-in VM's disk is: the guest finds it by its serial, formats it when blank
      const disk = await newDisk(`${config.name}-${short}.qcow2`, src.diskSizeGiB);
      input = {
        ...base,
        // on a libvirt network the guest asks its DHCP server (assets/guest/dhcp); on user networking it
        // knows QEMU's fixed addresses
        kernel: { kernel: boot.kernel, initrd: boot.initrd, cmdline: builtInCmdline(m, config.name, !!network) },
        ...(m.bios === 'qboot.rom' ? { romLoader: QBOOT_ROM } : {}),
        // guests built before the port had their shell on hvc0
        consolePort: m.console === 'vport',
        ...(DEFAULT_GUEST_PROFILE.cpu ? { cpu: { model: 'qemu64', features: ['rdrand'] } } : {}),
        disks: [{ path: disk, format: 'qcow2', device: 'disk', serial: ROOT_DISK_SERIAL }],
        metadata: {},
      };
    } else if (src.kind === 'iso') {
      await ctx.lock.run('storage', () => ensurePool(ctx.virsh));
      const disk = await newDisk(`${config.name}-${short}.qcow2`, src.diskSizeGiB);
      input = { ...base, disks: [{ path: disk, format: 'qcow2', device: 'disk' }, { path: imported ? (imported.cd ?? null) : src.path, format: 'raw', device: 'cdrom' }], metadata: {} };
    } else if (src.kind === 'disk') {
      input = { ...base, disks: [imported ? { path: imported.root, format: 'qcow2', device: 'disk' } : { path: src.path, format: src.path.endsWith('.qcow2') ? 'qcow2' : 'raw', device: 'disk' }], metadata: {} };
    } else {
      const disks: DomainDisk[] = src.disk ? [{ path: src.disk, format: src.disk.endsWith('.qcow2') ? 'qcow2' : 'raw', device: 'disk' }] : [];
      input = { ...base, kernel: { kernel: src.kernel, ...(src.initrd ? { initrd: src.initrd } : {}), ...(src.append ? { cmdline: src.append } : {}) }, disks, metadata: {} };
    }
    for (const x of imported?.extras ?? []) input.disks.push({ path: x.path, format: 'qcow2', device: 'disk', ...extraDisk(x.n) });
    input.metadata = { spec: { ...config, id: uuid.replace(/-/g, ''), createdAt: new Date().toISOString(), disks: [] }, volumes: [...madeVolumes, ...(imported?.volumes ?? [])] };
    // shared folders as share.add makes them (domain-shares.ts), each checked as there
    let xml = buildDomainXml(input);
    const shares: Share[] = [];
    for (const s of config.shares ?? []) {
      const share = nextShare(config.name, shares, ctx.local ? await resolveShareDir(s.hostPath, 'shares') : tidyHostPath(s.hostPath), s);
      shares.push(share);
      xml = withShareAdded(xml, share, src.kind === 'default');
    }
    await defineXml(ctx.virsh, xml).catch((err: unknown) => {
      throw shareRefusal(err, ctx.hostId);
    });
    for (const f of forget) await f();
    // libvirt's own autostart: libvirtd starts it when it starts. The domain stands without it
    // (its Settings then show autostart off, read back from libvirt), so a failure here is not the create's
    if (config.autostart) await ctx.virsh.run(['autostart', '--domain', uuid]).catch(() => undefined);
    // the boot files of earlier guest builds that nothing names any more go, in the background:
    // the create does not wait for a scan of every definition on the host
    if (bootVolumes.length) pruneInBackground(ctx, bootVolumes);
    return uuid;
  } catch (err) {
    for (const v of madeVolumes) await deleteVolume(ctx.virsh, v).catch(() => undefined);
    for (const f of forget) await f();
    throw err;
  }
}
