// Figures of `npm run bench`: each key of issues 7 and 15 with its runs, median/min/max, goal and
// verdict, and the two renderings (latest.json for machines, latest.md for people). A figure that
// could not be measured is still a figure: its error says why (failedFigure), and the run goes on.
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
  /** set when the figure could not be measured: what went wrong (its runs are then empty) */
  error?: string;
}

/** Goals of issue 15 (round two); the ones of issue 7 are in bench/README.md's history. */
export const GOALS: Record<string, { unit: string; goal: Goal; what: string }> = {
  startOverheadRatio: { unit: '×', goal: { op: '<=', value: 1.03 }, what: 'engine start → agent ready ÷ raw QEMU (engine args) → agent ready' },
  loadedStartOverheadRatio: { unit: '×', goal: { op: '<=', value: 1.1 }, what: 'startOverheadRatio with a CPU hog keeping every core busy for both sides' },
  defaultBootMs: { unit: 'ms', goal: { op: '<=', value: 1500 }, what: 'default guest, 1 vCPU, QEMU spawn → agent ready' },
  stormRatio: { unit: '×', goal: { op: '<=', value: 1.05 }, what: '8 VMs at once until all agent-ready, engine ÷ raw (and 0 failures)' },
  engineRssPerVmMiB: { unit: 'MiB', goal: { op: '<=', value: 1 }, what: 'engine process RSS growth from 0 to 8 running VMs ÷ 8' },
  qemuRssOverheadMiB: { unit: 'MiB', goal: { op: '<=', value: 40 }, what: 'per QEMU: PSS minus resident guest RAM' },
  consoleThroughputMBps: { unit: 'MB/s', goal: { op: '>=', value: 20 }, what: "guest → its console (the relayed virtio-serial port) → headless WebSocket client" },
  consoleLostBytes: { unit: 'bytes', goal: { op: '<=', value: 0 }, what: "bytes lost on the engine's side over all console runs, a CPU hog on every core during half of them" },
  echoLatencyRatio: { unit: '×', goal: { op: '<=', value: 1.2 }, what: 'keystroke → echo, headless ÷ raw chardev socket' },
  tiles100P95FrameMs: { unit: 'ms', goal: { op: '<=', value: 12 }, what: '100 tiles with 1 Hz stats in Chromium: p95 main-thread work per frame, over 60 Hz refreshes' },
  tiles500P95FrameMs: { unit: 'ms', goal: { op: '<=', value: 16 }, what: '500 tiles with 1 Hz stats in Chromium: p95 main-thread work per frame, over 60 Hz refreshes' },
  engineIdleCpuPct: { unit: '%', goal: { op: '<=', value: 1 }, what: 'engine CPU (% of one core) with 16 idle built-in VMs running and one browser on the grid' },
  cliListMs: { unit: 'ms', goal: { op: '<=', value: 120 }, what: '`flotilla list --json` wall time, an engine running with 16 VMs' },
  firstTileMs: { unit: 'ms', goal: { op: '<=', value: 400 }, what: 'browser navigation → first tile painted, 16 VMs' },
  // issue 12 (BENCH_ONLY=lifecycle)
  snapshotSaveMs: { unit: 'ms', goal: { op: '<=', value: 3000 }, what: 'full snapshot (RAM + disk) of the running built-in Linux, 256 MiB' },
  snapshotRevertMs: { unit: 'ms', goal: { op: '<=', value: 2000 }, what: 'revert of that snapshot, running → running' },
  cloneFullMsPerGiB: { unit: 'ms/GiB', goal: { op: '<=', value: 10000 }, what: 'full clone (qemu-img convert) per GiB of data' },
  // issue 12 (BENCH_ONLY=shares); goals: issue 12 measured ~100 MiB/s under TCG, and a share
  // should keep at least a quarter of the host's own fsync'd write speed
  shareWriteMBps: { unit: 'MB/s', goal: { op: '>=', value: 50 }, what: 'dd 64 MiB conv=fsync from the built-in Linux into a shared folder (virtio-fs)' },
  shareWriteRatio: { unit: '×', goal: { op: '>=', value: 0.25 }, what: 'shareWriteMBps ÷ the same dd on the host, same directory, same run' },
  // issue 13 (BENCH_ONLY=libvirt)
  libvirtStartRatio: { unit: '×', goal: { op: '<=', value: 1 }, what: "Flotilla's local engine start → agent ready ÷ `virsh start` → first guest-ping answered, same built-in guest" },
  libvirtHostOverheadRatio: { unit: '×', goal: { op: '<=', value: 1.1 }, what: 'a start through Flotilla on the libvirt host (qemu:///system) ÷ `virsh start` alone (→ first guest-ping)' },
  remoteListMs: { unit: 'ms', goal: { op: '<=', value: 500 }, what: '`flotilla list --host` on the loopback ssh host, connection warm (beside it: `virsh list` over a fresh ssh connection)' },
};

