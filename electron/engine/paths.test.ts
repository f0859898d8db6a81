import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../shared/errors';
import { flotillaHome, HomeLayout } from './paths';

describe('flotillaHome', () => {
  it('prefers FLOTILLA_HOME, then XDG_DATA_HOME, then ~/.local/share', () => {
    expect(flotillaHome({ FLOTILLA_HOME: '/a', XDG_DATA_HOME: '/b', HOME: '/h' })).toBe('/a');
    expect(flotillaHome({ XDG_DATA_HOME: '/b', HOME: '/h' })).toBe('/b/flotilla');
    expect(flotillaHome({ HOME: '/h' })).toBe('/h/.local/share/flotilla');
  });
});

describe('HomeLayout', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('lays out the data directory as documented', () => {
    const l = new HomeLayout('/d');
    const id = 'abcdef123456';
    expect(l.vmSpecFile(id)).toBe('/d/vms/abcdef123456/vm.json');
    expect(l.vmLogsDir(id)).toBe('/d/vms/abcdef123456/logs');
    expect(l.qmpSock(id)).toBe('/d/run/abcdef123456/qmp.sock');
    expect(l.serialSock(id)).toBe('/d/run/abcdef123456/ser.sock');
    expect(l.agentSock(id)).toBe('/d/run/abcdef123456/qga.sock');
    expect(l.vncSock(id)).toBe('/d/run/abcdef123456/vnc.sock');
    expect(l.pidFile(id)).toBe('/d/run/abcdef123456/qemu.pid');
    expect(l.engineSock).toBe('/d/run/engine.sock');
    expect(l.portsFile).toBe('/d/ports.json');
    expect(l.defaultImageDir).toBe('/d/images/default');
  });

  it('refuses ids that could escape the data directory', () => {
    const l = new HomeLayout('/d');
    expect(() => l.vmDir('../etc')).toThrow(FlotillaError);
    expect(() => l.qmpSock('a/b')).toThrow(/malformed VM id/);
  });

  it('creates the run dir 0700 even with a permissive umask', async () => {
    const home = await mkdtemp(join(tmpdir(), 'flo-paths-'));
    dirs.push(home);
    const old = process.umask(0o000);
    try {
      const dir = await new HomeLayout(home).ensureRunDir('abcdef123456');
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(join(home, 'run'))).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('restrictSockets makes the VM sockets 0600 and skips missing ones', async () => {
    const home = await mkdtemp(join(tmpdir(), 'flo-paths-'));
    dirs.push(home);
    const l = new HomeLayout(home);
    await l.ensureRunDir('abcdef123456');
    const old = process.umask(0o022);
    const srv = createServer();
    try {
      await new Promise<void>((r) => srv.listen(l.qmpSock('abcdef123456'), () => r()));
    } finally {
      process.umask(old);
    }
    try {
      expect((await stat(l.qmpSock('abcdef123456'))).mode & 0o777).toBe(0o755);
      expect(await l.restrictSockets('abcdef123456')).toEqual([l.qmpSock('abcdef123456')]);
      expect((await stat(l.qmpSock('abcdef123456'))).mode & 0o777).toBe(0o600);
      expect(await l.restrictSockets('abcdef123456')).toEqual([]);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('refuses a home so long that socket paths would not fit in sun_path', async () => {
    const l = new HomeLayout('/' + 'x'.repeat(100));
    await expect(l.ensureRunDir('abcdef123456')).rejects.toThrow(/too long for unix sockets/);
  });
});
