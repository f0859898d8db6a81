// Pure parts of the default-guest build: cpio writer, module ordering, Debian control parsing,
// manifest, boot profile.
import { describe, expect, it } from 'vitest';
import { writeCpio, CPIO_MTIME, type CpioEntry } from './cpio';
import { orderModules } from './kernel-modules';
import { parseControl, parseDependsField } from './deb-cache';
import { makeManifest, parseManifest, serializeManifest } from './guest-manifest';
import { defaultGuestAppend, guestHostname } from './boot-profile';
import { isLibraryPackage } from './build-default';
import { extractVmlinux, lz4LegacyDecompress } from './vmlinux';

/** Reads back a newc archive (independent of the writer's code paths). */
function readCpio(buf: Buffer) {
  const out: { name: string; mode: number; mtime: number; ino: number; data: Buffer }[] = [];
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  while (true) {
    expect(buf.toString('latin1', off, off + 6)).toBe('070701');
    const f = (i: number) => parseInt(buf.toString('latin1', off + 6 + i * 8, off + 14 + i * 8), 16);
    const nameSize = f(11);
    const size = f(6);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    const dataStart = align(off + 110 + nameSize);
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode: f(1), mtime: f(5), ino: f(0), data: buf.subarray(dataStart, dataStart + size) });
    off = align(dataStart + size);
  }
  return out;
}

