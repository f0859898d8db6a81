// The retry loop of a job that outlasts its engine (outlast-engine.ts), with stand-in jobs; the
// fronts' own checks are cli/job-command.test.ts and the renderer's lifecycle-actions.test.tsx, and
// reliability check 22 kills a real engine under the CLI.
import { describe, expect, it } from 'vitest';
import { FlotillaError } from './errors';
import type { Invoke } from './file-transfer';
import { deleteSnapshotOutlasting, JOB_MAX_ENGINE_LOSSES, outlastEngine, resizeDiskOutlasting, revertSnapshotOutlasting } from './outlast-engine';

const lost = () => new FlotillaError('DISCONNECTED', 'the engine went away');

describe('a job that outlasts its engine', () => {
  it('returns what the job left when it was complete before the engine came back, without running it again', async () => {
    let runs = 0;
    let reconnects = 0;
    const told: (boolean | null)[] = [];
    const r = await outlastEngine({
      job: async () => {
        runs++;
        throw lost();
      },
      finished: async () => 'the clone',
      reconnect: async () => void reconnects++,
      onResumed: (c) => told.push(c),
    });
    expect(r).toBe('the clone');
    expect([runs, reconnects, told]).toEqual([1, 1, [true]]);
  });

  it('runs the job again when nothing of it was left', async () => {
    let runs = 0;
    const told: (boolean | null)[] = [];
    const r = await outlastEngine({
      job: async () => {
        if (++runs < 3) throw lost();
        return 'imported';
      },
      finished: async () => null,
      reconnect: async () => undefined,
      onResumed: (c) => told.push(c),
    });
    expect(r).toBe('imported');
    expect([runs, told]).toEqual([3, [false, false]]);
  });

  it('gives up after too many lost engines, when there is no engine to come back, and never retries any other error', async () => {
    let runs = 0;
    const job = async (): Promise<string> => {
      runs++;
      throw lost();
    };
    await expect(outlastEngine({ job, finished: async () => null, reconnect: async () => undefined })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    expect(runs).toBe(JOB_MAX_ENGINE_LOSSES + 1);

    runs = 0;
    const refused = new FlotillaError('DISCONNECTED', 'the engine refused this window');
    await expect(outlastEngine({ job, finished: async () => 'never asked', reconnect: async () => Promise.reject(refused) })).rejects.toBe(refused);
    expect(runs).toBe(1);

    runs = 0;
    const remote = new FlotillaError('DISCONNECTED', 'host far is unreachable', { host: 'far' });
    const bad = new FlotillaError('BAD_REQUEST', 'no');
    for (const err of [remote, bad]) {
      await expect(
        outlastEngine({
          job: async () => {
            runs++;
            throw err;
          },
          finished: async () => 'never asked',
          reconnect: async () => undefined,
        }),
      ).rejects.toBe(err);
    }
    expect(runs).toBe(2);
  });
});

describe('snapshot revert and delete across a lost engine', () => {
  const snap = (name: string) => ({ name, createdAt: '2026-12-06T04:00:00Z', vmStateBytes: 1, includesRam: true });

  it('a revert simply runs again, saying so', async () => {
    let reverts = 0;
    const told: (boolean | null)[] = [];
    const invoke = (async (method: string) => {
      if (method !== 'snapshot.revert') throw new Error(method);
      if (++reverts === 1) throw lost();
      return { name: 'web', state: 'running' };
    }) as unknown as Invoke;
    expect(await revertSnapshotOutlasting({ invoke, reconnect: async () => undefined, onResumed: (c) => told.push(c) }, { id: 'web' }, 'before')).toMatchObject({ state: 'running' });
    expect([reverts, told]).toEqual([2, [null]]);
  });

  it('a delete that took the snapshot away before the engine went is done; one that did not runs again', async () => {
    for (const removedFirst of [true, false]) {
      let listed = ['keep', 'gone'];
      let deletes = 0;
      const invoke = (async (method: string) => {
        if (method === 'snapshot.list') return listed.map(snap);
        if (method === 'snapshot.delete') {
          deletes++;
          if (deletes === 1) {
            if (removedFirst) listed = ['keep'];
            throw lost();
          }
          listed = ['keep'];
          return { name: 'gone' };
        }
        throw new Error(method);
      }) as unknown as Invoke;
      expect(await deleteSnapshotOutlasting({ invoke, reconnect: async () => undefined }, { id: 'web' }, 'gone')).toEqual({ name: 'gone' });
      expect(deletes).toBe(removedFirst ? 1 : 2);
    }
  });
});

describe('disk resize across a lost engine', () => {
  const GiB = 2 ** 30;
  function disks(sizes: Record<string, number>) {
    return Object.entries(sizes).map(([name, g]) => ({ name, virtualSize: g * GiB, actualSize: null }));
  }

  it('a disk grown before the engine went is done; one that was not is grown again; one as big before is refused as ever', async () => {
    for (const grownFirst of [true, false]) {
      let sizes = { 'disk.qcow2': 8, 'extra-1.qcow2': 2 };
      let resizes = 0;
      const invoke = (async (method: string, req: { disk?: string; sizeGiB?: number }) => {
        if (method === 'disk.list') return disks(sizes);
        if (method === 'disk.resize') {
          resizes++;
          if (resizes === 1) {
            if (grownFirst) sizes = { ...sizes, 'extra-1.qcow2': 4 };
            throw lost();
          }
          sizes = { ...sizes, 'extra-1.qcow2': req.sizeGiB! };
          return { name: req.disk, virtualSize: req.sizeGiB! * GiB, actualSize: null };
        }
        throw new Error(method);
      }) as unknown as Invoke;
      expect(await resizeDiskOutlasting({ invoke, reconnect: async () => undefined }, { id: 'web' }, 'extra-1.qcow2', 4)).toMatchObject({ name: 'extra-1.qcow2', virtualSize: 4 * GiB });
      expect(resizes).toBe(grownFirst ? 1 : 2);
    }

    // the first disk when none is named; already 8 GiB before: a lost engine is no sign of success
    let resizes = 0;
    const message = 'disk.qcow2 of web is 8 GiB; a resize must make it larger';
    const refuse = new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'sizeGiB', message }] });
    const invoke = (async (method: string) => {
      if (method === 'disk.list') return disks({ 'disk.qcow2': 8 });
      if (method === 'disk.resize') {
        if (++resizes === 1) throw lost();
        throw refuse;
      }
      throw new Error(method);
    }) as unknown as Invoke;
    await expect(resizeDiskOutlasting({ invoke, reconnect: async () => undefined }, { id: 'web' }, undefined, 8)).rejects.toBe(refuse);
    expect(resizes).toBe(2);
  });
});
