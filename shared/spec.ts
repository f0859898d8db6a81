// The VM spec: the one schema every side validates against. `vm.json` holds a VmSpec.
// Every message a schema gives is read by a user (the create dialog, the Settings tab, the CLI):
// it says in plain words what is allowed, never a schema path, a type name or `NaN`. Fields set
// their own messages; `humanError` below words whatever is left (unknown keys, a wrong type in a
// hand-written request).
import { z } from 'zod';
import { VM_ID_RE } from './contract-names';

/** Words for a field in messages that zod makes, by its key. */
const FIELD_WORDS: Record<string, string> = {
  name: 'name',
  source: 'source',
  kind: 'source',
  path: 'path',
  kernel: 'kernel path',
  initrd: 'initrd path',
  disk: 'disk path',
  append: 'kernel command line',
  diskSizeGiB: 'disk size',
  mode: 'disk mode',
  cpus: 'CPUs',
  memoryMiB: 'memory',
  firmware: 'firmware',
  display: 'display',
  forwards: 'port forwards',
  proto: 'protocol',
  guestPort: 'guest port',
  hostPort: 'host port',
  restartPolicy: 'restart policy',
  autostart: 'start automatically',
  keepRunningOnQuit: 'keep running on quit',
  id: 'VM id',
  shares: 'shared folders',
  tag: 'share tag',
  hostPath: 'shared folder path',
  readOnly: 'read-only',
};

function fieldWords(path: readonly PropertyKey[] | undefined): string {
  const key = [...(path ?? [])].reverse().find((k) => typeof k === 'string');
  return key === undefined ? 'value' : (FIELD_WORDS[key] ?? `"${key}"`);
}

const TYPE_WORDS: Record<string, string> = { number: 'a number', string: 'text', boolean: 'yes or no (true/false)', array: 'a list', object: 'a set of settings', int: 'a whole number' };

const orList = (values: readonly unknown[]): string => {
  const v = values.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
  return v.length <= 1 ? (v[0] ?? '') : `${v.slice(0, -1).join(', ')} or ${v.at(-1)}`;
};

/**
 * The wording of any issue a field did not word itself. Installed as zod's global error map
 * (below), so it covers every schema of the contract; a field's own message still wins.
 */
