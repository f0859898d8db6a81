// What each frame cost the renderer's main thread, read from a Chromium trace. Headless
// Chromium paces frames to a 60 Hz clock whatever the flags (--disable-frame-rate-limit and
// --disable-gpu-vsync change nothing there), so rAF intervals cannot go below 16.7 ms and
// cannot say what a frame costs. The trace can: every task the main thread ran, and which of
// them was a frame's rendering step. A frame's cost is the main thread's busy time from the
// end of the previous frame's rendering to the end of its own: the tasks that had to run
// before it (WebSocket messages, timers) plus its rAF callbacks, style, layout and paint.
// Idle time is not counted, so the cost is what the frame would take with the clock removed.

export interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  /** thread (CPU) time, where the platform records it */
  tdur?: number;
  pid: number;
  tid: number;
  args?: { name?: string };
}

export interface FrameCost {
  /** end of this frame's rendering step, trace clock, ms */
  endMs: number;
  /** time since the previous frame's rendering ended: the span in which this frame was made, ms */
  intervalMs: number;
  /** main-thread busy time that went into this frame, ms (wall clock while busy) */
  workMs: number;
  /** the same in main-thread CPU time: what the frame cost without other processes taking the core */
  cpuMs: number;
}

export const VSYNC_MS = 1000 / 60;
const TASK = 'ThreadControllerImpl::RunTask';
const RENDER = 'AnimationFrame::Render';

/** Frames of the page's main thread in trace order; the first frame (no known start) is left out. */
export function frameCosts(events: readonly TraceEvent[]): FrameCost[] {
  const key = (e: TraceEvent) => `${e.pid}/${e.tid}`;
  // a browser may have several renderers (e.g. a blank one): the page's is the one rendering frames
  const isRenderStep = renderStepOf(events);
  const mainKey = mainThreadOf(events, isRenderStep);
  const renderTs = events.filter((e) => isRenderStep(e) && key(e) === mainKey).map((e) => e.ts).sort((a, b) => a - b);
  if (!renderTs.length) return [];
  const tasks = events.filter((e) => e.ph === 'X' && e.name === TASK && key(e) === mainKey && e.dur !== undefined).sort((a, b) => a.ts - b.ts);
  const out: FrameCost[] = [];
  let busy = 0;
  let cpu = 0;
  let end = -Infinity;
  let prevEnd: number | null = null;
  let r = 0;
  for (const t of tasks) {
    if (t.ts < end) continue; // nested run loop: its time is already inside the outer task
    end = t.ts + t.dur!;
    busy += t.dur!;
    cpu += t.tdur ?? t.dur!;
    while (r < renderTs.length && renderTs[r]! < t.ts) r++;
    const isFrame = r < renderTs.length && renderTs[r]! <= end;
    if (!isFrame) continue;
    if (prevEnd !== null) out.push({ endMs: end / 1000, intervalMs: (end - prevEnd) / 1000, workMs: busy / 1000, cpuMs: cpu / 1000 });
    prevEnd = end;
    busy = 0;
    cpu = 0;
  }
  return out;
}

/**
 * The q-quantile of frame cost over the display's 60 Hz refreshes: a frame that took k refreshes
 * to make (its interval, in vsyncs) counts k times, once for each refresh that waited for it. Counting each frame once would let
 * one huge frame a second hide behind the 59 cheap ones around it, however long it took.
 */
export function refreshQuantile(frames: readonly FrameCost[], q: number, of: (f: FrameCost) => number = (f) => f.workMs): number {
  const weighted = frames.map((f) => ({ w: Math.max(1, Math.round(f.intervalMs / VSYNC_MS)), v: of(f) })).sort((a, b) => a.v - b.v);
  const total = weighted.reduce((a, f) => a + f.w, 0);
  if (total === 0) return 0;
  const rank = Math.min(total - 1, Math.floor(q * total));
  let seen = 0;
  for (const f of weighted) {
    seen += f.w;
    if (seen > rank) return f.v;
  }
  return weighted[weighted.length - 1]!.v;
}

/**
 * Where the main thread's time went in the frames costing more than `overMs`: self CPU time
 * (own thread time minus its children's) summed by trace event name, largest first. Time a task spent
 * outside any traced step shows as the task's own name.
 */
export function selfTimeOver(events: readonly TraceEvent[], frames: readonly FrameCost[], overMs: number, top = 8): Record<string, number> {
  const slow = frames.filter((f) => f.workMs > overMs);
  if (!slow.length) return {};
  const mainKey = mainThreadOf(events);
  // a slow frame's work ran between the previous frame's rendering step and its own
  const spans = slow.map((f) => [(f.endMs - f.intervalMs) * 1000, f.endMs * 1000] as const);
  const inSlow = (ts: number) => spans.some(([a, b]) => ts > a && ts <= b);
  const xs = events.filter((e) => e.ph === 'X' && e.dur !== undefined && `${e.pid}/${e.tid}` === mainKey).sort((a, b) => a.ts - b.ts || b.dur! - a.dur!);
  const self = new Map<string, number>();
  const stack: { e: TraceEvent; children: number }[] = [];
  const close = (upTo: number) => {
    while (stack.length && stack[stack.length - 1]!.e.ts + stack[stack.length - 1]!.e.dur! <= upTo) {
      const { e, children } = stack.pop()!;
      const own = e.tdur ?? e.dur!;
      if (stack.length) stack[stack.length - 1]!.children += own;
      if (inSlow(e.ts)) self.set(e.name, (self.get(e.name) ?? 0) + own - children);
    }
  };
  for (const e of xs) {
    close(e.ts);
    stack.push({ e, children: 0 });
  }
  close(Infinity);
  return Object.fromEntries([...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => [k, Math.round(v / 100) / 10]));
}

/**
 * A frame's rendering step. Chromium 156 marks it `AnimationFrame::Render`; builds without
 * those events still mark rAF callbacks, and the bench's probe runs one every frame.
 */
function renderStepOf(events: readonly TraceEvent[]): (e: TraceEvent) => boolean {
  return events.some((e) => e.name === RENDER && e.ph === 'b') ? (e) => e.name === RENDER && e.ph === 'b' : (e) => e.name === 'FireAnimationFrame' && e.ph === 'X';
}

function mainThreadOf(events: readonly TraceEvent[], isRenderStep = renderStepOf(events)): string {
  const renders = new Map<string, number>();
  for (const e of events) if (isRenderStep(e)) renders.set(`${e.pid}/${e.tid}`, (renders.get(`${e.pid}/${e.tid}`) ?? 0) + 1);
  return [...renders.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
}
