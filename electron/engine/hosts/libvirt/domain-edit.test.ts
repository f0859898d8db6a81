import { describe, expect, it } from 'vitest';
import { editCommands, withGuestHostname } from './domain-edit';

const U = '6f1c1e0e-4a8e-4b8a-9a55-3b2c1d0e9f10';
const dom = ['--domain', U];

describe('editCommands', () => {
  it('raises a maximum before the count, and lowers it after', () => {
    expect(editCommands(U, { cpus: 1, memoryMiB: 256, running: false }, { cpus: 2, memoryMiB: 128 })).toEqual([
      ['setvcpus', ...dom, '--count', '2', '--config', '--maximum'],
      ['setvcpus', ...dom, '--count', '2', '--config'],
      ['setmem', ...dom, '--size', '131072', '--config'],
      ['setmaxmem', ...dom, '--size', '131072', '--config'],
    ]);
    expect(editCommands(U, { cpus: 4, memoryMiB: 256, running: false }, { cpus: 2, memoryMiB: 512 })).toEqual([
      ['setvcpus', ...dom, '--count', '2', '--config'],
      ['setvcpus', ...dom, '--count', '2', '--config', '--maximum'],
      ['setmaxmem', ...dom, '--size', '524288', '--config'],
      ['setmem', ...dom, '--size', '524288', '--config'],
    ]);
  });

  it('keeps each value one argv word, the live description of a running domain too, and renames last', () => {
    expect(editCommands(U, { cpus: 1, memoryMiB: 256, running: true }, { name: 'web-2', note: '-x; $(rm -rf /)', autostart: false })).toEqual([
      ['desc', ...dom, '--config', '--live', '--new-desc', '-x; $(rm -rf /)'],
      ['autostart', ...dom, '--disable'],
      ['domrename', ...dom, 'web-2'],
    ]);
    expect(editCommands(U, { cpus: 1, memoryMiB: 256, running: false }, { note: '', autostart: true })).toEqual([
      ['desc', ...dom, '--config', '--new-desc', ''],
      ['autostart', ...dom],
    ]);
  });
});

describe('withGuestHostname (a renamed built-in guest)', () => {
  const xml = (cmdline: string) => `<domain type='qemu'>\n  <name>web</name>\n  <os>\n    <kernel>/k</kernel>\n    <cmdline>${cmdline}</cmdline>\n  </os>\n  <description>a &lt;cmdline&gt;flotilla.name=x&lt;/cmdline&gt;</description>\n</domain>\n`;
  it('changes the hostname parameter and nothing else', () => {
    expect(withGuestHostname(xml('console=ttyS0 quiet flotilla.name=web'), 'api-2')).toBe(xml('console=ttyS0 quiet flotilla.name=api-2'));
    expect(withGuestHostname(xml('flotilla.name=web quiet'), 'api')).toBe(xml('flotilla.name=api quiet'));
  });
  it('leaves alone a definition without it, one that already says it, and an unsafe hostname', () => {
    expect(withGuestHostname(xml('console=ttyS0 quiet'), 'api')).toBeNull();
    expect(withGuestHostname(xml('xflotilla.name=web'), 'api')).toBeNull();
    expect(withGuestHostname(xml('flotilla.name=api'), 'api')).toBeNull();
    expect(withGuestHostname(`<domain><os><type>hvm</type></os></domain>`, 'api')).toBeNull();
    expect(withGuestHostname(xml('flotilla.name=web'), 'a b')).toBeNull();
    expect(withGuestHostname(xml('flotilla.name=web'), "a'<x>")).toBeNull();
  });
});
