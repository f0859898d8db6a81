// The renderer under load: the built renderer (dist/renderer) in Chromium, served by the real
// headless server, with a stand-in engine behind the real WebSocket protocol that reports 100
// running VMs and sends each one a vm.stats event every second, in one burst per second like
// the engine's sampler. The unit under benchmark is the renderer, so the engine is a fixture.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { CallContext, ContractHandler, EventName, EventPayloads, VmInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { startHeadless } from '../../electron/headless/server';
import { fakeVm } from '../../electron/headless/testing/fake-handler';

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
      // visible tiles of display-less VMs preview their console: idle guests, a prompt each
      case 'console.subscribe':
        return { scrollback: `FLOTILLA-READY ${p.id ?? ''} 6.1.0\r\n~ # ` } as never;
      case 'console.unsubscribe':
        return { ok: true } as never;
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
      for (const [i, vm] of this.vms.entries()) {
        const payload = { id: vm.id, t, cpuPercent: (Math.sin(this.tick / 3 + i) + 1) * 40, rssBytes: (200 + ((this.tick + i) % 50)) * 1024 * 1024 };
        for (const l of [...this.listeners]) l('vm.stats', payload);
      }
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

export interface TilesResult {
  /** rAF-to-rAF intervals, ms, with stats arriving */
  frames: number[];
  /** the same with no stats (control) */
  idleFrames: number[];
  /** renderer main-thread ms per wall second, by kind */
  mainThread: Record<'noStats' | 'withStats', { taskMsPerS: number; scriptMsPerS: number; layoutAndStyleMsPerS: number }>;
  longTasks: number;
  longTaskMs: number;
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
  close(): Promise<void>;
}

export async function benchTiles(root: string, opts: { vms?: number; seconds?: number; idleSeconds?: number; extraArgs?: string[] } = {}): Promise<TilesResult> {
  const n = opts.vms ?? 100;
  const seconds = opts.seconds ?? 10;
  // Playwright is loaded at run time from node_modules, not bundled into the bench
  const load = createRequire(join(root, 'package.json'));
  const { chromium } = load('@playwright/test') as { chromium: { launch(o: { executablePath: string; args: string[] }): Promise<PwBrowser> } };
  const handler = new HundredVms(n);
  const server = await startHeadless({ handler, rendererDir: join(root, 'dist', 'renderer') });
  const browser = await chromium.launch({ executablePath: process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium', args: [...chromiumArgs(root), ...(opts.extraArgs ?? [])] });
  try {
    // the in-page probes are strings Playwright evaluates; the renderer's CSP (no unsafe-eval)
    // would refuse them. Bypassing CSP changes nothing the renderer does per frame.
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    await page.goto(server.url);
    const last = handler.vms[n - 1]!.name;
    await page.waitForFunction(`document.body.innerText.includes(${JSON.stringify(last)})`, undefined, { timeout: 60_000 });
    // rAF intervals (and long tasks) over a window, measured in the page
    const measure = (ms: number) =>
      page.evaluate<{ frames: number[]; longTasks: number; longTaskMs: number; tiles: number }>(`new Promise((resolve) => {
        const frames = [];
        let longTasks = 0, longTaskMs = 0;
        const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) { longTasks++; longTaskMs += e.duration; } });
        try { obs.observe({ entryTypes: ['longtask'] }); } catch {}
        let prev = 0;
        const end = performance.now() + ${ms};
        const step = (ts) => {
          if (prev) frames.push(ts - prev);
          prev = ts;
          if (ts < end) requestAnimationFrame(step);
          else { obs.disconnect(); resolve({ frames, longTasks, longTaskMs, tiles: document.querySelectorAll('[data-vm-id], article').length }); }
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
    // control: the same 100 tiles with no stats arriving, so the stats' own cost can be told apart
    await new Promise((r) => setTimeout(r, 1000));
    const m0 = await metrics();
    const i0 = performance.now();
    const idle = await measure((opts.idleSeconds ?? 4) * 1000);
    const idleBusy = busy(m0, await metrics(), performance.now() - i0);
    handler.startStats();
    await new Promise((r) => setTimeout(r, 2500)); // a couple of bursts before the clock starts
    const m1 = await metrics();
    const s0 = performance.now();
    const r = await measure(seconds * 1000);
    const statsBusy = busy(m1, await metrics(), performance.now() - s0);
    return { frames: r.frames, idleFrames: idle.frames, mainThread: { noStats: idleBusy, withStats: statsBusy }, longTasks: r.longTasks, longTaskMs: r.longTaskMs, tilesShown: r.tiles, unexpectedCalls: [...handler.unexpected] };
  } finally {
    handler.stop();
    await browser.close();
    await server.close();
  }
}
