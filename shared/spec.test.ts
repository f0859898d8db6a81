import { describe, expect, it } from 'vitest';
import { invalidArgument } from './errors';
import { changedSettings, issuesToFieldErrors, LOCAL_SETTINGS, settingsNeedingStop, settingWords, vmConfigSchema, vmPatchSchema, vmSpecSchema, type VmPatch, type VmSpec } from './spec';

describe('VM config schema', () => {
  it('fills defaults for the default guest', () => {
    const c = vmConfigSchema.parse({ name: 'linux-1', source: { kind: 'default' } });
    expect(c).toMatchObject({ cpus: 1, memoryMiB: 256, firmware: 'bios', display: 'none', forwards: [], restartPolicy: 'never', keepRunningOnQuit: false });
  });
  it.each([
    [{ name: '', source: { kind: 'default' } }, 'name'],
    [{ name: 'Bad_Name', source: { kind: 'default' } }, 'name'],
    [{ name: 'a'.repeat(64), source: { kind: 'default' } }, 'name'],
    [{ name: 'ok', source: { kind: 'iso', path: 'relative.iso' } }, 'source.path'],
    [{ name: 'ok', source: { kind: 'iso', path: 'file:///etc/passwd' } }, 'source.path'],
    [{ name: 'ok', source: { kind: 'disk', path: '/a\0b' } }, 'source.path'],
    [{ name: 'ok', source: { kind: 'floppy' } }, 'source.kind'],
    [{ name: 'ok', source: { kind: 'default' }, cpus: 0 }, 'cpus'],
    [{ name: 'ok', source: { kind: 'default' }, forwards: [{ guestPort: 22, hostPort: 80 }] }, 'forwards.0.hostPort'],
    [{ name: 'ok', source: { kind: 'default' }, forwards: [{ guestPort: 22 }, { guestPort: 22 }] }, 'forwards.1.guestPort'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'Src', hostPath: '/srv/src' }] }, 'shares.0.tag'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'a'.repeat(37), hostPath: '/srv/src' }] }, 'shares.0.tag'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: '-x', hostPath: '/srv/src' }] }, 'shares.0.tag'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'src', hostPath: 'srv/src' }] }, 'shares.0.hostPath'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'root', hostPath: '/' }] }, 'shares.0.hostPath'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'root', hostPath: '//./' }] }, 'shares.0.hostPath'],
    [{ name: 'ok', source: { kind: 'default' }, shares: [{ tag: 'a', hostPath: '/x' }, { tag: 'a', hostPath: '/y' }] }, 'shares.1.tag'],
    [{ name: 'ok', source: { kind: 'default' }, __proto__: { polluted: true }, extra: 1 }, '_'],
  ])('rejects %j at %s', (input, field) => {
    const r = vmConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    if (!r.success) expect(Object.keys(issuesToFieldErrors(r.error.issues))).toContain(field);
  });
  it('accepts every source kind', () => {
    for (const source of [
      { kind: 'default' },
      { kind: 'iso', path: '/x.iso', diskSizeGiB: 8 },
      { kind: 'disk', path: '/x.qcow2', mode: 'reference' },
      { kind: 'kernel', kernel: '/vmlinuz', initrd: '/initrd', append: 'console=ttyS0' },
    ]) {
      expect(vmConfigSchema.safeParse({ name: 'vm', source }).success).toBe(true);
    }
  });
});

describe('shared folders in the config', () => {
  it('accepts tags of a-z 0-9 _ - up to 36 characters, read-write by default', () => {
    const c = vmConfigSchema.parse({ name: 'vm', source: { kind: 'default' }, shares: [{ tag: 'src_1-a', hostPath: '/srv/src' }, { tag: 'b'.repeat(36), hostPath: '/srv/b', readOnly: true }] });
    expect(c.shares).toEqual([
      { tag: 'src_1-a', hostPath: '/srv/src', readOnly: false },
      { tag: 'b'.repeat(36), hostPath: '/srv/b', readOnly: true },
    ]);
  });
  it('leaves shares out when none are given (specs written before keep their shape)', () => {
    expect(vmConfigSchema.parse({ name: 'vm', source: { kind: 'default' } }).shares).toBeUndefined();
  });
});

describe('vmPatchSchema', () => {
  it('holds only the fields given: no create-time defaults sneak into a patch', () => {
    expect(vmPatchSchema.parse({ restartPolicy: 'never' })).toEqual({ restartPolicy: 'never' });
    expect(vmPatchSchema.parse({})).toEqual({});
    expect(vmPatchSchema.parse({ firmware: 'uefi', cpus: 2 })).toEqual({ firmware: 'uefi', cpus: 2 });
  });
  it('still validates what it holds', () => {
    expect(vmPatchSchema.safeParse({ cpus: 0 }).success).toBe(false);
    expect(vmPatchSchema.safeParse({ forwards: [{ guestPort: 22 }, { guestPort: 22 }] }).success).toBe(false);
    expect(vmPatchSchema.safeParse({ source: { kind: 'default' } }).success).toBe(false);
  });
});

