import { describe, expect, it } from 'vitest';
import { seedStats } from './events';
import { STATS_WINDOW } from './store';

const sample = (id: string, t: number) => ({ host: 'local', id, t, cpuPercent: t, rssBytes: t * 2 });

describe('seedStats', () => {
  it('gives a VM without samples the engine history as it is', () => {
    const out = seedStats({}, [sample('a', 1), sample('a', 2), sample('b', 5)], () => true);
    expect(out['a']).toEqual({ t: [1, 2], cpu: [1, 2], rss: [2, 4] });
    expect(out['b']?.t).toEqual([5]);
  });

  it('puts only older history in front of live samples, within the window', () => {
    const live = { a: { t: [3, 4], cpu: [30, 40], rss: [6, 8] } };
    const out = seedStats(live, [1, 2, 3, 4].map((t) => sample('a', t)), () => true);
    expect(out['a']).toEqual({ t: [1, 2, 3, 4], cpu: [1, 2, 30, 40], rss: [2, 4, 6, 8] });
    const many = Array.from({ length: STATS_WINDOW + 10 }, (_, i) => sample('a', i - 100));
    expect(seedStats(live, many, () => true)['a']?.t).toHaveLength(STATS_WINDOW);
  });

  it('ignores VMs that are unknown or not running', () => {
    const stats = {};
    expect(seedStats(stats, [sample('gone', 1)], (id) => id !== 'gone')).toBe(stats);
  });
});
