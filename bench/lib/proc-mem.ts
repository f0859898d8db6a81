// Memory of a process as Linux accounts it: VmRSS, and for QEMU the resident part of the
// guest's RAM block (its own anonymous mapping of exactly memoryMiB), read from smaps.
import { readFileSync } from 'node:fs';

export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Resident KiB of the guest RAM mapping: the anonymous mapping whose size is the guest's memory
 * (QEMU allocates the RAM block as one mmap). Null when no mapping of that size is found.
 */
export function guestRamResidentKiB(pid: number, memoryMiB: number): number | null {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const want = memoryMiB * 1024;
  let best: number | null = null;
  let size = -1;
  let anon = false;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      size = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024;
      anon = head[3] === '';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && anon && size === want) best = (best ?? 0) + Number(rss[1]);
  }
  return best;
}

/** Median of a few samples spaced apart: node's heap and QEMU's buffers breathe. */
export async function settledRssKiB(pid: number, samples = 5, gapMs = 400): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await new Promise((r) => setTimeout(r, gapMs));
    v.push(rssKiB(pid));
  }
  v.sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}
