// The renderer under load: the built renderer (dist/renderer) in Chromium, served by the real
// headless server, with a stand-in engine behind the real WebSocket protocol that reports 100
// running VMs and sends their stats every second as the engine's sampler does: one vm.statsBatch
// event per tick carrying every VM's sample (until issue 15 the engine, and so this stand-in, sent
// one vm.stats event per VM). The unit under benchmark is the renderer, so the engine is a fixture.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { CallContext, ContractHandler, EventName, EventPayloads, VmInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { startHeadless } from '../../electron/headless/server';
import { fakeVm } from '../../electron/headless/testing/fake-handler';
import { frameCosts, refreshQuantile, selfTimeOver, VSYNC_MS, type FrameCost, type TraceEvent } from './frame-cost';
import { figure, round, type Figure } from './figures';

type Listener = <E extends EventName>(event: E, payload: EventPayloads[E]) => void;

class HundredVms implements ContractHandler {
  readonly vms: VmInfo[];
  readonly unexpected = new Set<string>();
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private tick = 0;

  constructor(n: number) {
    const since = new Date().toISOString();
    this.vms = Array.from({ length: n }, (_, i) => {
      const id = `bench${String(i).padStart(7, '0')}`;
      return fakeVm(id, `vm-${String(i).padStart(3, '0')}`, { state: 'running', reason: 'start requested', stateSince: since, pid: 10_000 + i, agent: 'ready', ips: [`10.0.2.15`] });
    });
  }

  async handle(method: string, params: unknown, _ctx: CallContext): Promise<never> {
    const p = params as { id?: string };
    switch (method) {
      case 'engine.info':
        return { version: 'bench', home: '/bench', pid: process.pid, qemuVersion: '7.2.0', kvm: false, defaultImage: { ready: true, kernelVersion: 'bench', path: '/bench' }, shell: 'serve' } as never;
      case 'vm.list':
        return this.vms as never;
      case 'vm.get': {
        const vm = this.vms.find((v) => v.id === p.id);
        if (!vm) throw new FlotillaError('NOT_FOUND', `no VM with id ${p.id}`);
        return vm as never;
      }
      case 'vm.ports':
        return [] as never;
      // the renderer asks for the hosts on connect (since the libvirt hosts came in); without an
      // answer its first load failed and no tile ever appeared (the bench timed out)
      case 'host.list':
        return [{ id: 'local', name: 'This computer', kind: 'local', state: 'connected', reason: null, vmCount: this.vms.length }] as never;
      // visible tiles of display-less VMs preview their console: idle guests, a prompt each
      case 'console.subscribe':
        return { scrollback: `${p.id ?? ''}: Flotilla built-in Linux, kernel 6.1.0\r\n~ # ` } as never;
      case 'console.unsubscribe':
        return { ok: true } as never;
      // the renderer subscribes to stats and asks for their history on connect, as with the real
      // engine; unanswered, its connect step failed (a "Load VMs" notice) while stats still came
      case 'stats.subscribe':
      case 'stats.unsubscribe':
        return { ok: true } as never;
      case 'stats.history':
        return { samples: [] } as never;
      case 'vm.making':
        return [] as never;
      default:
        this.unexpected.add(method);
        throw new FlotillaError('UNSUPPORTED', `the tiles bench fixture does not do ${method}`);
    }
  }

