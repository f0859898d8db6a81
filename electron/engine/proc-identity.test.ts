import { describe, expect, it } from 'vitest';
import { findQemuBySocket, isOurQemu, type ProcFs } from './proc-identity';

const SOCK = '/home/u/.local/share/flotilla/run/abc123def456/qmp.sock';

function fakeProc(procs: Record<number, { exe: string; cmdline: string[]; state?: string }>): ProcFs {
  const enoent = (): never => {
    throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
  };
  return {
    async readFile(path) {
      const m = /^\/proc\/(\d+)\/(stat|cmdline)$/.exec(path);
      const p = m ? procs[Number(m[1])] : undefined;
      if (!m || !p) return enoent();
      if (m[2] === 'cmdline') return p.cmdline.join('\0') + '\0';
      return `${m[1]} (x) ${p.state ?? 'S'} 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 777 0 0`;
    },
    async readlink(path) {
      const m = /^\/proc\/(\d+)\/exe$/.exec(path);
      const p = m ? procs[Number(m[1])] : undefined;
      return p ? p.exe : enoent();
    },
    async readdir() {
      return ['self', ...Object.keys(procs)];
    },
  };
}

describe('isOurQemu', () => {
  const fs = fakeProc({
    100: { exe: '/usr/bin/qemu-system-x86_64', cmdline: ['qemu-system-x86_64', '-qmp', `unix:${SOCK},server=on,wait=off`] },
    200: { exe: '/usr/bin/sleep', cmdline: ['sleep', '1000', SOCK] },
    300: { exe: '/usr/bin/qemu-system-x86_64', cmdline: ['qemu-system-x86_64', '-qmp', 'unix:/other/qmp.sock,server=on'] },
    400: { exe: '/usr/bin/qemu-system-x86_64', cmdline: ['qemu-system-x86_64', SOCK], state: 'Z' },
  });

  it('accepts a live QEMU whose command line names our QMP socket', async () => {
    expect(await isOurQemu(100, SOCK, fs)).toEqual({ ours: true });
  });
  it('refuses an unrelated process even if it mentions our socket', async () => {
    expect(await isOurQemu(200, SOCK, fs)).toMatchObject({ ours: false, why: expect.stringContaining('not QEMU') });
  });
  it('refuses another VM\'s QEMU', async () => {
    expect(await isOurQemu(300, SOCK, fs)).toMatchObject({ ours: false, why: expect.stringContaining('another VM') });
  });
  it('refuses zombies and missing pids', async () => {
    expect((await isOurQemu(400, SOCK, fs)).ours).toBe(false);
    expect((await isOurQemu(999, SOCK, fs)).ours).toBe(false);
    expect((await isOurQemu(1, SOCK, fs)).ours).toBe(false);
  });
  it('finds the QEMU by its socket path when the pidfile is missing', async () => {
    expect(await findQemuBySocket(SOCK, fs)).toBe(100);
    expect(await findQemuBySocket('/nope/qmp.sock', fs)).toBeNull();
  });
});
