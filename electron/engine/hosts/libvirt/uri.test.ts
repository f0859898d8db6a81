import { describe, expect, it } from 'vitest';
import { parseLibvirtUri, sshHostLabel } from './uri';

describe('parseLibvirtUri', () => {
  it.each([
    ['qemu:///system', { transport: 'local', uri: 'qemu:///system' }],
    ['qemu:///session', { transport: 'local', uri: 'qemu:///session' }],
    ['qemu+ssh://root@10.0.0.5/system', { transport: 'ssh', user: 'root', host: '10.0.0.5', port: 22 }],
    ['qemu+ssh://ops@kvm1.example.org:2222/system', { transport: 'ssh', user: 'ops', host: 'kvm1.example.org', port: 2222 }],
    ['qemu+ssh://ops@[fd00::1]:22/system', { transport: 'ssh', user: 'ops', host: 'fd00::1', port: 22 }],
    ['qemu+ssh://ops@h/system?keyfile=/home/me/.ssh/id_h&known_hosts=/tmp/kh', { transport: 'ssh', user: 'ops', host: 'h', port: 22, keyfile: '/home/me/.ssh/id_h', knownHosts: '/tmp/kh' }],
  ])('accepts %s', (uri, want) => {
    expect(parseLibvirtUri(uri)).toEqual(want);
  });

  it.each([
    ['qemu+ssh://root@h/system?command=/tmp/evil', /"command" is refused/],
    ['qemu+ssh://root@h/system?netcat=/tmp/nc', /"netcat" is refused/],
    ['qemu+ssh://root@h/system?socket=/x', /"socket" is refused/],
    ['qemu+ssh://root@h/system?proxy=native', /"proxy" is refused/],
    ['qemu+ssh://root@h/system?no_verify=1', /"no_verify" is refused/],
    ['qemu+ssh://root@h/system?no_tty=1', /"no_tty" is refused/],
    ['qemu+ssh://root@h/system?%63ommand=x', /"command" is refused/],
    ['qemu+ssh://root@h/system?foo=1', /unknown parameter "foo"/],
    ['qemu+ssh://root@h/system?keyfile=relative', /keyfile must be an absolute path/],
    ['qemu+ssh://root@h/session', /must end in \/system/],
    ['qemu+ssh://h/system', /name the ssh user/],
    ['qemu+ssh://-oProxyCommand=x@h/system', /not a valid ssh user/],
    ['qemu+ssh://root@-oProxyCommand=x/system', /not a host name/],
    ['qemu+ssh://root@h:99999/system', /out of range/],
    ['qemu+tcp://h/system', /transport "qemu\+tcp" is not supported/],
    ['qemu+tls://h/system', /not supported/],
    ['qemu:///system?socket=/x', /only qemu:\/\/\/system and qemu:\/\/\/session/],
    ['xen:///system', /not supported/],
    ['qemu+ssh://root@h/system#x', /fragment/],
    ['qemu+ssh://root@h /system', /whitespace/],
    ['not a uri', /whitespace|not a URI/],
  ])('refuses %s', (uri, why) => {
    expect(() => parseLibvirtUri(uri)).toThrow(why);
  });

  it('labels hosts as known_hosts does', () => {
    expect(sshHostLabel({ host: 'h', port: 22 })).toBe('h');
    expect(sshHostLabel({ host: '127.0.0.1', port: 2222 })).toBe('[127.0.0.1]:2222');
  });
});
