// What is spawned for a share: virtiofsd itself for a read-write share as root; for a read-only
// one, virtiofsd behind a read-only bind mount in a private mount namespace; for any other user,
// a user namespace too, with /var/run covered for virtiofsd's lock file. The paths reach the
// constant wrapper scripts only as arguments. The wrappers run for real, with real mounts, in
// tests/integration/shares.itest.ts (root) and shares-user.itest.ts (another user); here their
// shape and their quoting are checked.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { READ_ONLY_SCRIPT, subordinateIds, USER_SCRIPT, virtiofsdBinary, virtiofsdPlan } from './virtiofsd';

const base = { binary: '/usr/lib/qemu/virtiofsd', sock: '/h/run/x/fs0.sock', dir: '/srv/a b;$(id)' };
const ownFor = (source: string): string[] => ['--socket-path=/h/run/x/fs0.sock', '-o', `source=${source}`, '-o', 'sandbox=namespace', '-o', 'cache=auto', '-o', 'no_xattr'];
const own = ownFor('/srv/a b;$(id)');
const root = { root: true } as const;
const mountPoint = '/h/run/x/fs0.src';
const subIds = { uids: { start: 100000, count: 65536 }, gids: { start: 200000, count: 1000 } };

describe('virtiofsdPlan', () => {
  it('runs virtiofsd directly for a read-write share as root, sandboxed', () => {
    expect(virtiofsdPlan({ ...base, readOnly: false, user: root })).toEqual({ file: '/usr/lib/qemu/virtiofsd', args: own });
  });
  it('wraps a read-only share: private mount namespace, read-only bind mount, then exec virtiofsd', () => {
    expect(virtiofsdPlan({ ...base, readOnly: true, user: root })).toEqual({
      file: 'unshare',
      args: ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', READ_ONLY_SCRIPT, 'flotilla-share-ro', '/srv/a b;$(id)', '/usr/lib/qemu/virtiofsd', ...own],
    });
  });
  it('runs any other user`s in a user namespace, root there being the user, with its subordinate ids for the rest', () => {
    for (const readOnly of [false, true]) {
      expect(virtiofsdPlan({ ...base, readOnly, user: { root: false, mountPoint, subIds } })).toEqual({
        file: 'unshare',
        args: [
          '--map-user=0',
          '--map-group=0',
          '--map-users=100000,1,65535',
          '--map-groups=200000,1,1000',
          '--mount',
          '--propagation',
          'private',
          '--',
          '/bin/sh',
          '-c',
          USER_SCRIPT,
          'flotilla-share',
          '/srv/a b;$(id)',
          mountPoint,
          readOnly ? 'ro' : 'rw',
          '/usr/lib/qemu/virtiofsd',
          // served from the mount point the directory is bound onto
          ...ownFor(mountPoint),
        ],
      });
    }
    // without subordinate ids only the user itself can be mapped
    expect(virtiofsdPlan({ ...base, readOnly: false, user: { root: false, mountPoint, subIds: null } }).args.slice(0, 5)).toEqual(['--map-root-user', '--mount', '--propagation', 'private', '--']);
  });
  it('the user wrapper binds the directory (read-only when asked), covers /var/run, then runs virtiofsd, every path an argument', () => {
    expect(USER_SCRIPT).not.toMatch(/\/srv|\/h\/run|\/usr\/lib/);
    const run = (mode: string): string =>
      execFileSync('/bin/sh', ['-c', USER_SCRIPT.replace('set -e;', 'set -e; mount() { printf "mount[%s]\\n" "$*"; };'), 'flotilla-share', '/srv/a b;$(id)', mountPoint, mode, '/bin/echo', 'served'], { encoding: 'utf8' });
    expect(run('ro')).toBe(
      ['mount[--bind -- /srv/a b;$(id) /h/run/x/fs0.src]', 'mount[-o remount,bind,ro -- /h/run/x/fs0.src]', 'mount[-t tmpfs -o mode=0755,size=1m flotilla-virtiofsd /var/run]', 'served', ''].join('\n'),
    );
    expect(run('rw')).toBe(['mount[--rbind -- /srv/a b;$(id) /h/run/x/fs0.src]', 'mount[-t tmpfs -o mode=0755,size=1m flotilla-virtiofsd /var/run]', 'served', ''].join('\n'));
  });
  it('reads a user`s subordinate ids by name or uid, the first valid block', () => {
    const text = 'alice:100000:65536\nbob:165536:65536\n1002:231072:65536\nbroken:x:1\nbob:300000:10\n';
    expect(subordinateIds(text, 'bob', 1001)).toEqual({ start: 165536, count: 65536 });
    expect(subordinateIds(text, 'carol', 1002)).toEqual({ start: 231072, count: 65536 });
    expect(subordinateIds(text, 'broken', 9)).toBeNull();
    expect(subordinateIds(text, null, 1003)).toBeNull();
  });
  it('the wrapper script takes the directory and the command only as positional parameters', () => {
    expect(READ_ONLY_SCRIPT).not.toMatch(/\/srv|virtiofsd/);
    // run it with stand-in mount/exec: a hostile directory name stays one argument
    const script = READ_ONLY_SCRIPT.replace('set -e;', 'set -e; mount() { printf "mount[%s]\\n" "$@"; };');
    const out = execFileSync('/bin/sh', ['-c', script, 'flotilla-share-ro', '/srv/a b;$(id)', '/bin/echo', 'served'], { encoding: 'utf8' });
    expect(out).toBe(['mount[--bind]', 'mount[--]', 'mount[/srv/a b;$(id)]', 'mount[/srv/a b;$(id)]', 'mount[-o]', 'mount[remount,bind,ro]', 'mount[--]', 'mount[/srv/a b;$(id)]', 'served', ''].join('\n'));
  });
  it('takes the binary from FLOTILLA_VIRTIOFSD (later QEMUs ship the Rust virtiofsd elsewhere)', () => {
    expect(virtiofsdBinary({})).toBe('/usr/lib/qemu/virtiofsd');
    expect(virtiofsdBinary({ FLOTILLA_VIRTIOFSD: '/usr/libexec/virtiofsd' })).toBe('/usr/libexec/virtiofsd');
  });
});
