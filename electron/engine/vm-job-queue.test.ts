import { describe, expect, it } from 'vitest';
import type { Progress } from '../../shared/contract';
import { JobAborted, step, VmJobQueue } from './vm-job-queue';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('VmJobQueue', () => {
  it('runs jobs one at a time in call order; a failing job does not block the next', async () => {
    const q = new VmJobQueue();
    const log: string[] = [];
    let release!: () => void;
    const a = q.run({ kind: 'a' }, async () => {
      log.push('a+');
      await new Promise<void>((r) => (release = r));
      log.push('a-');
    });
    const b = q.run({ kind: 'b' }, async () => {
      log.push('b');
      throw new Error('b failed');
    });
    const c = q.run({ kind: 'c' }, async () => void log.push('c'));
    await tick();
    expect(q.current?.kind).toBe('a');
    expect(log).toEqual(['a+']);
    release();
    await a;
    await expect(b).rejects.toThrow('b failed');
    await c;
    expect(log).toEqual(['a+', 'a-', 'b', 'c']);
    expect(q.busy).toBe(false);
  });

  it('preempt aborts a cancellable running job at its await point, and a front job runs next', async () => {
    const q = new VmJobQueue();
    const log: string[] = [];
    const never = new Promise<void>(() => undefined);
    const start = q.run({ kind: 'start', cancellable: true }, async (signal) => {
      await step(signal, never);
    });
    const queued = q.run({ kind: 'pause' }, async () => void log.push('pause'));
    await tick();
    expect(q.preempt('force-stopped by the user')).toBe(true);
    const stop = q.run({ kind: 'force-stop', front: true }, async () => void log.push('force-stop'));
    const err = await start.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobAborted);
    expect((err as JobAborted).why).toBe('force-stopped by the user');
    await stop;
    await queued;
    expect(log).toEqual(['force-stop', 'pause']);
  });

  it('a job that is not cancellable is not pre-empted; cancel() reaches only long (async) jobs', async () => {
    const q = new VmJobQueue();
    let release!: () => void;
    const settle = q.run({ kind: 'settle-exit' }, () => new Promise<void>((r) => (release = r)));
    await tick();
    expect(q.preempt('x')).toBe(false);
    expect(q.cancel()).toBe(false);
    release();
    await settle;
    const lengthy = q.run({ kind: 'start', cancellable: true }, (signal) => step(signal, new Promise<void>(() => undefined)));
    await tick();
    expect(q.cancel()).toBe(false);
    q.preempt('done');
    await expect(lengthy).rejects.toBeInstanceOf(JobAborted);
  });

  it('a long job reports progress, is cancelled by the user, and its progress is cleared after', async () => {
    const seen: (Progress | null)[] = [];
    const q = new VmJobQueue((p) => seen.push(p));
    const snap = q.run({ kind: 'snapshot', async: true, cancellable: true }, async (signal, progress) => {
      progress({ op: 'disk-import', percent: 10, message: 'saving' });
      await step(signal, new Promise<void>(() => undefined));
    });
    await tick();
    expect(q.current).toMatchObject({ kind: 'snapshot', async: true });
    expect(q.cancel()).toBe(true);
    await expect(snap).rejects.toMatchObject({ why: 'cancelled by the user' });
    expect(seen).toEqual([{ op: 'disk-import', percent: 10, message: 'saving' }, null]);
  });
});
