// The retry loop of a job that outlasts its engine (outlast-engine.ts), with stand-in jobs; the
// fronts' own checks are cli/job-command.test.ts and the renderer's lifecycle-actions.test.tsx, and
// reliability check 22 kills a real engine under the CLI.
import { describe, expect, it } from 'vitest';
import { FlotillaError } from './errors';
import { JOB_MAX_ENGINE_LOSSES, outlastEngine } from './outlast-engine';

const lost = () => new FlotillaError('DISCONNECTED', 'the engine went away');

describe('a job that outlasts its engine', () => {
  it('returns what the job left when it was complete before the engine came back, without running it again', async () => {
    let runs = 0;
    let reconnects = 0;
    const told: boolean[] = [];
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
    const told: boolean[] = [];
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
