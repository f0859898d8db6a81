// The supervisor's state machine and stop ladder, against a fake QEMU (a node script that
// speaks QMP on the same sockets) injected through the spawn dependency.
import { spawn as nodeSpawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VmSpec } from '../../shared/spec';
import { HomeLayout } from './paths';
import { PortAllocator } from './port-allocator';
import { Supervisor, type SupervisorDeps } from './supervisor';

const FAKE = join(__dirname, 'testing', 'fake-qemu.cjs');
const ID = 'fakevm000001';

function spec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    id: ID,
    name: 'fake',
    createdAt: new Date(0).toISOString(),
    disks: [],
    source: { kind: 'kernel', kernel: '/nonexistent/vmlinuz' },
    cpus: 1,
    memoryMiB: 64,
    sshKeys: [],
    firmware: 'bios',
    display: 'none',
    forwards: [],
    restartPolicy: 'never',
    keepRunningOnQuit: false,
    autostart: false,
    ...over,
  };
}

describe('Supervisor with a fake QEMU', () => {
  let home: string;
  let sup: Supervisor | null = null;
  let current: VmSpec;
  let changes: string[];

  const make = (mode: string, over: Partial<SupervisorDeps> = {}, s: Partial<VmSpec> = {}): Supervisor => {
    const layout = new HomeLayout(home);
    current = spec(s);
    changes = [];
    const deps: SupervisorDeps = {
      layout,
      ports: new PortAllocator({ file: layout.portsFile }),
      spawn: (_cmd, args, opts) => nodeSpawn(process.execPath, [FAKE, ...args], { ...opts, env: { ...process.env, FAKE_QEMU_MODE: mode } }),
      qemuBinary: 'qemu-system-x86_64',
      accel: 'tcg',
      defaultGuest: async () => ({ kernel: '/k', initrd: '/i', append: '' }),
      stopDeadlineMs: 300,
      agentGraceMs: 200,
      backoff: { baseMs: 100, maxMs: 400 },
      ...over,
    };
    sup = new Supervisor(ID, () => current, deps, {
      changed: () => changes.push(`${sup!.state}:${sup!.reason}`),
      log: () => undefined,
      progress: () => undefined,
    });
    return sup;
  };

  const lifecycle = async (): Promise<string> => (await sup!.logs(500)).map((e) => e.text).join('\n');
  const runFiles = async (): Promise<string[]> => readdir(new HomeLayout(home).runDir(ID)).catch(() => []);

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'sup-'));
  });

  afterEach(async () => {
    if (sup && sup.pid !== null) await sup.stop({ force: true }).catch(() => undefined);
    await sup?.detach();
    sup = null;
    await rm(home, { recursive: true, force: true });
  });

  it('starts to running with a reason, refuses invalid transitions, pauses and resumes', async () => {
    const s = make('obedient');
    await s.init();
    expect(s.state).toBe('stopped');
    await expect(s.pause()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await s.start();
    expect(s.state).toBe('running');
    expect(s.reason).toMatch(/^QEMU is running \(pid \d+\)$/);
    await expect(s.start()).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    await expect(s.resume()).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await s.pause();
    expect(s.state).toBe('paused');
    expect(s.reason).toBe('paused by the user');
    await s.resume();
    expect(s.state).toBe('running');
    expect(s.reason).toBe('resumed by the user');
    expect(changes).toContain('starting:start requested');
  });

  it('graceful stop: a guest that powers off stops without quit', async () => {
    const s = make('obedient');
    await s.init();
    await s.start();
    await s.stop();
    expect(s.state).toBe('stopped');
    expect(s.reason).toBe('stopped by the user');
    expect(await lifecycle()).not.toMatch(/sending QMP quit/);
    expect(await runFiles()).toEqual([]);
  });

  it('graceful stop: a deaf guest gets quit after the deadline', async () => {
    const s = make('deaf');
    await s.init();
    await s.start();
    await s.stop();
    expect(s.state).toBe('stopped');
    expect(await lifecycle()).toMatch(/did not power off within 0 s; sending QMP quit/);
    expect(await runFiles()).toEqual([]);
  });

  it('graceful stop: a power-button press lost while the guest boots is repeated before the deadline', async () => {
    const s = make('second-press', { stopDeadlineMs: 5000, powerdownRepeatMs: 200 });
    await s.init();
    await s.start();
    await s.stop();
    expect(s.state).toBe('stopped');
    expect(s.reason).toBe('stopped by the user');
    expect(await lifecycle()).not.toMatch(/sending QMP quit/);
  });

  it('graceful stop: a QEMU that ignores quit is killed, and says so', async () => {
    const s = make('stubborn');
    await s.init();
    await s.start();
    await s.stop();
    expect(s.state).toBe('stopped');
    expect(s.lastExit).toMatchObject({ signal: 'SIGKILL' });
    expect(s.reason).toBe('stopped by the user (QEMU was killed by SIGKILL)');
    expect(await lifecycle()).toMatch(/QEMU ignored quit; killing its process group/);
  });

  it('a death nobody asked for is a crash; on-failure restarts it with backoff', async () => {
    const s = make('obedient', {}, { restartPolicy: 'on-failure' });
    await s.init();
    await s.start();
    const pid = s.pid!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && s.state !== 'crashed'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.state).toBe('crashed');
    expect(s.reason).toBe('QEMU was killed by SIGKILL');
    for (let i = 0; i < 200 && !(s.state === 'running' && s.pid !== pid); i++) await new Promise((r) => setTimeout(r, 10));
    expect(s.state).toBe('running');
    expect(s.pid).not.toBe(pid);
    expect(await lifecycle()).toMatch(/restarting in 0 s \(failure 1\)/);
  });

  it('a QEMU that exits during start is QEMU_FAILED with its own last words, and the VM is stopped', async () => {
    const s = make('failstart');
    await s.init();
    await expect(s.start()).rejects.toMatchObject({ code: 'QEMU_FAILED', message: expect.stringContaining('Could not set up host forwarding rule') });
    expect(s.state).toBe('stopped');
    expect(s.lastExit?.logTail.join('\n')).toMatch(/Could not set up host forwarding rule/);
  });

  it('a forwarded port lost between probe and bind is retried with a fresh port; a requested one is PORT_TAKEN', async () => {
    const once = join(home, 'once');
    const s = make('bindfail-once', {}, { forwards: [{ proto: 'tcp', guestPort: 22 }] });
    const spawnEnv = { ...process.env, FAKE_QEMU_MODE: 'bindfail-once', FAKE_QEMU_ONCE: once };
    (s as unknown as { deps: SupervisorDeps }).deps.spawn = (_c, args, opts) => nodeSpawn(process.execPath, [FAKE, ...args], { ...opts, env: spawnEnv });
    await s.init();
    await s.start();
    expect(s.state).toBe('running');
    expect(await lifecycle()).toMatch(/QEMU could not bind host port \d+; retrying with a fresh port \(attempt 2 of 3\)/);
    await s.stop({ force: true });
    await s.detach();

    await rm(once, { force: true });
    const r = make('bindfail-once', {}, { forwards: [{ proto: 'tcp', guestPort: 22, hostPort: 47123 }] });
    (r as unknown as { deps: SupervisorDeps }).deps.spawn = (_c, args, opts) => nodeSpawn(process.execPath, [FAKE, ...args], { ...opts, env: spawnEnv });
    await r.init();
    const err = await r.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PORT_TAKEN', message: expect.stringContaining('47123') });
    expect(r.state).toBe('stopped');
    expect(r.ports()).toEqual([]);
  });

  it('an agent that never answers is shown as unavailable and nothing breaks', async () => {
    const s = make('obedient');
    await s.init();
    await s.start();
    for (let i = 0; i < 300 && s.agentState !== 'unavailable'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.agentState).toBe('unavailable');
    await expect(s.agentClient(10)).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    await expect(s.waitAgent(60_000)).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringContaining('qemu-guest-agent') });
    expect(s.state).toBe('running');
  });
});

describe('Supervisor without a QEMU binary', () => {
  it('says it could not run QEMU, and the VM stays stopped', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sup-'));
    const layout = new HomeLayout(home);
    const sup = new Supervisor(
      ID,
      () => spec(),
      {
        layout,
        ports: new PortAllocator({ file: layout.portsFile }),
        spawn: (cmd, args, opts) => nodeSpawn(cmd, args, opts),
        qemuBinary: '/nonexistent/qemu-system-x86_64',
        accel: 'tcg',
        defaultGuest: async () => ({ kernel: '/k', initrd: '/i', append: '' }),
        stopDeadlineMs: 300,
        agentGraceMs: 200,
      },
      { changed: () => undefined, log: () => undefined, progress: () => undefined },
    );
    await sup.init();
    await expect(sup.start()).rejects.toMatchObject({ code: 'QEMU_FAILED', message: expect.stringContaining('could not run /nonexistent/qemu-system-x86_64') });
    expect(sup.state).toBe('stopped');
    await sup.detach();
    await rm(home, { recursive: true, force: true });
  });
});
