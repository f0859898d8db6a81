import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { describeImageProc, runningImageProcs, touching, untilGone, type ImageProc } from './leftover-image-jobs';
import { JobAborted } from './vm-job-queue';

const VM_DIR = '/home/u/.local/share/flotilla/vms/abc123';

const proc = (pid: number, ...args: string[]): ImageProc => ({ pid, startTime: 1, args: ['qemu-img', ...args] });

describe('touching', () => {
  const procs = [
    proc(1, 'snapshot', '-a', 's1', `${VM_DIR}/disk.qcow2`),
    proc(2, 'resize', '-q', '-f', 'qcow2', '/srv/images/mine.qcow2', '21474836480'),
    proc(3, 'info', `${VM_DIR}-other/disk.qcow2`),
    proc(4, 'check', `${VM_DIR}`),
  ];
  it('finds a qemu-img on a file inside the VM directory, or on the disk it uses in place', () => {
    expect(touching(procs, [], [VM_DIR]).map((p) => p.pid)).toEqual([1]);
    expect(touching(procs, ['/srv/images/mine.qcow2'], [`${VM_DIR}/`]).map((p) => p.pid)).toEqual([1, 2]);
  });
  it('does not take a sibling directory with the same prefix, or the directory itself, for a file in it', () => {
    expect(touching(procs, [], [VM_DIR]).map((p) => p.pid)).not.toContain(3);
    expect(touching(procs, [], [VM_DIR]).map((p) => p.pid)).not.toContain(4);
  });
  it('does not match the program name itself', () => {
    expect(touching([{ pid: 9, startTime: 1, args: [`${VM_DIR}/qemu-img`] }], [], [VM_DIR])).toEqual([]);
  });
  it('says what the process does, without the directories', () => {
    expect(describeImageProc(procs[0]!)).toBe('qemu-img snapshot on disk.qcow2 (pid 1)');
    expect(describeImageProc(procs[1]!)).toBe('qemu-img resize on mine.qcow2 (pid 2)');
  });
});

// real processes: a Node that waits, started under the name qemu-img, with a disk of the VM among its arguments
describe('runningImageProcs and untilGone, with real processes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });
  const fakeQemuImg = (seconds: string): ChildProcess => {
    const c = spawn(process.execPath, ['-e', `setTimeout(() => {}, ${Number(seconds) * 1000})`, `${VM_DIR}/disk.qcow2`], { argv0: '/usr/bin/qemu-img', stdio: 'ignore' });
    children.push(c);
    return c;
  };

  it("finds another engine's qemu-img but never this process's own children", async () => {
    const c = fakeQemuImg('30');
    await once(c, 'spawn');
    const asOurs = await runningImageProcs();
    expect(asOurs.map((p) => p.pid)).not.toContain(c.pid);
    // seen from any other process, the same child is a leftover
    const asNextEngine = await runningImageProcs(undefined, -1);
    const found = asNextEngine.find((p) => p.pid === c.pid);
    expect(found?.args).toEqual(['/usr/bin/qemu-img', '-e', 'setTimeout(() => {}, 30000)', `${VM_DIR}/disk.qcow2`]);
    expect(touching(asNextEngine, [], [VM_DIR]).map((p) => p.pid)).toContain(c.pid);
  });

  it('waits until the process has exited', async () => {
    const c = fakeQemuImg('0.4');
    await once(c, 'spawn');
    const mine = (await runningImageProcs(undefined, -1)).filter((p) => p.pid === c.pid);
    expect(mine).toHaveLength(1);
    let exited = false;
    c.on('exit', () => (exited = true));
    await untilGone(mine, new AbortController().signal, { pollMs: 20 });
    // a zombie not yet reaped counts as gone, so the exit event may follow by a tick
    await new Promise((r) => setTimeout(r, 50));
    expect(exited).toBe(true);
  });

  it('returns at once for a pid that now belongs to another process', async () => {
    const c = fakeQemuImg('30');
    await once(c, 'spawn');
    const [p] = (await runningImageProcs(undefined, -1)).filter((x) => x.pid === c.pid);
    await untilGone([{ ...p!, startTime: p!.startTime - 1 }], new AbortController().signal);
  });

  it('stops at once, with the reason, when cancelled before it waits (the cancel came during its check)', async () => {
    const c = fakeQemuImg('30');
    await once(c, 'spawn');
    const mine = (await runningImageProcs(undefined, -1)).filter((p) => p.pid === c.pid);
    const ac = new AbortController();
    ac.abort(new JobAborted('cancelled by the user'));
    // before the fix this threw "Cannot access 'timer' before initialization" (CI, 2026-12-06)
    await expect(untilGone(mine, ac.signal, { pollMs: 20 })).rejects.toThrow('cancelled by the user');
  });

  it('stops waiting when cancelled, with the reason', async () => {
    const c = fakeQemuImg('30');
    await once(c, 'spawn');
    const mine = (await runningImageProcs(undefined, -1)).filter((p) => p.pid === c.pid);
    const ac = new AbortController();
    const waiting = untilGone(mine, ac.signal, { pollMs: 20 });
    setTimeout(() => ac.abort(new JobAborted('cancelled by the user')), 60);
    await expect(waiting).rejects.toThrow('cancelled by the user');
  });
});