export function humanError(iss: { code?: string; path?: readonly PropertyKey[]; input?: unknown; [k: string]: unknown }): string {
  const what = fieldWords(iss.path);
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return `${what} is required`;
      return `${what} must be ${TYPE_WORDS[String(iss.expected)] ?? String(iss.expected)}`;
    case 'too_small':
      if (iss.origin === 'string') return iss.minimum === 1 ? `${what} must not be empty` : `${what} must be at least ${String(iss.minimum)} characters`;
      if (iss.origin === 'array') return `${what} needs at least ${String(iss.minimum)}`;
      return `${what} must be at least ${String(iss.minimum)}`;
    case 'too_big':
      if (iss.origin === 'string') return `${what} must be at most ${String(iss.maximum)} characters`;
      if (iss.origin === 'array') return `at most ${String(iss.maximum)} ${what}`;
      return `${what} must be at most ${String(iss.maximum)}`;
    case 'invalid_value':
      return `${what} must be ${orList((iss.values as unknown[] | undefined) ?? [])}`;
    case 'unrecognized_keys': {
      const keys = (iss.keys as string[] | undefined) ?? [];
      return `unknown setting${keys.length === 1 ? '' : 's'} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    case 'invalid_union':
      return `${what} is not one of the allowed kinds`;
    case 'invalid_format':
      return `${what} is not in the expected format`;
    case 'not_multiple_of':
      return `${what} must be a whole number`;
    default:
      return `${what} is not valid`;
  }
}

z.config({ customError: (iss) => humanError(iss as never) });

/** A whole number in a range, with one message for every way to miss it (empty, NaN, 1.5, too big). */
function wholeNumber(message: string, min: number, max: number) {
  return z.number({ error: message }).int(message).min(min, message).max(max, message);
}

/** The allowed choices, worded once for every way to miss them. */
function choice<const T extends readonly [string, ...string[]]>(what: string, values: T) {
  return z.enum(values, { error: `${what} must be ${orList(values)}` });
}

export const VM_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const vmName = z
  .string({ error: 'name is required' })
  .regex(VM_NAME_RE, 'name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit');

/** A host path the user named. Absolute, no NUL bytes, no `file:` URLs. */
export const hostPath = z
  .string({ error: 'path is required' })
  .min(1, 'path is required')
  .max(4096, 'path is too long')
  .refine((p) => p.startsWith('/'), 'path must be absolute (start with /)')
  .refine((p) => !p.includes('\0'), 'path must not contain NUL bytes');

/**
 * A shared folder's tag: what the guest mounts (`mount -t virtiofs TAG DIR`) and the built-in
 * Linux's mount point (/mnt/TAG). Only these characters, so a tag can never be read as an option,
 * a path component or shell syntax by anything it reaches; 36 is virtio-fs's tag limit.
 */
export const SHARE_TAG_RE = /^[a-z0-9][a-z0-9_-]{0,35}$/;
export const shareTag = z
  .string({ error: 'share tag is required' })
  .regex(SHARE_TAG_RE, 'a share tag is 1–36 characters of a-z, 0-9, "_" and "-", starting with a letter or digit');

/** `/a//b/./c/` → `/a/b/c`; `..` is kept (only the host can resolve it against symlinks). */
export function tidyHostPath(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  return `/${parts.join('/')}`;
}

/** A host directory to share: absolute, and never the whole host file system. */
export const shareHostPath = hostPath.refine((p) => tidyHostPath(p) !== '/', 'sharing / (the whole host) is not allowed; name the directory to share');

export const MAX_SHARES = 16;

/** A tag made from a directory's last name (lower case, a-z 0-9 _ -), unique among `taken`. */
export function defaultShareTag(dir: string, taken: ReadonlySet<string> = new Set()): string {
  const last = dir.split('/').filter(Boolean).at(-1) ?? '';
  const base = last.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').slice(0, 32) || 'share';
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const t = `${base}-${n}`;
    if (!taken.has(t)) return t;
  }
}

/** One host directory shared with the guest (virtio-fs). Read-only is enforced on the host. */
export const shareSchema = z
  .object({
    tag: shareTag,
    hostPath: shareHostPath,
    readOnly: z.boolean({ error: 'read-only must be true or false' }).default(false),
  })
  .strict();
export type Share = z.output<typeof shareSchema>;

const shareList = z
  .array(shareSchema, { error: 'shared folders must be a list' })
  .max(MAX_SHARES, `at most ${MAX_SHARES} shared folders`)
  .superRefine((shares, ctx) => {
    const seen = new Set<string>();
    shares.forEach((s, i) => {
      if (seen.has(s.tag)) ctx.addIssue({ code: 'custom', message: `share tag ${s.tag} is used twice`, path: [i, 'tag'] });
      seen.add(s.tag);
    });
  });

/** The built-in Linux's own disk (mounted at /root in the guest): sparse, so 8 GiB costs little until used. */
export const DEFAULT_ROOT_DISK_GIB = 8;

const diskSizeGiB = (dflt: number) => wholeNumber('disk size must be a whole number of GiB, at least 1 (at most 4096)', 1, 4096).default(dflt);

export const sourceSchema = z.discriminatedUnion(
  'kind',
  [
  z
    .object({
      kind: z.literal('default'),
      diskSizeGiB: diskSizeGiB(DEFAULT_ROOT_DISK_GIB),
    })
    .strict(),
  z
    .object({
      kind: z.literal('iso'),
      path: hostPath,
      diskSizeGiB: diskSizeGiB(16),
    })
    .strict(),
  z
    .object({
      kind: z.literal('disk'),
      path: hostPath,
      mode: choice('disk mode', ['copy', 'reference']).default('copy'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('kernel'),
      kernel: hostPath,
      initrd: hostPath.optional(),
      append: z.string().max(4096, 'the kernel command line must be at most 4096 characters').optional(),
      disk: hostPath.optional(),
    })
    .strict(),
  ],
  { error: 'source must be default, iso (an installer CD), disk (a disk image) or kernel (a Linux kernel)' },
);
export type VmSource = z.infer<typeof sourceSchema>;
export type VmSourceKind = VmSource['kind'];

export const forwardSchema = z
  .object({
    proto: choice('protocol', ['tcp', 'udp']).default('tcp'),
    guestPort: wholeNumber('guest port must be a whole number from 1 to 65535', 1, 65535),
    // 1..1023 are privileged on Linux (binding them needs root), and 0 means "any port" to the
    // kernel: Flotilla picks a free port itself when the host port is left empty
    hostPort: wholeNumber('host port must be from 1024 to 65535 (lower ports need root), or left empty to pick a free port', 1024, 65535).optional(),
  })
  .strict();
export type Forward = z.infer<typeof forwardSchema>;

const forwardList = z
  .array(forwardSchema, { error: 'port forwards must be a list' })
  .max(32, 'at most 32 port forwards')
  .superRefine((fwds, ctx) => {
    const seen = new Set<string>();
    fwds.forEach((f, i) => {
      const k = `${f.proto}/${f.guestPort}`;
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `guest port ${k} is forwarded twice`, path: [i, 'guestPort'] });
      seen.add(k);
      if (f.hostPort !== undefined) {
        const h = `${f.proto}:${f.hostPort}`;
        if (seen.has(h)) ctx.addIssue({ code: 'custom', message: `host port ${h} is used twice`, path: [i, 'hostPort'] });
        seen.add(h);
      }
    });
  });
