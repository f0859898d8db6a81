// What is spawned for a share: virtiofsd itself for a read-write share as root; for a read-only
// one, virtiofsd behind a read-only bind mount in a private mount namespace, the paths reaching
// the constant wrapper script only as arguments. The wrapper runs for real, with real mounts, in
// tests/integration/shares.itest.ts; here its shape and its quoting are checked.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { READ_ONLY_SCRIPT, virtiofsdBinary, virtiofsdPlan } from './virtiofsd';

const base = { binary: '/usr/lib/qemu/virtiofsd', sock: '/h/run/x/fs0.sock', dir: '/srv/a b;$(id)' };
const own = ['--socket-path=/h/run/x/fs0.sock', '-o', 'source=/srv/a b;$(id)', '-o', 'sandbox=namespace', '-o', 'cache=auto', '-o', 'no_xattr'];

describe('virtiofsdPlan', () => {
  it('runs virtiofsd directly for a read-write share as root, sandboxed', () => {
    expect(virtiofsdPlan({ ...base, readOnly: false, root: true })).toEqual({ file: '/usr/lib/qemu/virtiofsd', args: own });
  });
  it('wraps a read-only share: private mount namespace, read-only bind mount, then exec virtiofsd', () => {
    expect(virtiofsdPlan({ ...base, readOnly: true, root: true })).toEqual({
      file: 'unshare',
      args: ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', READ_ONLY_SCRIPT, 'flotilla-share-ro', '/srv/a b;$(id)', '/usr/lib/qemu/virtiofsd', ...own],
    });
  });
  it('asks for a user namespace when not root (what virtiofsd`s sandbox needs then too)', () => {
    expect(virtiofsdPlan({ ...base, readOnly: false, root: false }).args.slice(0, 5)).toEqual(['--mount', '--propagation', 'private', '--map-root-user', '--']);
    expect(virtiofsdPlan({ ...base, readOnly: true, root: false }).args).toContain('--map-root-user');
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
