// Figures of `npm run bench`: each key of issue 7 with its runs, median/min/max, goal and
// verdict, and the two renderings (latest.json for machines, latest.md for people).
import { stat, type Stat } from '../boot';

export interface Goal {
  op: '<=' | '>=';
  value: number;
}

export interface Figure extends Stat {
  key: string;
  unit: string;
  goal: Goal;
  met: boolean;
  /** what one run is */
  run: string;
  /** supporting numbers (medians of the parts, failure lists...) */
  detail: Record<string, unknown>;
}

export const GOALS: Record<string, { unit: string; goal: Goal; what: string }> = {
  startOverheadRatio: { unit: '×', goal: { op: '<=', value: 1.05 }, what: 'engine start → agent ready ÷ raw QEMU (engine args) → agent ready' },
  defaultBootMs: { unit: 'ms', goal: { op: '<=', value: 2000 }, what: 'default guest, 1 vCPU, QEMU spawn → agent ready' },
  stormRatio: { unit: '×', goal: { op: '<=', value: 1.1 }, what: '8 VMs at once until all agent-ready, engine ÷ raw (and 0 failures)' },
  engineRssPerVmMiB: { unit: 'MiB', goal: { op: '<=', value: 2 }, what: 'engine process RSS growth from 0 to 8 running VMs ÷ 8' },
  qemuRssOverheadMiB: { unit: 'MiB', goal: { op: '<=', value: 48 }, what: 'per QEMU: PSS minus resident guest RAM' },
  consoleThroughputMBps: { unit: 'MB/s', goal: { op: '>=', value: 10 }, what: 'guest → its console (virtio hvc0) → headless WebSocket client' },
  echoLatencyRatio: { unit: '×', goal: { op: '<=', value: 1.5 }, what: 'keystroke → echo, headless ÷ raw chardev socket' },
  snapshotSaveMs: { unit: 'ms', goal: { op: '<=', value: 3000 }, what: 'full snapshot (RAM + disk) of the running built-in Linux, 256 MiB' },
  snapshotRevertMs: { unit: 'ms', goal: { op: '<=', value: 2000 }, what: 'revert of that snapshot, running → running' },
  cloneFullMsPerGiB: { unit: 'ms/GiB', goal: { op: '<=', value: 10000 }, what: 'full clone (qemu-img convert) per GiB of data' },
  tiles100P95FrameMs: { unit: 'ms', goal: { op: '<=', value: 16 }, what: '100 tiles with 1 Hz stats in Chromium: p95 main-thread work per frame, over 60 Hz refreshes' },
};

export const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function figure(key: string, runs: number[], run: string, detail: Record<string, unknown> = {}, extraOk = true, judge?: (median: number) => boolean): Figure {
  const g = GOALS[key];
  if (!g) throw new Error(`unknown figure ${key}`);
  const s = stat(runs.map((v) => round(v)));
  const passes = judge ? judge(s.median) : g.goal.op === '<=' ? s.median <= g.goal.value : s.median >= g.goal.value;
  return { key, unit: g.unit, goal: g.goal, met: passes && extraOk, run, detail, ...s };
}

export function renderMarkdown(r: { generatedAt: string; machine: Record<string, unknown>; figures: Figure[]; notes: string[]; durationS: number }): string {
  const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
  const lines = [
    '# Flotilla bench — latest run',
    '',
    `Generated ${r.generatedAt} by \`npm run bench\` in ${r.durationS.toFixed(0)} s. Machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${String(v)}`).join(', ')}.`,
    'Ratios are engine ÷ raw QEMU measured side by side in this run; absolute times hold only for this machine (TCG, no KVM).',
    '',
    '| key | median | min | max | runs | goal | verdict |',
    '|---|---:|---:|---:|---:|---|---|',
    ...r.figures.map((f) => `| \`${f.key}\` | ${fmt(f.median)} ${f.unit} | ${fmt(f.min)} | ${fmt(f.max)} | ${f.runs.length} | ${f.goal.op} ${f.goal.value} ${f.unit} | ${f.met ? 'met' : '**missed**'} |`),
    '',
    '## Details',
    '',
  ];
  for (const f of r.figures) {
    lines.push(`### \`${f.key}\` — ${GOALS[f.key]!.what}`, '', `One run: ${f.run}. Runs: ${f.runs.map(fmt).join(', ')}.`, '');
    for (const [k, v] of Object.entries(f.detail)) lines.push(`- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    lines.push('');
  }
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}