const forwardsSchema = forwardList.default([]);

export const MAX_CPUS = 64;
export const MIN_MEMORY_MIB = 64;
export const MAX_MEMORY_MIB = 262144;

/** The settings a user may also change later, without their create-time defaults (see vmPatchSchema). */
const settings = {
  cpus: wholeNumber(`CPUs must be a whole number from 1 to ${MAX_CPUS}`, 1, MAX_CPUS),
  // the host's own memory is the real limit; the engine checks it (host-memory.ts)
  memoryMiB: wholeNumber(`memory must be a whole number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`, MIN_MEMORY_MIB, MAX_MEMORY_MIB),
  firmware: choice('firmware', ['bios', 'uefi']),
  display: choice('display', ['none', 'vnc']),
  restartPolicy: choice('restart policy', ['never', 'on-failure']),
  keepRunningOnQuit: z.boolean({ error: 'keep running on quit must be true or false' }),
  autostart: z.boolean({ error: 'start automatically must be true or false' }),
  note: z.string({ error: 'a note must be text' }).max(500, 'a note can be at most 500 characters'),
};

/**
 * One OpenSSH public key line: type, base64 blob, optional comment. Nothing else (no options such
 * as command="…", no newlines): the guest appends these lines to root's authorized_keys.
 */
export const SSH_PUBLIC_KEY_RE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20-\x7e]{0,200})?$/;
export const sshPublicKey = z
  .string()
  .max(16384, 'an SSH public key is at most 16 KiB')
  .regex(SSH_PUBLIC_KEY_RE, 'not an SSH public key line (expected e.g. "ssh-ed25519 AAAA… comment", as in ~/.ssh/id_ed25519.pub)');

/** Everything the user chooses. Defaults give a small headless Linux VM. */
export const vmConfigSchema = z
  .object({
    name: vmName,
    source: sourceSchema,
    cpus: settings.cpus.default(1),
    memoryMiB: settings.memoryMiB.default(256),
    firmware: settings.firmware.default('bios'),
    display: settings.display.default('none'),
    forwards: forwardsSchema,
    restartPolicy: settings.restartPolicy.default('never'),
    keepRunningOnQuit: settings.keepRunningOnQuit.default(false),
    /**
     * Started by the first engine after this computer starts (its boot id differs from the one the
     * last such start recorded), as libvirt's autostart starts a domain with libvirtd.
     */
    autostart: settings.autostart.default(false),
    /** the user's own words about this VM, shown on its tile */
    note: settings.note.optional(),
    /** public keys the built-in Linux accepts for root over SSH, besides the engine user's ~/.ssh/*.pub */
    sshKeys: z.array(sshPublicKey, { error: 'SSH keys must be a list' }).max(32, 'at most 32 SSH keys').default([]),
    /**
     * Host directories shared with the guest (virtio-fs; local host only, caps.shares). The
     * built-in Linux mounts each at /mnt/<tag>; changed later with share.add / share.remove.
     */
    shares: shareList.optional(),
  })
  .strict();
export type VmConfigInput = z.input<typeof vmConfigSchema>;
export type VmConfig = z.output<typeof vmConfigSchema>;

export const vmIdSchema = z.string({ error: 'VM id is required' }).regex(VM_ID_RE, 'malformed VM id');

/** A file the VM owns inside its directory: a plain name, never `.`/`..` or a hidden file. */
export const diskFileName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'disk file names are a-z, 0-9, ".", "_" and "-", starting with a letter or digit');

/** Locally administered unicast MACs under QEMU's 52:54:00 prefix. */
export const macSchema = z.string().regex(/^52:54:00(:[0-9a-f]{2}){3}$/, 'MAC must look like 52:54:00:xx:xx:xx (lower-case hex)');

/** What is stored in vms/<id>/vm.json. */
export const vmSpecSchema = vmConfigSchema
  .extend({
    id: vmIdSchema,
    createdAt: z.string(),
    /** Disk images owned by this VM (inside its directory), relative file names. */
    disks: z.array(diskFileName).default([]),
    /**
     * The NIC's MAC address, locally administered in QEMU's 52:54:00 range and unique among
     * this engine's VMs (clones and imports get their own), and the VM's SMBIOS UUID. Given at
     * creation; specs written before they existed get them on load (the store writes them back).
     */
    mac: macSchema.optional(),
    uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'malformed UUID').optional(),
    /**
     * The CD drive's medium (`flotilla media insert|eject`): an ISO path, or null for an empty drive.
     * Absent: an ISO VM's drive holds its source ISO; other VMs have no drive.
     */
    cdrom: hostPath.nullable().optional(),
    /** a linked clone: its first disk is a qcow2 overlay backed by this VM's first disk */
    linkedFrom: vmIdSchema.optional(),
  })
  .strict();
