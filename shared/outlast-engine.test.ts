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

describe('work the killed engine left, finishing after the client looked', () => {
  // the next engine queues the second try behind the qemu-img the killed one left running, so
  // the second try is refused by what that qemu-img has done meanwhile
  it('a second try refused because the job is now done is that done job', async () => {
    let tries = 0;
    let left = false;
    const r = await outlastEngine({
      job: async () => {
        if (++tries === 1) throw lost();
        left = true; // the leftover finished before this try ran
        throw new FlotillaError('NOT_FOUND', 'web has no snapshot named gone');
      },
      finished: async () => (left ? 'deleted' : null),
      reconnect: async () => undefined,
    });
    expect([r, tries]).toEqual(['deleted', 2]);
  });

  it('a first try is never taken for done by its refusal, and a second one that is not done fails as it did', async () => {
    let asked = 0;
    const refusal = new FlotillaError('NOT_FOUND', 'web has no snapshot named gone');
    await expect(
      outlastEngine({
        job: async () => Promise.reject(refusal),
        finished: async () => (asked++, 'never'),
        reconnect: async () => undefined,
      }),
    ).rejects.toBe(refusal);
    expect(asked).toBe(0);

    let tries = 0;
    await expect(
      outlastEngine({
        job: async () => Promise.reject(++tries === 1 ? lost() : refusal),
        finished: async () => null,
        reconnect: async () => undefined,
      }),
    ).rejects.toBe(refusal);
  });

  it('snapshot delete and disk resize of a stopped VM, each finished by the leftover after the engine came back', async () => {
    const GiB = 2 ** 30;
    let listed = ['gone'];
    let size = 2;
    let calls = 0;
    const invoke = (async (method: string) => {
      if (method === 'snapshot.list') return listed.map((name) => ({ name, createdAt: '2026-12-06T04:00:00Z', vmStateBytes: 0, includesRam: false }));
      if (method === 'disk.list') return [{ name: 'disk.qcow2', virtualSize: size * GiB, actualSize: null }];
      if (++calls % 2 === 1) throw lost();
      // the second try runs once the leftover qemu-img is done, and finds its work done
      if (method === 'snapshot.delete') {
        listed = [];
        throw new FlotillaError('NOT_FOUND', 'web has no snapshot named gone');
      }
      size = 4;
      const message = 'disk.qcow2 of web is 4 GiB; a resize must make it larger';
      throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'sizeGiB', message }] });
    }) as unknown as Invoke;
    expect(await deleteSnapshotOutlasting({ invoke, reconnect: async () => undefined }, { id: 'web' }, 'gone')).toEqual({ name: 'gone' });
    expect(await resizeDiskOutlasting({ invoke, reconnect: async () => undefined }, { id: 'web' }, undefined, 4)).toMatchObject({ virtualSize: 4 * GiB });
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
