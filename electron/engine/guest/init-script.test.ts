// The guest's init recipe (assets/guest/*) checked with the host's busybox: it parses, its
// hostname rule matches the host side's, and the shutdown shim maps qemu-ga's flags right.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findGuestAssetsDir, GUEST_ASSET_FILES } from './guest-assets';
import { defaultGuestAppend, guestHostname } from './boot-profile';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const assets = findGuestAssetsDir();
const sh = (script: string, env: Record<string, string> = {}) =>
  execFileSync(busybox!, ['sh', '-c', script], { cwd: assets, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });

describe.skipIf(!busybox)('guest init recipe', () => {
  it('every script parses as busybox sh', () => {
    for (const f of ['init', 'shutdown', 'halt', 'power-button', 'console', 'dhcp']) {
      expect(() => execFileSync(busybox!, ['sh', '-n', join(assets, f)])).not.toThrow();
    }
    for (const f of GUEST_ASSET_FILES) expect(existsSync(join(assets, f))).toBe(true);
  });

  it('takes the hostname from flotilla.name= on the kernel command line', () => {
    const host = (cmdline: string) => sh(`. ./init; guest_hostname "$CMDLINE"`, { FLOTILLA_INIT_SOURCE: '1', CMDLINE: cmdline }).trim();
    expect(host('console=ttyS0 quiet flotilla.name=web-1')).toBe('web-1');
    expect(host('console=ttyS0 quiet')).toBe('flotilla');
    expect(host('flotilla.name=a flotilla.name=b')).toBe('b');
    expect(host('flotilla.name=we$b;1')).toBe('web1');
    // what the engine appends survives the guest's own filter unchanged
    for (const name of ['my vm', 'Ubuntu_22.04', 'x'.repeat(80), '--']) {
      const append = defaultGuestAppend(name);
      expect(host(append)).toBe(guestHostname(name));
    }
  });

  it('loads a module group in the listed (dependency) order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-init-'));
    try {
      writeFileSync(join(dir, 'modules'), 'pci virtio_ring\npci virtio\npci virtio_pci\nagent virtio_console\n');
      const out = sh(`. ./init; each_module pci "$M" echo`, { FLOTILLA_INIT_SOURCE: '1', M: join(dir, 'modules') });
      expect(out.trim().split('\n')).toEqual(['virtio_ring', 'virtio', 'virtio_pci']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts only valid share tags, each at /mnt/TAG, ro when listed ro', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-shares-'));
    try {
      // the same rule as SHARE_TAG_RE on the host, checked by the guest on its own
      const valid = (tag: string) => sh(`. ./init; valid_tag "$T" && echo yes || echo no`, { FLOTILLA_INIT_SOURCE: '1', T: tag }).trim();
      for (const t of ['work', 'a', 'x_1-2', 'b'.repeat(36)]) expect(valid(t), t).toBe('yes');
      for (const t of ['', '-x', '_x', 'A', 'a b', 'a/b', '$(reboot)', 'a;b', '..', 'b'.repeat(37)]) expect(valid(t), t).toBe('no');
      // stand-ins for load/mkdir/mount print what would run
      writeFileSync(join(dir, 'list'), 'work rw\ndocs ro\n$(id) rw\n../etc ro\n');
      const out = sh(`. ./init; load() { :; }; mkdir() { :; }; mount() { echo "mount $*"; }; mount_shares "$L"`, { FLOTILLA_INIT_SOURCE: '1', L: join(dir, 'list') });
      expect(out.trim().split('\n')).toEqual([
        'mount -t virtiofs -o rw work /mnt/work',
        'mount -t virtiofs -o ro docs /mnt/docs',
        'flotilla: skipping share with a malformed tag',
        'flotilla: skipping share with a malformed tag',
      ]);
      // only a VM the engine marks on the command line loads fw_cfg before its agent
      const init = readFileSync(join(assets, 'init'), 'utf8');
      expect(init).toMatch(/\*" flotilla\.shares=1 "\*\) load fwcfg; mount_shares/);
      expect(init.indexOf('mount_shares "$SHARES_FW_CFG"')).toBeLessThan(init.indexOf('qemu-ga -m virtio-serial'));
      // no list (no shares): nothing loaded, nothing mounted
      expect(sh(`. ./init; load() { echo load; }; mount_shares /nonexistent`, { FLOTILLA_INIT_SOURCE: '1' })).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts the agent on the org.qemu.guest_agent.0 port and prints the readiness line', () => {
    const init = readFileSync(join(assets, 'init'), 'utf8');
    expect(init).toContain('/dev/virtio-ports/org.qemu.guest_agent.0');
    expect(init).toMatch(/ready="FLOTILLA-READY \$name \$\(uname -r\)"/);
    expect(init).toMatch(/echo "\$ready"$/m);
    // and leaves a line in words for the console's shell, which prints it first (never written to
    // the port by init)
    expect(init).toMatch(/echo "\$name: Flotilla built-in Linux, kernel \$\(uname -r\)" > \/run\/flotilla-ready/);
    expect(init).toMatch(/ip addr add 10\.0\.2\.15\/24 dev eth0/);
    expect(init).toMatch(/ip route add default via 10\.0\.2\.2/);
    expect(init).toContain('nameserver 10.0.2.3');
    // the agent starts before networking, which it does not need
    expect(init.indexOf('qemu-ga -m virtio-serial')).toBeLessThan(init.indexOf('load net'));
  });

  it("maps qemu-ga's /sbin/shutdown flags to poweroff, halt and reboot", () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-shutdown-'));
    try {
      // run the shim with stand-in poweroff/halt/reboot that just print their name
      const shim = readFileSync(join(assets, 'shutdown'), 'utf8').replace('exec /bin/$action', 'echo $action');
      writeFileSync(join(dir, 'shutdown'), shim);
      const run = (...args: string[]) => execFileSync(busybox!, ['sh', join(dir, 'shutdown'), ...args], { encoding: 'utf8' }).trim();
      expect(run('-h', '-P', '+0', 'hypervisor initiated shutdown')).toBe('poweroff');
      expect(run('-h', '-H', '+0', 'hypervisor initiated shutdown')).toBe('halt');
      expect(run('-h', '-r', '+0', 'hypervisor initiated reboot')).toBe('reboot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('inittab keeps the console relay and a shell on the UART (ttyS0), and ends processes and syncs before power-off', () => {
    const inittab = readFileSync(join(assets, 'inittab'), 'utf8');
    expect(inittab).toMatch(/^::respawn:\/sbin\/flotilla-console$/m);
    expect(inittab).toMatch(/^ttyS0::respawn:-\/bin\/sh$/m);
    expect(inittab).toMatch(/^::shutdown:\/sbin\/flotilla-halt$/m);
  });

  it('the console relay joins the named port to a pty shell with flotilla-relay', () => {
    const relay = readFileSync(join(assets, 'console'), 'utf8');
    expect(() => execFileSync(busybox!, ['sh', '-n', join(assets, 'console')])).not.toThrow();
    expect(relay).toContain('PORT_NAME=org.flotilla.console.0');
    expect(relay).toMatch(/^exec \/sbin\/flotilla-relay "\$dev" -- \/sbin\/flotilla-console shell$/m);
  });

  it("the relay's shell side prints the banner once, then runs the login shell", () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-relay-'));
    try {
      // stand-ins for /run/flotilla-ready and the login shell
      const ready = join(dir, 'ready');
      writeFileSync(ready, 'vm: Flotilla built-in Linux, kernel 6.1\n');
      const script = readFileSync(join(assets, 'console'), 'utf8').replaceAll('/run/flotilla-ready', ready).replace('ln -sf "$(tty)" /dev/flotilla-console', ':').replace('exec /bin/sh -l', 'echo login-shell; exit 0');
      writeFileSync(join(dir, 'console'), script);
      const run = () => execFileSync(busybox!, ['sh', join(dir, 'console'), 'shell'], { encoding: 'utf8' });
      expect(run()).toBe('vm: Flotilla built-in Linux, kernel 6.1\nlogin-shell\n');
      expect(run()).toBe('login-shell\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replaces only the managed block of authorized_keys with the keys passed at boot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-keys-'));
    try {
      const ak = join(dir, 'authorized_keys');
      const passed = join(dir, 'raw');
      writeFileSync(ak, 'ssh-rsa AAAAmine user-added\n');
      writeFileSync(passed, 'ssh-ed25519 AAAAone a\nnot a key\nssh-ed25519 AAAAtwo b\n');
      const keys = (src: string) => sh(`. ./init; ssh_authorized_keys "$AK" "$SRC"; cat "$AK"`, { FLOTILLA_INIT_SOURCE: '1', AK: ak, SRC: src });
      const first = keys(passed);
      expect(first).toMatch(/^ssh-rsa AAAAmine user-added\n# BEGIN flotilla-managed[^\n]*\nssh-ed25519 AAAAone a\nssh-ed25519 AAAAtwo b\n# END flotilla-managed keys\n$/);
      writeFileSync(passed, 'ssh-ed25519 AAAAthree c\n');
      expect(keys(passed)).toMatch(/^ssh-rsa AAAAmine user-added\n# BEGIN[^\n]*\nssh-ed25519 AAAAthree c\n# END[^\n]*\n$/);
      // no keys passed this boot: the managed block goes, the user's line stays
      expect(keys(join(dir, 'absent'))).toBe('ssh-rsa AAAAmine user-added\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('treats only an all-zero disk as blank (never formats one holding data)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-blank-'));
    try {
      writeFileSync(join(dir, 'zero'), Buffer.alloc(2 << 20));
      const data = Buffer.alloc(2 << 20);
      data[1048575] = 1;
      writeFileSync(join(dir, 'data'), data);
      const blank = (f: string) => sh(`. ./init; if is_blank "$F"; then echo yes; else echo no; fi`, { FLOTILLA_INIT_SOURCE: '1', F: join(dir, f) }).trim();
      expect(blank('zero')).toBe('yes');
      expect(blank('data')).toBe('no');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('mounts the disk before the agent starts, and starts SSH after the network', () => {
    const init = readFileSync(join(assets, 'init'), 'utf8');
    const main = init.slice(init.indexOf('main() {'));
    expect(main.indexOf('persist_root')).toBeLessThan(main.indexOf('qemu-ga -m virtio-serial'));
    expect(main.indexOf('ssh_start')).toBeGreaterThan(main.indexOf('ip route add default'));
    expect(main.indexOf('ssh_start')).toBeLessThan(main.indexOf('FLOTILLA-READY'));
  });
});
