// The console helper's ends that a running libvirtd does not reach: libvirt refusing before the
// stream opens (libvirt's built-in test driver, test:///default, through the real helper and
// python3-libvirt) and no Python at all, where the console falls back to `virsh console` (a stand-in
// virsh here: what is checked is the fallback and its note, not virsh).
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleRefusal, DomainConsole, NO_BINDING_NOTE, resetBindingCheck } from './console';

const UUID = '00000000-1111-2222-3333-444444444444'; // no such domain on the test driver

async function until<T>(fn: () => T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const consoles: DomainConsole[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of consoles.splice(0)) c.detach();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  delete process.env.FLOTILLA_LIBVIRT_PYTHON;
  resetBindingCheck();
});

describe('DomainConsole', () => {
  it('says in the terminal why libvirt refused, in one line of plain text', async () => {
    const c = new DomainConsole(() => 'test:///default', UUID);
    consoles.push(c);
    let seen = '';
    c.subscribe('t', (d) => (seen += d));
    c.attach();
    await until(() => seen.includes(']'));
    expect(seen).toMatch(/^\r\n\[flotilla: the console did not attach: .*[Dd]omain not found.*\]\r\n$/);
    expect(c.connected).toBe(false);
    expect(c.kind).toBeNull();
  });

  it('keeps what it showed in its file (0600), and a console made later begins with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flt-con-'));
    dirs.push(dir);
    const file = join(dir, 'vm', 'console.log');
    const c = new DomainConsole(() => 'test:///default', UUID, undefined, file);
    consoles.push(c);
    let seen = '';
    c.subscribe('t', (d) => (seen += d));
    c.attach();
    await until(() => seen.includes(']'));
    c.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const later = new DomainConsole(() => 'test:///default', UUID, undefined, file);
    consoles.push(later);
    expect(later.subscribe('t', () => undefined)).toBe(seen);
  });

  it('without Python falls back to virsh console, and says what to install', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flt-con-'));
    dirs.push(dir);
    const virsh = join(dir, 'virsh');
    writeFileSync(virsh, '#!/bin/sh\necho "virsh $*"\nexec cat\n');
    chmodSync(virsh, 0o755);
    process.env.FLOTILLA_LIBVIRT_PYTHON = join(dir, 'no-such-python');
    const c = new DomainConsole(() => 'qemu:///system', UUID, virsh);
    consoles.push(c);
    let seen = '';
    c.subscribe('t', (d) => (seen += d));
    c.attach();
    await until(() => seen.includes(`console --force ${UUID}`));
    expect(seen.startsWith(NO_BINDING_NOTE)).toBe(true);
    expect(seen).toContain('python3-libvirt');
    expect(c.kind).toBe('virsh');
    // typed input reaches it (through script's pty)
    c.input('typed-1\r');
    await until(() => seen.includes('typed-1'));
    // a second console goes to virsh at once, with no second try of the helper
    const c2 = new DomainConsole(() => 'qemu:///system', UUID, virsh);
    consoles.push(c2);
    let seen2 = '';
    c2.subscribe('t', (d) => (seen2 += d));
    c2.attach();
    expect(c2.kind).toBe('virsh');
    await until(() => seen2.includes('console --force'));
    expect(seen2).not.toContain('flotilla:');
  });
});

describe('consoleRefusal', () => {
  it('says in words that a domain has no console, instead of libvirt\'s "character device <null>"', () => {
    expect(consoleRefusal('internal error: cannot find character device <null>')).toBe('this domain has no serial port or console to show here (add one to its XML, e.g. with virt-manager)');
  });
  it('passes other errors on, without their control characters', () => {
    expect(consoleRefusal('Requested operation is not valid: domain is not running\x1b[2J')).toBe('the console did not attach: Requested operation is not valid: domain is not running [2J');
    expect(consoleRefusal('')).toBe('');
  });
});
