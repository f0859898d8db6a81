// The VM spec: the one schema every side validates against. `vm.json` holds a VmSpec.
import { z } from 'zod';

export const VM_NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const vmName = z
  .string()
  .regex(VM_NAME_RE, 'name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit');

/** A host path the user named. Absolute, no NUL bytes, no `file:` URLs. */
export const hostPath = z
  .string()
  .min(1, 'path is required')
  .max(4096, 'path is too long')
  .refine((p) => p.startsWith('/'), 'path must be absolute (start with /)')
  .refine((p) => !p.includes('\0'), 'path must not contain NUL bytes');

/** The built-in Linux's own disk (mounted at /root in the guest): sparse, so 8 GiB costs little until used. */
export const DEFAULT_ROOT_DISK_GIB = 8;

export const sourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('default'),
      diskSizeGiB: z.number().int().min(1).max(4096).default(DEFAULT_ROOT_DISK_GIB),
    })
    .strict(),
  z
    .object({
      kind: z.literal('iso'),
      path: hostPath,
      diskSizeGiB: z.number().int().min(1).max(4096).default(16),
    })
    .strict(),
  z
    .object({
      kind: z.literal('disk'),
      path: hostPath,
      mode: z.enum(['copy', 'reference']).default('copy'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('kernel'),
      kernel: hostPath,
      initrd: hostPath.optional(),
      append: z.string().max(4096).optional(),
      disk: hostPath.optional(),
    })
    .strict(),
]);
export type VmSource = z.infer<typeof sourceSchema>;
export type VmSourceKind = VmSource['kind'];

export const forwardSchema = z
  .object({
    proto: z.enum(['tcp', 'udp']).default('tcp'),
    guestPort: z.number().int().min(1).max(65535),
    hostPort: z.number().int().min(1024, 'host ports below 1024 need root').max(65535).optional(),
  })
  .strict();
export type Forward = z.infer<typeof forwardSchema>;

const forwardsSchema = z
  .array(forwardSchema)
  .max(32)
  .default([])
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
    cpus: z.number().int().min(1).max(64).default(1),
    memoryMiB: z.number().int().min(64).max(262144).default(256),
    firmware: z.enum(['bios', 'uefi']).default('bios'),
    display: z.enum(['none', 'vnc']).default('none'),
    forwards: forwardsSchema,
    restartPolicy: z.enum(['never', 'on-failure']).default('never'),
    keepRunningOnQuit: z.boolean().default(false),
    /** the user's own words about this VM, shown on its tile */
    note: z.string().max(500, 'a note can be at most 500 characters').optional(),
    /** public keys the built-in Linux accepts for root over SSH, besides the engine user's ~/.ssh/*.pub */
    sshKeys: z.array(sshPublicKey).max(32).default([]),
  })
  .strict();
export type VmConfigInput = z.input<typeof vmConfigSchema>;
export type VmConfig = z.output<typeof vmConfigSchema>;

export const vmIdSchema = z.string().regex(/^[a-z0-9]{8,32}$/, 'malformed VM id');

/** What is stored in vms/<id>/vm.json. */
export const vmSpecSchema = vmConfigSchema
  .extend({
    id: vmIdSchema,
    createdAt: z.string(),
    /** Disk images owned by this VM (inside its directory), relative file names. */
    disks: z.array(z.string().regex(/^[a-z0-9._-]+$/)).default([]),
  })
  .strict();
export type VmSpec = z.output<typeof vmSpecSchema>;

/** Fields the user may change on a stopped VM. */
export const vmPatchSchema = vmConfigSchema
  .pick({ name: true, cpus: true, memoryMiB: true, forwards: true, restartPolicy: true, keepRunningOnQuit: true, display: true, note: true })
  .partial()
  .strict();
export type VmPatch = z.input<typeof vmPatchSchema>;

/** Flatten zod issues into `{path: message}` for inline form errors. */
export function issuesToFieldErrors(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of issues) {
    const key = i.path.map(String).join('.') || '_';
    out[key] ??= i.message;
  }
  return out;
}
