// manifest.json of a built default guest: what it was made from (package names, versions and
// checksums), checksums of the outputs, the kernel version and how to boot it.
import { z } from 'zod';
import type { GuestConsoleKind } from '../qemu-args';

export const MANIFEST_FORMAT = 1;

/** What a guest built by this checkout can do beyond booting (written to its manifest; part of the recipe). */
export const GUEST_FEATURES = { dhcp: true } as const;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const GuestManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  kernelVersion: z.string().min(1),
  /** kernel command line without the per-VM name parameter */
  cmdline: z.string(),
  /** the parameter carrying the VM name, appended as `<nameParam>=<hostname>` */
  nameParam: z.string(),
  machine: z.string(),
  /**
   * the device the guest's console and shell are on (GuestConsoleKind in qemu-args.ts: 'vport' = a
   * virtio-serial port relayed to a pty, 'hvc0' = a virtio console port, 'ttyS0' = the first UART);
   * additive field, guests built before it have ttyS0, guests built before 'vport' keep hvc0
   */
  console: z.enum(['ttyS0', 'hvc0', 'vport']).default('ttyS0'),
  /**
   * the guest asks DHCP for its address when booted with flotilla.net=dhcp (assets/guest/dhcp), so
   * it can join a libvirt network; additive field, guests built before it know only QEMU's user
   * networking (and a libvirt host gives them that)
   */
  dhcp: z.boolean().default(false),
  /** recommended -bios (QEMU data-dir file name), null = QEMU's default firmware; additive field */
  bios: z.string().nullable().default(null),
  initrdCompression: z.enum(['none', 'gzip']),
  /** 'pvh-elf': vmlinuz is the uncompressed ELF vmlinux, booted by QEMU through its PVH entry */
  kernelFormat: z.enum(['pvh-elf', 'bzimage']),
  packages: z.array(z.object({ name: z.string(), version: z.string(), sha256 })),
  /** guest-recipe.ts's fingerprint of the recipe that built it; additive field (older guests: none, so stale) */
  recipe: sha256.optional(),
  modules: z.array(z.string()),
  /** what compiled the console relay (guest-relay.ts), e.g. "gcc 12.2.0, glibc 2.36"; additive field */
  relayToolchain: z.string().optional(),
  files: z.object({
    vmlinuz: z.object({ sha256, size: z.number().int().nonnegative() }),
    'initrd.img': z.object({ sha256, size: z.number().int().nonnegative() }),
    /**
     * Debian's own bzImage, kept beside a pvh-elf vmlinuz for UEFI boots: OVMF loads a -kernel
     * from fw_cfg as an EFI application, which the EFI stub of a bzImage is and a bare ELF is not
     * (OVMF then reports "failed to load Boot0001 'UEFI Non-Block Boot Device'"). Additive field.
     */
    bzImage: z.object({ sha256, size: z.number().int().nonnegative() }).optional(),
  }),
});

export type GuestManifest = z.infer<typeof GuestManifestSchema>;

export interface ManifestInput {
  kernelVersion: string;
  cmdline: string;
  nameParam: string;
  machine: string;
  console: GuestConsoleKind;
  /** the guest can ask DHCP (flotilla.net=dhcp); false when not given */
  dhcp?: boolean;
  bios: string | null;
  initrdCompression: 'none' | 'gzip';
  kernelFormat: 'pvh-elf' | 'bzimage';
  packages: { name: string; version: string; sha256: string }[];
  recipe: string;
  modules: string[];
  relayToolchain?: string;
  vmlinuz: { sha256: string; size: number };
  initrd: { sha256: string; size: number };
  bzImage?: { sha256: string; size: number };
}

/** Builds the manifest; packages are sorted by name so the file is stable. */
export function makeManifest(m: ManifestInput): GuestManifest {
  return {
    format: MANIFEST_FORMAT,
    kernelVersion: m.kernelVersion,
    cmdline: m.cmdline,
    nameParam: m.nameParam,
    machine: m.machine,
    console: m.console,
    dhcp: m.dhcp ?? false,
    bios: m.bios,
    initrdCompression: m.initrdCompression,
    kernelFormat: m.kernelFormat,
    packages: [...m.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((p) => ({ name: p.name, version: p.version, sha256: p.sha256 })),
    recipe: m.recipe,
    modules: [...m.modules],
    ...(m.relayToolchain ? { relayToolchain: m.relayToolchain } : {}),
    files: { vmlinuz: { ...m.vmlinuz }, 'initrd.img': { ...m.initrd }, ...(m.bzImage ? { bzImage: { ...m.bzImage } } : {}) },
  };
}

export function serializeManifest(m: GuestManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** Parses manifest.json text; throws with the file's problem named. */
export function parseManifest(text: string, where = 'manifest.json'): GuestManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const r = GuestManifestSchema.safeParse(raw);
  if (!r.success) throw new Error(`${where} is not a Flotilla guest manifest: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}