export type VmSpec = z.output<typeof vmSpecSchema>;

/** The host disk a VM uses in place (a disk by reference, or a kernel VM's disk), which the VM does not own. */
export function referencedDisk(spec: Pick<VmSpec, 'source'>): string | undefined {
  const src = spec.source;
  if (src.kind === 'disk' && src.mode === 'reference') return src.path;
  if (src.kind === 'kernel') return src.disk;
  return undefined;
}

/** Fields the user may change later (see LIVE_SETTINGS for which of them wait for a stopped VM). */
// Built from the default-free schemas on purpose: zod 4 keeps `.default()`s through `.partial()`,
// so a patch picked from vmConfigSchema turned `{ restartPolicy }` into every other setting's default.
export const vmPatchSchema = z
  .object({
    name: vmName.optional(),
    cpus: settings.cpus.optional(),
    memoryMiB: settings.memoryMiB.optional(),
    forwards: forwardList.optional(),
    restartPolicy: settings.restartPolicy.optional(),
    keepRunningOnQuit: settings.keepRunningOnQuit.optional(),
    autostart: settings.autostart.optional(),
    display: settings.display.optional(),
    firmware: settings.firmware.optional(),
    note: settings.note.optional(),
  })
  .strict();
export type VmPatch = z.input<typeof vmPatchSchema>;

/**
 * The settings that apply while the VM runs: its label, what Flotilla does around it (on a crash,
 * on quit, after the computer starts) and its port forwards, which QEMU's user network takes live
 * (lifecycle/live-forwards.ts). The rest is the VM's hardware and firmware, which wait for a
 * stopped VM (as in virt-manager, Boxes and UTM). A new name reaches the built-in Linux (its
 * hostname) at its next start.
 */
export const LIVE_SETTINGS = ['name', 'note', 'forwards', 'restartPolicy', 'keepRunningOnQuit', 'autostart'] as const satisfies readonly (keyof VmPatch)[];

/**
 * What a VM's host lets the user change (VmInfo.settings): which settings it takes at all, and
 * which of those also apply while the VM runs. The Settings tab shows and locks its fields by it.
 */
export interface SettingsRule {
  editable: readonly (keyof VmPatch)[];
  live: readonly (keyof VmPatch)[];
}

/** The local host: every setting; LIVE_SETTINGS while it runs. */
export const LOCAL_SETTINGS: SettingsRule = { editable: Object.keys(vmPatchSchema.shape) as (keyof VmPatch)[], live: LIVE_SETTINGS };

/** A VM whose settings cannot be changed (a broken one: its vm.json could not be read). */
export const NO_SETTINGS: SettingsRule = { editable: [], live: [] };

const SETTING_WORDS: Record<keyof VmPatch, string> = {
  name: 'name',
  note: 'note',
  restartPolicy: 'crash policy',
  keepRunningOnQuit: 'keep-running choice',
  autostart: 'autostart',
  cpus: 'CPUs',
  memoryMiB: 'memory',
  forwards: 'port forwards',
  display: 'display',
  firmware: 'firmware',
};

/** What the user calls a setting, for messages ("stop web before changing its CPUs and memory"). */
export function settingWords(keys: readonly (keyof VmPatch)[]): string {
  const w = keys.map((k) => SETTING_WORDS[k]);
  return w.length <= 1 ? (w[0] ?? '') : `${w.slice(0, -1).join(', ')} and ${w.at(-1)!}`;
}

/** The fields of `patch` that would change `current` (a field given as it already is, is no change). */
export function changedSettings(current: VmSpec, patch: VmPatch): (keyof VmPatch)[] {
  // with its defaults filled in (a forward's protocol), as the spec holds it
  const parsed = vmPatchSchema.safeParse(patch);
  const p: Partial<Record<keyof VmPatch, unknown>> = parsed.success ? parsed.data : patch;
  return (Object.keys(p) as (keyof VmPatch)[]).filter((k) => p[k] !== undefined && canonical(p[k]) !== canonical(current[k]));
}

/** Of the `changed` settings (changedSettings), those that are not live under the host's rule: they need a stopped VM. */
export function settingsNeedingStop(changed: readonly (keyof VmPatch)[], rule: SettingsRule): (keyof VmPatch)[] {
  return changed.filter((k) => !rule.live.includes(k));
}

/** JSON with object keys sorted and undefined members left out: equal settings, equal text. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** Flatten zod issues into `{path: message}` for inline form errors. */
export function issuesToFieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of issues) {
    const key = i.path.map(String).join('.') || '_';
    out[key] ??= i.message;
  }
  return out;
}
