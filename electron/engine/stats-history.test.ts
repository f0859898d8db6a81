import { describe, expect, it } from 'vitest';
import { StatsHistory } from './stats-history';

const s = (id: string, t: number) => ({ id, t, cpuPercent: t, rssBytes: t * 10 });

describe('StatsHistory', () => {
  it('keeps the last N samples per VM, oldest first', () => {
    const h = new StatsHistory(3);
    for (let t = 1; t <= 5; t++) h.push(s('a', t));
    h.push(s('b', 9));
    expect(h.all().map((x) => `${x.id}${x.t}`)).toEqual(['a3', 'a4', 'a5', 'b9']);
  });

  it('forgets a VM whose run ended', () => {
    const h = new StatsHistory();
    h.push(s('a', 1));
    h.push(s('b', 1));
    h.forget('a');
    expect(h.all().map((x) => x.id)).toEqual(['b']);
  });

  it('hands out copies', () => {
    const h = new StatsHistory();
    h.push(s('a', 1));
    h.all()[0]!.cpuPercent = 99;
    expect(h.all()[0]!.cpuPercent).toBe(1);
  });
});
