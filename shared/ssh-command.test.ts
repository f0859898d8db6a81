import { describe, expect, it } from 'vitest';
import type { SshInfo } from './contract';
import { isLocalLibvirtUri, jumpProxyCommand, reachableAddress, shellQuote, sshCheckedArgs, sshCommandLine, sshOptionValue } from './ssh-command';

const info: SshInfo = {
  host: '127.0.0.1',
  port: 40022,
  user: 'root',
  hostKeyAlias: 'flotilla-abcdef123456',
  knownHostsFile: "/home/ann's files/.local/share/flotilla/vms/abcdef123456/known_hosts",
  hostKey: 'ssh-ed25519 AAAA',
  identityFile: null,
};

describe('the checked ssh command', () => {
  it('pins the VM host key and refuses any other', () => {
    const args = sshCheckedArgs(info);
    expect(args).toContain('StrictHostKeyChecking=yes');
    expect(args).toContain('HostKeyAlias=flotilla-abcdef123456');
    expect(args.at(-1)).toBe('root@127.0.0.1');
    expect(args).not.toContain('-i');
  });

  it("offers Flotilla's own key when there is one, unless the caller names a key", () => {
    const own = { ...info, identityFile: '/d/ssh/id_ed25519' };
    expect(sshCheckedArgs(own).slice(0, 4)).toEqual(['-p', '40022', '-i', '/d/ssh/id_ed25519']);
    expect(sshCheckedArgs(own, { ownKey: false })).not.toContain('-i');
    expect(sshCommandLine(own)).toMatch(/^ssh -p 40022 -i \/d\/ssh\/id_ed25519 -o /);
  });

  it('reaches a remote libvirt host\'s guest through that host, its key checked as the host connection checks it', () => {
    const jump = { user: 'ann', host: 'box.example', port: 2222, knownHostsFile: '/home/ann/.ssh/known_hosts', identityFile: '/k/100%_key', controlPath: '/tmp/flt-ssh-x/ctl' };
    const args = sshCheckedArgs({ ...info, host: '192.168.122.7', port: 22, jump });
    expect(args.at(-1)).toBe('root@192.168.122.7');
    expect(args.at(-2)).toBe(
      "ProxyCommand=ssh -p 2222 -l ann -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/home/ann/.ssh/known_hosts -o IdentitiesOnly=yes -i /k/100%%_key -o ControlPath=/tmp/flt-ssh-x/ctl -o ControlMaster=no -W %h:%p -- box.example",
    );
    // no master: ssh connects to the host by itself; no key named: ssh's own and the agent's
    expect(jumpProxyCommand({ ...jump, identityFile: null, controlPath: null })).toBe('ssh -p 2222 -l ann -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/home/ann/.ssh/known_hosts -W %h:%p -- box.example');
    // a path the shell or ssh would split stays one word for both
    expect(jumpProxyCommand({ ...jump, knownHostsFile: "/home/ann's files/kh", identityFile: null, controlPath: null })).toContain(`-o 'UserKnownHostsFile="/home/ann'\\''s files/kh"' -W`);
    // the address goes into ssh's shell line as %h: nothing but an IPv4 address is taken there
    expect(() => sshCheckedArgs({ ...info, host: '$(reboot)', jump })).toThrow(/not an IPv4 address/);
  });

  it('quotes an ssh option path only when ssh would split it', () => {
    expect(sshOptionValue('/a/b')).toBe('/a/b');
    expect(sshOptionValue('/a b/c"d\\e')).toBe('"/a b/c\\"d\\\\e"');
    expect(sshOptionValue('/a/#b')).toBe('"/a/#b"');
  });

  it('quotes what a shell would split or expand, and only that', () => {
    expect(shellQuote('root@127.0.0.1')).toBe('root@127.0.0.1');
    expect(shellQuote('a b')).toBe(`'a b'`);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('$(rm -rf ~)')).toBe(`'$(rm -rf ~)'`);
    expect(sshCommandLine(info)).toBe(
      `ssh -p 40022 -o HostKeyAlias=flotilla-abcdef123456 -o 'UserKnownHostsFile="/home/ann'\\''s files/.local/share/flotilla/vms/abcdef123456/known_hosts"' -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes root@127.0.0.1`,
    );
  });
});

describe('reachableAddress (flotilla ssh into a libvirt VM)', () => {
  it('takes an address on a libvirt network, never user networking\'s or loopback', () => {
    expect(reachableAddress(['127.0.0.1', '192.168.122.48'])).toBe('192.168.122.48');
    expect(reachableAddress(['10.0.2.15'])).toBeNull();
    expect(reachableAddress(['fe80::1', '127.0.0.1'])).toBeNull();
    expect(reachableAddress([])).toBeNull();
  });
  it('knows this computer\'s libvirt URIs', () => {
    expect(isLocalLibvirtUri('qemu:///system')).toBe(true);
    expect(isLocalLibvirtUri('qemu:///session')).toBe(true);
    expect(isLocalLibvirtUri('qemu+ssh://root@lab/system')).toBe(false);
    expect(isLocalLibvirtUri(undefined)).toBe(false);
  });
});
