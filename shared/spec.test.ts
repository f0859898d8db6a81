import { describe, expect, it } from 'vitest';
import { issuesToFieldErrors, vmConfigSchema, vmPatchSchema } from './spec';

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