  onEvent(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  startStats(): void {
    this.timer = setInterval(() => {
      const t = Date.now();
      this.tick++;
      const samples = this.vms.map((vm, i) => ({ host: 'local', id: vm.id, t, cpuPercent: (Math.sin(this.tick / 3 + i) + 1) * 40, rssBytes: (200 + ((this.tick + i) % 50)) * 1024 * 1024 }));
      for (const l of [...this.listeners]) l('vm.statsBatch', { samples });
    }, 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** The Chromium flags the e2e suite uses, read from playwright.config.ts so both stay one list. */
export function chromiumArgs(root: string): string[] {
  const src = readFileSync(join(root, 'playwright.config.ts'), 'utf8');
  const m = /CHROMIUM_ARGS\s*=\s*\[([\s\S]*?)\]/.exec(src);
  if (!m) throw new Error('playwright.config.ts no longer declares CHROMIUM_ARGS = [...]');
  return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
}

export interface LoafSummary {
  /** Long Animation Frames (Chromium reports frames over 50 ms) */
  count: number;
  totalMs: number;
  maxMs: number;
  /** the part of them that blocked input (LoAF blockingDuration) */
  blockingMs: number;
}

export interface TilesWindow {
  /** rAF-to-rAF intervals, ms (vsync-paced: never below 16.7) */
  intervals: number[];
  /** main-thread cost of each frame, from the trace */
  frames: FrameCost[];
  /** in frames over one vsync of work: main-thread self time by trace event, ms */
  overBudgetSelfMs: Record<string, number>;
  longTasks: number;
  longTaskMs: number;
  loaf: LoafSummary | 'unsupported';
  /** renderer main-thread ms per wall second, by kind (DevTools Performance.getMetrics) */
  mainThread: { taskMsPerS: number; scriptMsPerS: number; layoutAndStyleMsPerS: number };
}

export interface TilesResult {
  withStats: TilesWindow;
  /** the same 100 tiles with no stats arriving (control) */
  noStats: TilesWindow;
  tilesShown: number;
  unexpectedCalls: string[];
}

interface CdpSession {
  send(method: string, params?: object): Promise<unknown>;
}
interface PwPage {
  context(): { newCDPSession(page: PwPage): Promise<CdpSession> };
  goto(url: string): Promise<unknown>;
  waitForFunction(fn: string, arg?: unknown, opts?: { timeout?: number }): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
}
interface PwBrowser {
  newPage(opts: { viewport: { width: number; height: number }; bypassCSP?: boolean }): Promise<PwPage>;
  startTracing(page: PwPage, opts: { categories: string[] }): Promise<void>;
  stopTracing(): Promise<Buffer>;
  close(): Promise<void>;
}

// only what frameCosts reads: top-level tasks and each frame's rendering step
const TRACE_CATEGORIES = ['toplevel', 'devtools.timeline'];

export async function benchTiles(
  root: string,
  opts: { vms?: number; seconds?: number; idleSeconds?: number; extraArgs?: string[]; rendererDir?: string } = {},
): Promise<TilesResult> {
  const n = opts.vms ?? 100;
  const seconds = opts.seconds ?? 10;
  // Playwright is loaded at run time from node_modules, not bundled into the bench
  const load = createRequire(join(root, 'package.json'));
  const { chromium } = load('@playwright/test') as { chromium: { launch(o: { executablePath: string; args: string[] }): Promise<PwBrowser> } };
  const handler = new HundredVms(n);
  const server = await startHeadless({ handler, rendererDir: opts.rendererDir ?? join(root, 'dist', 'renderer') });
  const browser = await chromium.launch({ executablePath: process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium', args: [...chromiumArgs(root), ...(opts.extraArgs ?? [])] });
  try {
    // the in-page probes are strings Playwright evaluates; the renderer's CSP (no unsafe-eval)
    // would refuse them. Bypassing CSP changes nothing the renderer does per frame.
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    await page.goto(server.url);
    const last = handler.vms[n - 1]!.name;
    await page.waitForFunction(`document.body.textContent.includes(${JSON.stringify(last)})`, undefined, { timeout: 60_000 });
    // rAF intervals, long tasks and long animation frames over a window, measured in the page
    const probe = (ms: number) =>
      page.evaluate<{ intervals: number[]; longTasks: number; longTaskMs: number; loaf: LoafSummary | 'unsupported'; tiles: number }>(`new Promise((resolve) => {
        const intervals = [];
        let longTasks = 0, longTaskMs = 0;
        const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { longTasks++; longTaskMs += e.duration; } });
        try { obs.observe({ entryTypes: ['longtask'] }); } catch {}
        const loaf = { count: 0, totalMs: 0, maxMs: 0, blockingMs: 0 };
        const lobs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { loaf.count++; loaf.totalMs += e.duration; loaf.maxMs = Math.max(loaf.maxMs, e.duration); loaf.blockingMs += e.blockingDuration ?? 0; } });
        const loafOk = PerformanceObserver.supportedEntryTypes.includes('long-animation-frame');
        if (loafOk) lobs.observe({ type: 'long-animation-frame' });
        let prev = 0;
        const end = performance.now() + ${ms};
        const step = (ts) => {
          if (prev) intervals.push(ts - prev);
          prev = ts;
          if (ts < end) requestAnimationFrame(step);
          else { obs.disconnect(); lobs.disconnect(); resolve({ intervals, longTasks, longTaskMs, loaf: loafOk ? loaf : 'unsupported', tiles: document.querySelectorAll('[data-vm-id], article').length }); }
        };
        requestAnimationFrame(step);
      })`);
    // the renderer's main-thread time by kind (DevTools Performance domain), per window
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async (): Promise<Record<string, number>> => {
      const m = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
      return Object.fromEntries(m.metrics.map((x) => [x.name, x.value]));
    };
    const busy = (a: Record<string, number>, b: Record<string, number>, wallMs: number) => {
      const d = (k: string) => ((b[k] ?? 0) - (a[k] ?? 0)) * 1000;
      return { taskMsPerS: (d('TaskDuration') / wallMs) * 1000, scriptMsPerS: (d('ScriptDuration') / wallMs) * 1000, layoutAndStyleMsPerS: ((d('LayoutDuration') + d('RecalcStyleDuration')) / wallMs) * 1000 };
    };
    let tiles = 0;
    const window = async (ms: number): Promise<TilesWindow> => {
      const m0 = await metrics();
      const t0 = performance.now();
      await browser.startTracing(page, { categories: TRACE_CATEGORIES });
      const r = await probe(ms);
      const trace = JSON.parse((await browser.stopTracing()).toString('utf8')) as { traceEvents?: TraceEvent[] } | TraceEvent[];
      const events = Array.isArray(trace) ? trace : (trace.traceEvents ?? []);
      const frames = frameCosts(events);
      const mainThread = busy(m0, await metrics(), performance.now() - t0);
      tiles = r.tiles;
      return { intervals: r.intervals, frames, overBudgetSelfMs: selfTimeOver(events, frames, VSYNC_MS), longTasks: r.longTasks, longTaskMs: r.longTaskMs, loaf: r.loaf, mainThread };
    };
    // control: the same 100 tiles with no stats arriving, so the stats' own cost can be told apart
    await new Promise((r) => setTimeout(r, 1000));
    const noStats = await window((opts.idleSeconds ?? 4) * 1000);
    handler.startStats();
    await new Promise((r) => setTimeout(r, 2500)); // a couple of bursts before the clock starts
    const withStats = await window(seconds * 1000);
    return { withStats, noStats, tilesShown: tiles, unexpectedCalls: [...handler.unexpected] };
  } finally {
    handler.stop();
    await browser.close();
    await server.close();
  }
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

/** Plain (per-frame) distribution of a list, for the details. */
function spread(values: readonly number[]): { n: number; p50: number; p95: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: round(quantile(s, 0.5), 2), p95: round(quantile(s, 0.95), 2), p99: round(quantile(s, 0.99), 2), max: round(s[s.length - 1] ?? 0, 2) };
}

/** Split frames into consecutive windows of `seconds` by trace time (the last takes the rest). */
function windowsOf(frames: readonly FrameCost[], seconds: number, count: number): FrameCost[][] {
  const t0 = frames[0]?.endMs ?? 0;
  const out: FrameCost[][] = Array.from({ length: count }, () => []);
  for (const f of frames) out[Math.min(count - 1, Math.floor((f.endMs - t0) / (seconds * 1000)))]!.push(f);
  return out.filter((w) => w.length > 0);
}

function windowDetail(w: TilesWindow): Record<string, unknown> {
  const work = w.frames.map((f) => f.workMs);
  return {
    frameWorkMs: { p95OverRefreshes: round(refreshQuantile(w.frames, 0.95), 2), p99OverRefreshes: round(refreshQuantile(w.frames, 0.99), 2), perFrame: spread(work) },
    frameCpuMs: { p95OverRefreshes: round(refreshQuantile(w.frames, 0.95, (f) => f.cpuMs), 2), p99OverRefreshes: round(refreshQuantile(w.frames, 0.99, (f) => f.cpuMs), 2), perFrame: spread(w.frames.map((f) => f.cpuMs)) },
    framesOverBudget: w.frames.filter((f) => f.workMs > VSYNC_MS).length,
    overBudgetSelfMs: w.overBudgetSelfMs,
    rafIntervalMs: { ...spread(w.intervals), fps: round(w.intervals.length / (w.intervals.reduce((a, b) => a + b, 0) / 1000 || 1), 1), over1_5Vsyncs: w.intervals.filter((f) => f > VSYNC_MS * 1.5).length },
    longTasks: { count: w.longTasks, totalMs: round(w.longTaskMs, 0) },
    longAnimationFrames: w.loaf === 'unsupported' ? w.loaf : { count: w.loaf.count, totalMs: round(w.loaf.totalMs, 0), maxMs: round(w.loaf.maxMs, 0), blockingMs: round(w.loaf.blockingMs, 0) },
    mainThreadMsPerSecond: Object.fromEntries(Object.entries(w.mainThread).map(([k, v]) => [k, round(v, 1)])),
  };
}

/** The tiles100P95FrameMs / tiles500P95FrameMs figure: one run = p95 frame cost over the 60 Hz refreshes of one window. */
export function tilesFigure(r: TilesResult, seconds: number, windows: number, key: 'tiles100P95FrameMs' | 'tiles500P95FrameMs' = 'tiles100P95FrameMs'): Figure {
  const runs = windowsOf(r.withStats.frames, seconds, windows).map((w) => refreshQuantile(w, 0.95));
  return figure(
    key,
    runs.length ? runs : [Number.NaN],
    `a ${seconds} s window (${windows} consecutive) with stats arriving; run = p95, over the window's 60 Hz refreshes, of the main-thread work of the frame each refresh waited for (Chromium trace)`,
    {
      withStats: windowDetail(r.withStats),
      controlNoStats: windowDetail(r.noStats),
      tilesInDom: r.tilesShown,
      unexpectedCalls: r.unexpectedCalls,
    },
    r.withStats.frames.length > 0,
  );
}
