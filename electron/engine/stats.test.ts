import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { cpuPercent, pageSizeFromAuxv, parseProcStat, StatsSampler } from './stats';

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
    expect(s.rssPages).toBe(60000);
  });

  it('rejects garbage', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S')).toBeNull();
  });
});

describe('RSS from /proc/<pid>/stat', () => {
  it('finds the page size in the auxiliary vector, 4096 without one', () => {
    const auxv = new Uint8Array(48);
    const v = new DataView(auxv.buffer);
    v.setBigUint64(0, 33n, true); // AT_SYSINFO_EHDR
    v.setBigUint64(8, 0x7fffn, true);
    v.setBigUint64(16, 6n, true); // AT_PAGESZ
    v.setBigUint64(24, 16384n, true);
    expect(pageSizeFromAuxv(auxv)).toBe(16384);
    expect(pageSizeFromAuxv(new Uint8Array(16))).toBe(4096);
    expect(pageSizeFromAuxv(readFileSync('/proc/self/auxv'))).toBe(4096);
  });

  it('is the same as VmRSS of /proc/<pid>/status for a live process', () => {
    const vmRssKiB = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${process.pid}/status`, 'utf8'))![1]);
    const before = vmRssKiB();
    const pages = parseProcStat(readFileSync(`/proc/${process.pid}/stat`, 'utf8'))!.rssPages;
    const after = vmRssKiB();
    // the two files are read a moment apart, and the kernel may fold per-thread counts into the
    // two at different moments: within 1 MiB of each other
    expect(pages * 4).toBeGreaterThanOrEqual(Math.min(before, after) - 1024);
    expect(pages * 4).toBeLessThanOrEqual(Math.max(before, after) + 1024);
    expect(pages).toBeGreaterThan(1000);
  });

  it('is 0 when the field is missing (a zombie reports 0 too)', () => {
    expect(parseProcStat('12 (x) Z 1 0 0 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5')!.rssPages).toBe(0);
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
    const read = (p: string): string => {
      files['/proc/7/stat'] = `7 (qemu) S 1 7 7 0 -1 0 0 0 0 0 ${ticks} 0 0 0 20 0 1 0 555 0 512`;
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return v;
    };
    const s = new StatsSampler(read, () => t, 4096);
    expect(await s.sample(7)).toEqual({ cpuPercent: 0, rssBytes: 2048 * 1024 });
    ticks = 125;
    t = 1000;
    expect(await s.sample(7)).toEqual({ cpuPercent: 25, rssBytes: 2048 * 1024 });
    expect(await s.sample(8)).toBeNull();
  });
});
