import { describe, expect, it } from 'vitest';
import { StatsHistory } from './stats-history';

const s = (id: string, t: number) => ({ host: 'local', id, t, cpuPercent: t, rssBytes: t * 10 });

describe('StatsHistory', () => {
  it('keeps the last N samples per VM, oldest first', () => {
    const h = new StatsHistory(3);
    for (let t = 1; t <= 5; t++) h.push(s('a', t), 100);
    h.push(s('b', 9), 200);
    expect(h.all().map((x) => `${x.id}${x.t}`)).toEqual(['a3', 'a4', 'a5', 'b9']);
  });

  it('starts afresh when the VM runs a new QEMU, and forgets a VM whose run ended', () => {
    const h = new StatsHistory();
    h.push(s('a', 1), 100);
    h.push(s('a', 2), 101);
    expect(h.all().map((x) => x.t)).toEqual([2]);
    h.push(s('b', 1), 200);
    h.forget('local', 'a');
    expect(h.all().map((x) => x.id)).toEqual(['b']);
  });

  it('keeps VMs of different hosts apart, and hands out copies', () => {
    const h = new StatsHistory();
    h.push(s('a', 1), 100);
    h.push({ ...s('a', 7), host: 'lab' }, 100);
    expect(h.all()).toHaveLength(2);
    h.all()[0]!.cpuPercent = 99;
    expect(h.all()[0]!.cpuPercent).toBe(1);
  });
});
