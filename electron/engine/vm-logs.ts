// A VM's engine-written logs (lifecycle.log, qemu.log): every line is "<ISO time> <text>", so
// the two can be merged by time for `vm.logs`, and a crash report shows QEMU's own words.
import type { LogEntry } from '../../shared/contract';
import type { CappedLog } from './capped-log';

/** Lines of our timestamped logs are "<ISO time> <text>". */
export function stripStamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, '');
}

function parse(source: LogEntry['source'], lines: string[]): LogEntry[] {
  return lines.map((l) => {
    const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(l);
    return { t: m?.[1] ?? '', source, text: m?.[2] ?? l };
  });
}

/** The last `tail` entries of both logs, in time order. */
export async function mergedTail(lifecycle: CappedLog, qemu: CappedLog, tail: number): Promise<LogEntry[]> {
  const [life, q] = await Promise.all([lifecycle.tail(tail), qemu.tail(tail)]);
  const all = [...parse('lifecycle', life), ...parse('qemu', q)].filter((e) => e.text !== '');
  all.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  return all.slice(-tail);
}
