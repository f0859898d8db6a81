// QMP and guest-agent clients against a real QEMU (TCG, started paused, no guest OS): QMP answers,
// events arrive, quit closes the connection; the agent channel exists but nothing in the guest
// answers, which must show as AGENT_UNAVAILABLE without hanging or breaking anything.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vmSpecSchema } from '../../shared/spec';
import { AgentClient } from './agent-client';
import { qemuImgCreate } from './images';
import { HomeLayout } from './paths';
import { buildQemuArgs } from './qemu-args';
import { QmpClient, type QmpEvent } from './qmp-client';

const ID = 'qmpitest0001';
let home: string;
let layout: HomeLayout;
let qemu: ChildProcess;
let exited: Promise<number | null>;

function socketReady(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    qemu.once('exit', (c) => reject(new Error(`qemu exited early (${c})`)));
    const attempt = () => {
      const s = createConnection(path);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => setTimeout(attempt, 100));
    };
    attempt();
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'flo-qmpi-'));
  layout = new HomeLayout(home);
  await layout.ensureRunDir(ID);
  const disk = join(home, 'blank.raw');
  await qemuImgCreate(disk, 1, 'raw');
  // a blank disk: there is no guest OS, and the VM is never resumed long enough to matter
  const spec = vmSpecSchema.parse({ id: ID, name: 'qmp-itest', createdAt: 'x', source: { kind: 'disk', path: disk, mode: 'reference' } });
  const args = buildQemuArgs(spec, {
    accel: 'tcg',
    qmpSock: layout.qmpSock(ID),
    serialSock: layout.serialSock(ID),
    agentSock: layout.agentSock(ID),
    vncSock: layout.vncSock(ID),
    pidFile: layout.pidFile(ID),
    vmDir: layout.vmDir(ID),
    forwards: [],
    startPaused: true,
    referenceDiskFormat: 'raw',
  });
  qemu = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
  exited = new Promise((r) => qemu.on('exit', (c) => r(c)));
  await socketReady(layout.qmpSock(ID));
});

afterAll(async () => {
  if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  await exited;
  await rm(home, { recursive: true, force: true });
});

describe('QmpClient and AgentClient against real QEMU', () => {
  it('agent channel without an agent in the guest: AGENT_UNAVAILABLE after the timeout', async () => {
    await expect(AgentClient.connect(layout.agentSock(ID), { timeoutMs: 500 })).rejects.toMatchObject({ code: 'AGENT_UNAVAILABLE' });
  });

  it('QMP: status, a QMP error, RESUME/STOP events, then quit closes the connection and QEMU exits 0', async () => {
    const qmp = await QmpClient.connect(layout.qmpSock(ID));
    expect(qmp.greeting).toMatchObject({ version: { qemu: { major: 7 } } });
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'prelaunch', running: false });
    await expect(qmp.execute('no-such-command')).rejects.toMatchObject({ code: 'QMP_ERROR', details: { class: 'CommandNotFound' } });

    const events: string[] = [];
    qmp.on('event', (e: QmpEvent) => events.push(e.event));
    await qmp.execute('cont');
    await qmp.execute('stop');
    expect(await qmp.execute('query-status')).toMatchObject({ status: 'paused' });
    expect(events).toEqual(expect.arrayContaining(['RESUME', 'STOP']));

    const closed = new Promise<void>((r) => qmp.on('close', () => r()));
    await qmp.execute('quit').catch(() => undefined); // QEMU may close before or after replying
    await closed;
    expect(qmp.closed).toBe(true);
    expect(await exited).toBe(0);
  });
});