describe('cpio writer', () => {
  const entries: CpioEntry[] = [
    { path: 'bin/sh', type: 'symlink', target: 'busybox' },
    { path: 'init', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\n') },
    { path: 'bin', type: 'dir', mode: 0o755 },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: Buffer.from('x'.repeat(5)) },
    { path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 },
    { path: 'dev', type: 'dir', mode: 0o755 },
  ];

  it('is the same bytes whatever order entries come in', () => {
    expect(writeCpio(entries).equals(writeCpio([...entries].reverse()))).toBe(true);
  });

  it('writes sorted entries, parents first, fixed mtime and inode numbers', () => {
    const files = readCpio(writeCpio(entries));
    expect(files.map((f) => f.name)).toEqual(['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'init']);
    expect(files.every((f) => f.mtime === CPIO_MTIME)).toBe(true);
    expect(files.map((f) => f.ino)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(files.find((f) => f.name === 'bin/sh')!.data.toString()).toBe('busybox');
    expect(files.find((f) => f.name === 'init')!.mode).toBe(0o100755);
  });

  it('rejects absolute, dotted and duplicate paths', () => {
    expect(() => writeCpio([{ path: '/etc', type: 'dir', mode: 0o755 }])).toThrow(/bad archive path/);
    expect(() => writeCpio([{ path: 'a/../b', type: 'dir', mode: 0o755 }])).toThrow(/bad archive path/);
    expect(() => writeCpio([{ path: 'a', type: 'dir', mode: 0o755 }, { path: 'a', type: 'dir', mode: 0o755 }])).toThrow(/duplicate/);
  });
});

describe('module ordering', () => {
  // the real dependency shape of Debian 6.1's virtio stack
  const deps: Record<string, string[]> = {
    virtio_ring: [],
    virtio: ['virtio_ring'],
    virtio_pci_modern_dev: [],
    virtio_pci_legacy_dev: [],
    virtio_pci: ['virtio_ring', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio'],
    virtio_console: ['virtio', 'virtio_ring'],
    failover: [],
    net_failover: ['failover'],
    virtio_net: ['virtio_ring', 'virtio', 'net_failover'],
  };
  const depsOf = (n: string) => deps[n] ?? [];

  it('puts virtio_ring before virtio and every dependency before its user', () => {
    const order = orderModules(['virtio_pci', 'virtio_console', 'virtio_net'], depsOf);
    expect(order.indexOf('virtio_ring')).toBeLessThan(order.indexOf('virtio'));
    for (const [m, ds] of Object.entries(deps)) for (const d of ds) expect(order.indexOf(d)).toBeLessThan(order.indexOf(m));
    expect(new Set(order).size).toBe(order.length);
  });

  it('reports a dependency cycle', () => {
    expect(() => orderModules(['a'], (n) => (n === 'a' ? ['b'] : ['a']))).toThrow(/cycle: a → b → a/);
  });
});

describe('Debian control parsing', () => {
  it('takes the first alternative and drops version constraints', () => {
    expect(parseDependsField('libc6 (>= 2.34), libglib2.0-0 (>= 2.63.3) | libglib-alt, perl:any')).toEqual(['libc6', 'libglib2.0-0', 'perl']);
  });

  it('reads fields, including continuation lines', () => {
    const c = parseControl('Package: libc6\nVersion: 2.36-9\nDepends: libgcc-s1\nDescription: GNU C\n more text\n');
    expect(c.get('Version')).toBe('2.36-9');
    expect(c.get('Depends')).toBe('libgcc-s1');
    expect(c.get('Description')).toBe('GNU C\nmore text');
  });

  it('follows library packages only', () => {
    expect(isLibraryPackage('libc6')).toBe(true);
    expect(isLibraryPackage('zlib1g')).toBe(true);
    expect(isLibraryPackage('init-system-helpers')).toBe(false);
  });
});

describe('manifest', () => {
  const input = {
    kernelVersion: '6.1.0-56-cloud-amd64',
    cmdline: 'console=hvc0 quiet',
    nameParam: 'flotilla.name',
    machine: 'q35',
    console: 'hvc0' as const,
    bios: 'qboot.rom',
    initrdCompression: 'none' as const,
    kernelFormat: 'pvh-elf' as const,
    packages: [
      { name: 'qemu-guest-agent', version: '1:7.2+dfsg-7', sha256: 'a'.repeat(64) },
      { name: 'busybox-static', version: '1:1.35.0-4', sha256: 'b'.repeat(64) },
    ],
    recipe: 'e'.repeat(64),
    modules: ['virtio_ring', 'virtio'],
    vmlinuz: { sha256: 'c'.repeat(64), size: 10 },
    initrd: { sha256: 'd'.repeat(64), size: 20 },
  };

  it('lists packages sorted by name with versions and checksums, and round-trips', () => {
    const m = makeManifest(input);
    expect(m.packages.map((p) => p.name)).toEqual(['busybox-static', 'qemu-guest-agent']);
    expect(m.files['initrd.img']).toEqual({ sha256: 'd'.repeat(64), size: 20 });
    expect(parseManifest(serializeManifest(m))).toEqual(m);
    expect(serializeManifest(makeManifest({ ...input, packages: [...input.packages].reverse() }))).toBe(serializeManifest(m));
    // what compiled the relay is kept when given (guests built before it have none)
    const withToolchain = makeManifest({ ...input, relayToolchain: 'gcc 12.2.0, glibc 2.36' });
    expect(parseManifest(serializeManifest(withToolchain)).relayToolchain).toBe('gcc 12.2.0, glibc 2.36');
    expect(m.relayToolchain).toBeUndefined();
  });

  it('reads a guest built before the console field as a UART console', () => {
    const { console: _omitted, ...older } = makeManifest(input);
    expect(parseManifest(JSON.stringify(older)).console).toBe('ttyS0');
  });

  it('reads a guest built before DHCP as one that knows only user networking (a libvirt host gives it that)', () => {
    const { dhcp: _omitted, ...older } = makeManifest({ ...input, dhcp: true });
    expect(parseManifest(JSON.stringify(older)).dhcp).toBe(false);
    expect(parseManifest(serializeManifest(makeManifest({ ...input, dhcp: true }))).dhcp).toBe(true);
  });

  it('keeps the console kind of guests built before the relayed port (hvc0) and reads the new one (vport)', () => {
    expect(parseManifest(serializeManifest(makeManifest(input))).console).toBe('hvc0');
    expect(parseManifest(serializeManifest(makeManifest({ ...input, console: 'vport' }))).console).toBe('vport');
  });

  it('names what is wrong with a bad manifest', () => {
    expect(() => parseManifest('{', '/x/manifest.json')).toThrow(/\/x\/manifest.json is not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ ...makeManifest(input), kernelVersion: 3 }))).toThrow(/kernelVersion/);
  });
});

describe('boot profile', () => {
  it('turns any VM name into a hostname the kernel command line can carry', () => {
    expect(guestHostname('web-1')).toBe('web-1');
    expect(guestHostname('my vm_2')).toBe('my-vm-2');
    expect(guestHostname('---')).toBe('flotilla');
    expect(guestHostname('x'.repeat(100))).toHaveLength(63);
    // the kernel's console is the UART only: the terminal's console port is not a kernel console
    expect(defaultGuestAppend('my vm')).toMatch(/(^| )console=ttyS0( |$)/);
    expect(defaultGuestAppend('my vm')).not.toMatch(/console=hvc0/);
    expect(defaultGuestAppend('my vm')).toMatch(/ flotilla\.name=my-vm$/);
  });
});

describe('vmlinux extraction', () => {
  it('decodes LZ4 legacy streams, including overlapping matches', () => {
    // literals "abc", then a match 3 back of length 6 (overlaps itself), then a literal-only "x"
    const block = Buffer.from([0x32, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x78]);
    const header = Buffer.alloc(8);
    header.writeUInt32LE(0x184c2102, 0);
    header.writeUInt32LE(block.length, 4);
    expect(lz4LegacyDecompress(Buffer.concat([header, block]), 10).toString()).toBe('abcabcabcx');
    expect(() => lz4LegacyDecompress(Buffer.concat([header, block]), 11)).toThrow(/expected 11/);
  });

  it('leaves anything that is not an LZ4 bzImage alone', () => {
    expect(extractVmlinux(Buffer.alloc(4096))).toBeNull();
  });
});