/** The order of the report. */
export const FIGURE_ORDER = Object.keys(GOALS);

export const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits;

export function figure(key: string, runs: number[], run: string, detail: Record<string, unknown> = {}, extraOk = true, judge?: (median: number) => boolean): Figure {
  const g = GOALS[key];
  if (!g) throw new Error(`unknown figure ${key}`);
  const s = stat(runs.map((v) => round(v)));
  const passes = judge ? judge(s.median) : g.goal.op === '<=' ? s.median <= g.goal.value : s.median >= g.goal.value;
  return { key, unit: g.unit, goal: g.goal, met: passes && extraOk, run, detail, ...s };
}

/** A figure that could not be measured: recorded with its error (and whatever was measured before it failed). */
export function failedFigure(key: string, err: unknown, detail: Record<string, unknown> = {}): Figure {
  const g = GOALS[key];
  if (!g) throw new Error(`unknown figure ${key}`);
  const error = err instanceof Error ? err.message : String(err);
  return { key, unit: g.unit, goal: g.goal, met: false, run: 'not measured', detail, error, runs: [], median: Number.NaN, min: Number.NaN, max: Number.NaN };
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
    ...r.figures.map((f) =>
      f.error
        ? `| \`${f.key}\` | — | — | — | 0 | ${f.goal.op} ${f.goal.value} ${f.unit} | **failed**: ${f.error.trim().replaceAll('|', '/').replace(/\s*\n\s*/g, ' ')} |`
        : `| \`${f.key}\` | ${fmt(f.median)} ${f.unit} | ${fmt(f.min)} | ${fmt(f.max)} | ${f.runs.length} | ${f.goal.op} ${f.goal.value} ${f.unit} | ${f.met ? 'met' : '**missed**'} |`,
    ),
    '',
    '## Details',
    '',
  ];
  for (const f of r.figures) {
    lines.push(`### \`${f.key}\` — ${GOALS[f.key]!.what}`, '', f.error ? `Not measured: ${f.error}` : `One run: ${f.run}. Runs: ${f.runs.map(fmt).join(', ')}.`, '');
    for (const [k, v] of Object.entries(f.detail)) lines.push(`- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    lines.push('');
  }
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

/**
 * Runs one part of the bench. If it throws, each of its keys not yet recorded is recorded as a
 * failed figure carrying the error and `partial` (what the part measured before it failed), and
 * the bench goes on with the next part.
 */
export async function attempt(keys: string[], figures: Figure[], body: (partial: Record<string, unknown>) => Promise<void>, log: (l: string) => void = () => {}): Promise<void> {
  const partial: Record<string, unknown> = {};
  try {
    await body(partial);
  } catch (err) {
    log(`${keys.join(', ')}: failed: ${err instanceof Error ? err.message : String(err)}`);
    for (const k of keys) if (!figures.some((f) => f.key === k)) figures.push(failedFigure(k, err, { ...partial }));
  }
}