describe('messages in plain words', () => {
  const base = { name: 'ok', source: { kind: 'default' } };
  const fieldsOf = (input: unknown, schema: { safeParse: (v: unknown) => { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } } = vmConfigSchema) => {
    const r = schema.safeParse(input);
    expect(r.success).toBe(false);
    return invalidArgument(r.error!.issues);
  };
  // the wording issue 14 quotes, and what each now says instead
  it.each([
    [{ ...base, forwards: [{ guestPort: Number('') }] }, 'forwards.0.guestPort', 'guest port must be a whole number from 1 to 65535'],
    [{ ...base, forwards: [{ guestPort: 22, hostPort: 0 }] }, 'forwards.0.hostPort', 'host port must be from 1024 to 65535 (lower ports need root), or left empty to pick a free port'],
    [{ ...base, memoryMiB: 300000 }, 'memoryMiB', 'memory must be a whole number of MiB from 64 to 262144'],
    [{ ...base, memoryMiB: 1.5 }, 'memoryMiB', 'memory must be a whole number of MiB from 64 to 262144'],
    [{ ...base, firmware: 'efi' }, 'firmware', 'firmware must be bios or uefi'],
    [{ ...base, name: 'Bad_Name' }, 'name', 'name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit'],
    [{ ...base, source: { kind: 'iso', path: '/x.iso', diskSizeGiB: -1 } }, 'source.diskSizeGiB', 'disk size must be a whole number of GiB, at least 1 (at most 4096)'],
    [{ ...base, source: { kind: 'floppy' } }, 'source.kind', 'source must be default, iso (an installer CD), disk (a disk image) or kernel (a Linux kernel)'],
    [{ ...base, restartPolicy: 'always' }, 'restartPolicy', 'restart policy must be never or on-failure'],
    [{ ...base, keepRunningOnQuit: 'yes' }, 'keepRunningOnQuit', 'keep running on quit must be true or false'],
    [{ ...base, colour: 'red' }, '', 'unknown setting "colour"'],
    [{ source: { kind: 'default' } }, 'name', 'name is required'],
  ])('%j: %s says %s', (input, path, message) => {
    const err = invalidArgument(vmConfigSchema.safeParse(input).error!.issues);
    expect(err.details.fields).toEqual([{ path, message }]);
    expect(err.message).toBe(message);
  });
  it('never shows zod wording, a schema path or NaN, for any field', () => {
    const err = fieldsOf({ name: 7, source: { kind: 'iso', path: 3, diskSizeGiB: NaN }, cpus: 'x', memoryMiB: NaN, display: 1, forwards: [{ proto: 'sctp', guestPort: NaN, hostPort: 'x' }], extra: 1 });
    expect(err.details.fields.length).toBeGreaterThan(6);
    for (const f of err.details.fields) expect(f.message).not.toMatch(/Invalid|expected|received|NaN|config\.|<=|>=/);
    expect(fieldsOf({ cpus: 0, name: 'UP' }, vmPatchSchema).message).toBe('name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit; CPUs must be a whole number from 1 to 64');
  });
});

describe('settings that wait for a stopped VM', () => {
  const waits = (current: VmSpec, patch: VmPatch) => settingsNeedingStop(changedSettings(current, patch), LOCAL_SETTINGS);
  const spec = vmSpecSchema.parse({
    name: 'web',
    source: { kind: 'default' },
    cpus: 2,
    memoryMiB: 512,
    forwards: [{ proto: 'tcp', guestPort: 22 }, { guestPort: 80, hostPort: 8080 }],
    id: 'aaaaaaaaaaaa',
    createdAt: '2026-12-06T00:00:00.000Z',
  });

  it('lets the name, note, forwards and the choices around the VM change at any time', () => {
    expect(waits(spec, { name: 'www', note: 'front end', forwards: [], restartPolicy: 'on-failure', keepRunningOnQuit: true, autostart: true })).toEqual([]);
  });

  it('names the hardware, display and firmware that would change', () => {
    expect(waits(spec, { cpus: 1, memoryMiB: 512, display: 'vnc', firmware: 'bios', note: 'x' })).toEqual(['cpus', 'display']);
    expect(waits(spec, { memoryMiB: 1024, firmware: 'uefi', forwards: [{ guestPort: 22 }] })).toEqual(['memoryMiB', 'firmware']);
  });

  it('takes a setting given as it already is for no change (a form sends them all)', () => {
    // defaults filled in, keys in any order
    expect(waits(spec, { cpus: 2, memoryMiB: 512, forwards: [{ guestPort: 22 }, { hostPort: 8080, guestPort: 80, proto: 'tcp' }], display: 'none' })).toEqual([]);
  });

  it('says what it refuses in words', () => {
    expect(settingWords(['cpus'])).toBe('CPUs');
    expect(settingWords(['cpus', 'memoryMiB', 'display'])).toBe('CPUs, memory and display');
  });
});
