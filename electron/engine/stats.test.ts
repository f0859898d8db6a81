import { describe, expect, it } from 'vitest';
import { cpuPercent, parseProcStat, parseRssBytes, StatsSampler } from './stats';

// a real line from a QEMU process, with a comm that has spaces and parentheses substituted in
const STAT = '4242 (qemu (x) 1) S 1 4242 4242 0 -1 4194560 12000 0 3 0 150 50 0 0 20 0 5 0 987654 1500000000 60000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0';

describe('parseProcStat', () => {
  it('counts fields from the last parenthesis so odd command names do not shift them', () => {
    const s = parseProcStat(STAT)!;
    expect(s.pid).toBe(4242);
    expect(s.comm).toBe('qemu (x) 1');
    expect(s.state).toBe('S');
    expect(s.ppid).toBe(1);
    expect(s.cpuTicks).toBe(200);
    expect(s.startTime).toBe(987654);
  });

  it('rejects garbage', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S')).toBeNull();
  });
});

describe('parseRssBytes', () => {
  it('reads VmRSS in kB', () => {
    expect(parseRssBytes('Name:\tqemu\nVmPeak:\t 9000 kB\nVmRSS:\t  123456 kB\nThreads:\t5\n')).toBe(123456 * 1024);
  });
  it('is 0 for a zombie without VmRSS', () => {
    expect(parseRssBytes('Name:\tqemu\nState:\tZ (zombie)\n')).toBe(0);
  });
});

describe('cpuPercent', () => {
  it('is ticks per second over the clock rate', () => {
    expect(cpuPercent(100, 0, 150, 1000)).toBe(50);
    expect(cpuPercent(100, 0, 300, 1000)).toBe(200);
  });
  it('never goes negative or divides by zero', () => {
    expect(cpuPercent(100, 1000, 50, 2000)).toBe(0);
    expect(cpuPercent(100, 1000, 200, 1000)).toBe(0);
  });
});

describe('StatsSampler', () => {
  it('turns tick counters into a rate per pid and forgets vanished processes', async () => {
    let ticks = 100;
    let t = 0;
    const files: Record<string, string> = {};
    const read = async (p: string): Promise<string> => {
      files['/proc/7/stat'] = `7 (qemu) S 1 7 7 0 -1 0 0 0 0 0 ${ticks} 0 0 0 20 0 1 0 555 0 0`;
      files['/proc/7/status'] = 'VmRSS:\t2048 kB\n';
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return v;
    };
    const s = new StatsSampler(read, () => t);
    expect(await s.sample(7)).toEqual({ cpuPercent: 0, rssBytes: 2048 * 1024 });
    ticks = 125;
    t = 1000;
    expect(await s.sample(7)).toEqual({ cpuPercent: 25, rssBytes: 2048 * 1024 });
    expect(await s.sample(8)).toBeNull();
  });
});
