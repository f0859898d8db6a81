// @vitest-environment jsdom
// 100 tiles, each with live stats: one VM's stats tick must re-render that one tile only.
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setApi } from '../api/current';
import { applyStats, applyVm, queueStats, queueStatsBatch, STATS_PER_FRAME } from '../store/events';
import { getStats, subscribeStats } from '../store/stats-store';
import { resetStreams } from '../store/streams';
import { resetStore, useStore } from '../store/store';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { TileGrid } from './tile-grid';

describe('tiles render performance', { timeout: 30_000 }, () => {
  let renders: Map<string, number>;
  const onRender = (id: string): void => void renders.set(id, (renders.get(id) ?? 0) + 1);

  beforeEach(() => {
    resetStore();
    resetStreams();
    setApi(new FakeTransport((m) => (m === 'console.subscribe' ? { scrollback: '' } : { ok: true })));
    renders = new Map();
  });
  afterEach(() => cleanup());

  function seed(count: number): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const vm = makeVm(`vm-${String(i).padStart(3, '0')}`);
      applyVm(vm);
      ids.push(vm.id);
    }
    useStore.setState((s) => ({ vms: { ...s.vms, loaded: true } }));
    return ids;
  }

  it('re-renders only the tile whose stats changed', () => {
    const ids = seed(100);
    const { container } = render(<TileGrid onTileRender={onRender} />);
    // role queries over 100 tiles are slow in jsdom; the labels are checked on one tile below
    expect(container.querySelectorAll('section[aria-label^="VM vm-"]')).toHaveLength(100);
    // a first second of stats for everyone, then settle
    act(() => ids.forEach((id, i) => applyStats({ host: 'local', id, t: 1000, cpuPercent: i % 50, rssBytes: 100e6 })));
    renders.clear();

    const target = ids[42]!;
    act(() => applyStats({ host: 'local', id: target, t: 2000, cpuPercent: 73, rssBytes: 120e6 }));

    expect([...renders.keys()]).toEqual([target]);
    expect(renders.get(target)).toBe(1);
    const tile = screen.getByLabelText('VM vm-042');
    expect(tile.querySelector('svg[aria-label^="CPU 73%"]')).not.toBeNull();
  });

  it('a 1 Hz tick for all 100 VMs renders each tile once, and the grid not at all', () => {
    const ids = seed(100);
    let gridRenders = 0;
    const Counter = (): null => {
      gridRenders++;
      return null;
    };
    render(
      <>
        <Counter />
        <TileGrid onTileRender={onRender} />
      </>,
    );
    renders.clear();
    gridRenders = 0;
    act(() => ids.forEach((id) => applyStats({ host: 'local', id, t: 3000, cpuPercent: 5, rssBytes: 90e6 })));
    expect(renders.size).toBe(100);
    expect([...renders.values()].every((n) => n === 1)).toBe(true);
    expect(gridRenders).toBe(0);
  });

  it('a state change of one VM re-renders only its tile', () => {
    const ids = seed(20);
    render(<TileGrid onTileRender={onRender} />);
    renders.clear();
    const vm = useStore.getState().vms.byId[ids[3]!]!;
    act(() => applyVm({ ...vm, state: 'paused', reason: 'paused by user' }));
    expect([...renders.keys()]).toEqual([ids[3]]);
    expect(screen.getByTestId('vm-vm-003-state').textContent).toBe('paused');
  });

  it('keeps only the last 60 samples per VM', () => {
    const [id] = seed(1);
    for (let t = 0; t < 75; t++) applyStats({ host: 'local', id: id!, t, cpuPercent: t, rssBytes: t });
    const s = getStats(id!)!;
    expect(s.cpu).toHaveLength(60);
    expect(s.cpu[0]).toBe(15);
    expect(s.cpu[59]).toBe(74);
  });

  it('a burst of stats is applied a slice per frame (STATS_PER_FRAME VMs per update), in arrival order', () => {
    vi.useFakeTimers();
    try {
      const ids = seed(100);
      const sizes: number[] = [];
      let seen = 0;
      const off = subscribeStats(() => {
        const now = ids.filter((id) => getStats(id)?.t.at(-1) === 5000).length;
        sizes.push(now - seen);
        seen = now;
      });
      // the engine's one vm.statsBatch of the tick
      queueStatsBatch(ids.map((id, i) => ({ host: 'local', id, t: 5000, cpuPercent: i % 10, rssBytes: 1e6 })));
      expect(sizes).toEqual([]);
      vi.advanceTimersByTime(200);
      off();
      expect(sizes).toEqual(Array<number>(Math.ceil(100 / STATS_PER_FRAME)).fill(STATS_PER_FRAME));
      // first come, first applied
      expect(getStats(ids[0]!)?.cpu.at(-1)).toBe(0);
      expect(ids.every((id) => getStats(id)?.t.at(-1) === 5000)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('however many samples queue up, they drain within 30 frames', () => {
    vi.useFakeTimers();
    try {
      const ids = seed(100);
      let updates = 0;
      const off = subscribeStats(() => void (updates += 1));
      // 40 seconds of samples from 100 VMs, e.g. after the page was busy elsewhere
      for (let t = 1; t <= 40; t++) for (const id of ids) queueStats({ host: 'local', id, t, cpuPercent: 1, rssBytes: 1e6 });
      vi.advanceTimersByTime(2000);
      off();
      expect(updates).toBeLessThanOrEqual(30);
      expect(ids.every((id) => getStats(id)?.t.at(-1) === 40)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
