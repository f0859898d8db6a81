// Per-QEMU resource figures from /proc: CPU % (from utime+stime deltas) and RSS.
// Parsing is pure so it can be tested on captured lines; the sampler keeps the previous
// reading per pid to turn tick counters into a rate.
import { readFile } from 'node:fs/promises';

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
  // rest[0] is field 3 (state); utime is field 14, stime 15, starttime 22
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTime = Number(rest[19]);
  if (!Number.isFinite(pid) || !Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(startTime)) return null;
  return { pid, comm: line.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]), cpuTicks: utime + stime, startTime };
}

/** VmRSS from /proc/<pid>/status, in bytes (0 if absent, e.g. a zombie). */
export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
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

export type ProcReader = (path: string) => Promise<string>;

/** Keeps the previous tick count per pid so each sample yields a rate. */
export class StatsSampler {
  private readonly prev = new Map<number, { ticks: number; at: number; startTime: number }>();

  constructor(
    private readonly read: ProcReader = (p) => readFile(p, 'utf8'),
    private readonly now: () => number = Date.now,
  ) {}

  /** null when the process is gone. The first sample of a pid reports 0 % CPU. */
  async sample(pid: number): Promise<StatsReading | null> {
    let stat: ProcStat | null;
    let status: string;
    try {
      stat = parseProcStat(await this.read(`/proc/${pid}/stat`));
      status = await this.read(`/proc/${pid}/status`);
    } catch {
      this.prev.delete(pid);
      return null;
    }
    if (!stat) return null;
    const at = this.now();
    const before = this.prev.get(pid);
    this.prev.set(pid, { ticks: stat.cpuTicks, at, startTime: stat.startTime });
    const cpu = before && before.startTime === stat.startTime ? cpuPercent(before.ticks, before.at, stat.cpuTicks, at) : 0;
    return { cpuPercent: cpu, rssBytes: parseRssBytes(status) };
  }

  forget(pid: number): void {
    this.prev.delete(pid);
  }
}
