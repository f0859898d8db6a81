// The tiles bench's frame cost, read from a Chromium trace: what a frame cost is the main
// thread's busy time since the previous frame's rendering, and the p95 counts each frame once
// per 60 Hz refresh it was on screen, so one slow frame a second cannot hide.
import { describe, expect, it } from 'vitest';
import { frameCosts, refreshQuantile, selfTimeOver, type TraceEvent } from '../../bench/lib/frame-cost';

const MAIN = { pid: 1, tid: 1 };
const meta: TraceEvent = { name: 'thread_name', ph: 'M', ts: 0, ...MAIN, args: { name: 'CrRendererMain' } };
const task = (tsMs: number, durMs: number, cpuMs = durMs): TraceEvent => ({ name: 'ThreadControllerImpl::RunTask', ph: 'X', ts: tsMs * 1000, dur: durMs * 1000, tdur: cpuMs * 1000, ...MAIN });
const render = (tsMs: number): TraceEvent => ({ name: 'AnimationFrame::Render', ph: 'b', ts: tsMs * 1000, ...MAIN });
/** a frame's rendering step: a task with a render inside */
const frame = (tsMs: number, durMs: number): TraceEvent[] => [task(tsMs, durMs), render(tsMs + 0.1)];

describe('frame cost from a trace', () => {
  it('counts the tasks since the previous frame plus the frame itself, not the idle time', () => {
    const events = [meta, ...frame(0, 1), task(5, 3, 2), task(10, 2), ...frame(16.7, 1)];
    const [f] = frameCosts(events);
    expect(f!.workMs).toBeCloseTo(6);
    expect(f!.cpuMs).toBeCloseTo(5);
    expect(f!.intervalMs).toBeCloseTo(16.7); // from the end of one rendering step to the next
  });

  it('ignores other threads and a renderer that draws no frames', () => {
    const other = { pid: 2, tid: 2 };
    const events = [meta, { ...meta, ...other }, ...frame(0, 1), { ...task(2, 50), ...other }, ...frame(16.7, 1)];
    expect(frameCosts(events).map((f) => f.workMs)).toEqual([1]);
  });

  it('p95 over refreshes: one 100 ms frame a second shows, though it is 1 frame in 55', () => {
    const events: TraceEvent[] = [meta];
    let t = 0;
    for (let i = 0; i < 55; i++) {
      const long = i === 27;
      events.push(...frame(t, long ? 100 : 1));
      t += long ? 100 : 1000 / 60;
    }
    events.push(...frame(t, 1));
    const frames = frameCosts(events);
    expect(frames).toHaveLength(55);
    const plain = [...frames.map((f) => f.workMs)].sort((a, b) => a - b)[Math.floor(0.95 * 55)];
    expect(plain).toBe(1);
    expect(refreshQuantile(frames, 0.95)).toBe(100);
  });

  it('says where an over-budget frame spent its time, by self time', () => {
    const layout: TraceEvent = { name: 'Layout', ph: 'X', ts: 17_000, dur: 30_000, tdur: 30_000, ...MAIN };
    const events = [meta, ...frame(0, 1), task(16.7, 40), layout, render(16.8), ...frame(60, 1)];
    expect(selfTimeOver(events, frameCosts(events), 16.7)).toEqual({ Layout: 30, 'ThreadControllerImpl::RunTask': 10 });
  });
});

describe('frame cost from a trace without AnimationFrame events', () => {
  it('falls back to the rAF callbacks the probe runs every frame', () => {
    const raf = (tsMs: number): TraceEvent => ({ name: 'FireAnimationFrame', ph: 'X', ts: tsMs * 1000, dur: 100, ...MAIN });
    const events = [meta, task(0, 1), raf(0.1), task(5, 4), task(16.7, 1), raf(16.8)];
    expect(frameCosts(events).map((f) => f.workMs)).toEqual([5]);
  });
});
