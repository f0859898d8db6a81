import { describe, expect, it } from 'vitest';
import { describeExit, parseHostfwdFailure, stripStamp } from './supervisor';

describe('parseHostfwdFailure', () => {
  it('finds the host port QEMU could not bind', () => {
    const lines = [
      'qemu-system-x86_64: -netdev user,id=n0,hostfwd=tcp:127.0.0.1:40007-:22: Could not set up host forwarding rule \'tcp:127.0.0.1:40007-:22\'',
    ];
    expect(parseHostfwdFailure(lines)).toEqual({ proto: 'tcp', hostPort: 40007 });
    expect(parseHostfwdFailure(["Could not set up host forwarding rule 'udp:127.0.0.1:45000-:53'"])).toEqual({ proto: 'udp', hostPort: 45000 });
  });
  it('ignores other failures', () => {
    expect(parseHostfwdFailure(['qemu-system-x86_64: -drive file=/x: Could not open \'/x\': No such file or directory'])).toBeNull();
  });
});

describe('describeExit', () => {
  it('says how QEMU ended, in words', () => {
    expect(describeExit(null, 'SIGKILL')).toBe('QEMU was killed by SIGKILL');
    expect(describeExit(1, null)).toBe('QEMU exited with code 1');
    expect(describeExit(0, null)).toBe('QEMU exited');
    expect(describeExit(null, null)).toMatch(/unknown/);
  });
});

describe('stripStamp', () => {
  it('drops our ISO timestamp prefix', () => {
    expect(stripStamp('2026-11-29T08:00:00.123Z qemu: warning')).toBe('qemu: warning');
    expect(stripStamp('no stamp here')).toBe('no stamp here');
  });
});
