// The bench always finishes (issue 15): a part that throws leaves failed figures with its error
// and what it measured before failing, and the parts after it still run.
import { describe, expect, it } from 'vitest';
import { attempt, failedFigure, figure, FIGURE_ORDER, GOALS, renderMarkdown, type Figure } from '../../bench/lib/figures';

describe('bench figures', () => {
  it('has a goal for every key of issue 15', () => {
    for (const k of ['defaultBootMs', 'startOverheadRatio', 'loadedStartOverheadRatio', 'stormRatio', 'engineRssPerVmMiB', 'qemuRssOverheadMiB', 'consoleThroughputMBps', 'consoleLostBytes', 'echoLatencyRatio', 'tiles100P95FrameMs', 'tiles500P95FrameMs', 'engineIdleCpuPct', 'cliListMs', 'firstTileMs']) {
      expect(GOALS[k], k).toBeDefined();
      expect(FIGURE_ORDER).toContain(k);
    }
    expect(GOALS.consoleLostBytes!.goal).toEqual({ op: '<=', value: 0 });
  });

  it('records a failing part as failed figures with the error and the partial measurements, and runs the next part', async () => {
    const figures: Figure[] = [];
    const lines: string[] = [];
    await attempt(
      ['consoleThroughputMBps', 'consoleLostBytes'],
      figures,
      async (partial) => {
        partial.lostBytes = { headless: [0, 1024] };
        figures.push(figure('consoleLostBytes', [1024], 'all runs'));
        throw new Error('no console run delivered all 4194304 bytes');
      },
      (l) => lines.push(l),
    );
    let ran = false;
    await attempt(['cliListMs'], figures, async () => {
      ran = true;
      figures.push(figure('cliListMs', [90, 100, 110], 'one list'));
    });
    expect(ran).toBe(true);
    expect(figures.map((f) => f.key)).toEqual(['consoleLostBytes', 'consoleThroughputMBps', 'cliListMs']);
    const failed = figures.find((f) => f.key === 'consoleThroughputMBps')!;
    expect(failed).toMatchObject({ met: false, error: 'no console run delivered all 4194304 bytes', runs: [], detail: { lostBytes: { headless: [0, 1024] } } });
    // the figure recorded before the failure keeps its own verdict
    expect(figures.find((f) => f.key === 'consoleLostBytes')).toMatchObject({ median: 1024, met: false });
    expect(figures.find((f) => f.key === 'cliListMs')).toMatchObject({ median: 100, met: true });
    expect(lines.join('\n')).toMatch(/consoleThroughputMBps, consoleLostBytes: failed: no console run/);
  });

  it('shows a failed figure in latest.md with its error', () => {
    const md = renderMarkdown({ generatedAt: 'now', machine: {}, durationS: 1, notes: [], figures: [failedFigure('firstTileMs', new Error('chromium | did not start'))] });
    expect(md).toContain('| `firstTileMs` | — | — | — | 0 | <= 400 ms | **failed**: chromium / did not start |');
    expect(md).toContain('Not measured: chromium | did not start');
  });

  it('keeps a failed figure with a multi-line error on one table row', () => {
    const md = renderMarkdown({ generatedAt: 'now', machine: {}, durationS: 1, notes: [], figures: [failedFigure('remoteListMs', new Error('virsh version failed: error: failed to connect\nerror: no socket\n'))] });
    expect(md).toContain('| `remoteListMs` | — | — | — | 0 | <= 500 ms | **failed**: virsh version failed: error: failed to connect error: no socket |');
  });
});
