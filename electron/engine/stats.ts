// Per-QEMU resource figures from /proc: CPU % (from utime+stime deltas) and RSS, both from one
// read of /proc/<pid>/stat. Parsing is pure so it can be tested on captured lines; the sampler
// keeps the previous reading per pid to turn tick counters into a rate.
//
// The read is synchronous: a /proc file is made by the kernel on the spot and never waits for a
// disk, and at 1 Hz for every running VM the threadpool round trips of an async read cost the
// engine far more than the read (16 VMs: ~2.5 ms of CPU a tick for the stat and status files read
// async, 0.16 ms for the stat file read in place; issue 15's engineIdleCpuPct).
import { readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream build. */
export const CLOCK_TICKS_PER_SEC = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks */
  cpuTicks: number;
  /** process start time in clock ticks since boot: with the pid, identifies one process */
  startTime: number;
  /** resident set size, in pages (the VmRSS of /proc/<pid>/status, from the same counters) */
  rssPages: number;
}

/**
 * Parse one /proc/<pid>/stat line. The command name sits in parentheses and may itself
 * contain spaces and parentheses, so fields are counted from the last ')'.
 */
export function parseProcStat(line: string): ProcStat | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(line.slice(0, open).trim());
  const rest = line.slice(close + 1).trim().split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, stime 15, starttime 22, rss 24
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTime = Number(rest[19]);
  const rss = Number(rest[21]);
  if (!Number.isFinite(pid) || !Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(startTime)) return null;
  return { pid, comm: line.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]), cpuTicks: utime + stime, startTime, rssPages: Number.isFinite(rss) && rss > 0 ? rss : 0 };
}

/** The page size from the ELF auxiliary vector (AT_PAGESZ); 4096 if it cannot be read. */
export function pageSizeFromAuxv(auxv: Uint8Array): number {
  const view = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
  // 64-bit little-endian pairs (type, value), ended by AT_NULL
  for (let off = 0; off + 16 <= auxv.byteLength; off += 16) {
    const type = view.getBigUint64(off, true);
    if (type === 0n) break;
    if (type === 6n) return Number(view.getBigUint64(off + 8, true)); // AT_PAGESZ
  }
  return 4096;
}

let pageSize: number | null = null;
function systemPageSize(): number {
  if (pageSize === null) {
    try {
      pageSize = pageSizeFromAuxv(readFileSync('/proc/self/auxv'));
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

/** CPU % of one host CPU between two samples; may exceed 100 with several vCPU threads. */
export function cpuPercent(prevTicks: number, prevAtMs: number, ticks: number, atMs: number, hz = CLOCK_TICKS_PER_SEC): number {
  const dt = (atMs - prevAtMs) / 1000;
  if (dt <= 0 || ticks < prevTicks) return 0;
  return Math.round(((ticks - prevTicks) / hz / dt) * 1000) / 10;
}

export interface StatsReading {
  cpuPercent: number;
  rssBytes: number;
}

export type ProcReader = (path: string) => string;

/** Keeps the previous tick count per pid so each sample yields a rate. */
export class StatsSampler {
  private readonly prev = new Map<number, { ticks: number; at: number; startTime: number }>();

  constructor(
    private readonly read: ProcReader = (p) => readFileSync(p, 'utf8'),
    private readonly now: () => number = Date.now,
    private readonly pageBytes: number = systemPageSize(),
  ) {}

  /** null when the process is gone. The first sample of a pid reports 0 % CPU. */
  async sample(pid: number): Promise<StatsReading | null> {
    let stat: ProcStat | null;
    try {
      stat = parseProcStat(this.read(`/proc/${pid}/stat`));
    } catch {
      this.prev.delete(pid);
      return null;
    }
    if (!stat) return null;
    const at = this.now();
    const before = this.prev.get(pid);
    this.prev.set(pid, { ticks: stat.cpuTicks, at, startTime: stat.startTime });
    const cpu = before && before.startTime === stat.startTime ? cpuPercent(before.ticks, before.at, stat.cpuTicks, at) : 0;
    return { cpuPercent: cpu, rssBytes: stat.rssPages * this.pageBytes };
  }

  forget(pid: number): void {
    this.prev.delete(pid);
  }
}
