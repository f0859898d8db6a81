// Round two's figures about scale and load (issue 15): a CPU hog for the loaded runs, and with 16
// running built-in VMs behind a real `flotilla serve` (built renderer): the CLI's `list --json`
// wall time, a browser's navigation → first tile painted, and the engine's idle CPU with one
// browser on the grid. Each figure has its reference measured beside it in the same run.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ChannelClient } from '../../shared/rpc';
import { cpuMs } from './boot-breakdown';
import type { EngineProcess } from './engine-process';
import { chromiumArgs } from './tiles-bench';

/**
 * One busy process per core: the host at its worst. Each in a session of its own, like a program
 * the user runs elsewhere (autogroup scheduling shares the CPU per session: hogs inside the bench's
 * session would only compete with whatever else is in it). Stop it before measuring anything else.
 */
export function startCpuHog(n = cpus().length): { stop: () => Promise<void> } {
  const hogs: ChildProcess[] = [];
  for (let i = 0; i < n; i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: true }));
  return {
    stop: async () => {
      await Promise.all(
        hogs.map(
          (h) =>
            new Promise<void>((resolve) => {
              if (h.exitCode !== null || h.signalCode !== null) return resolve();
              h.once('exit', () => resolve());
              h.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}

/** Runs `f` with a CPU hog on every core. */
export async function underCpuHog<T>(f: () => Promise<T>): Promise<T> {
  const hog = startCpuHog();
  try {
    return await f();
  } finally {
    await hog.stop();
  }
}

/** Wall time of one process run to its exit (ms). */
function timedRun(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, out, err }));
  });
}

/**
 * `flotilla list --json` against the running engine, alternating with the reference: a bare
 * `node -e 0` (what any Node CLI pays before its first line of code).
 */
export async function cliList(root: string, home: string, runs: number, vms: number): Promise<{ cliMs: number[]; nodeMs: number[] }> {
  const env = { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' };
  const cli = join(root, 'dist', 'cli', 'flotilla.js');
  const cliMs: number[] = [];
  const nodeMs: number[] = [];
  await timedRun(process.execPath, [cli, 'list', '--json'], env); // warm the page cache
  for (let i = 0; i < runs; i++) {
    const r = await timedRun(process.execPath, [cli, 'list', '--json'], env);
    if (r.code !== 0) throw new Error(`flotilla list --json exited ${r.code}: ${r.err.trim()}`);
    const listed = (JSON.parse(r.out) as unknown[]).length;
    if (listed !== vms) throw new Error(`flotilla list --json listed ${listed} VMs, expected ${vms}`);
    cliMs.push(r.ms);
    nodeMs.push((await timedRun(process.execPath, ['-e', '0'], env)).ms);
  }
  return { cliMs, nodeMs };
}

interface PwPage {
  goto(url: string): Promise<unknown>;
  waitForFunction(fn: string, arg?: unknown, o?: { timeout: number }): Promise<unknown>;
  evaluate<T>(fn: string): Promise<T>;
  addInitScript(script: string): Promise<void>;
  close(): Promise<void>;
}
type PageOptions = { viewport: { width: number; height: number }; bypassCSP?: boolean };
interface PwContext {
  newPage(): Promise<PwPage>;
  close(): Promise<void>;
}
interface PwBrowser {
  newPage(o: PageOptions): Promise<PwPage>;
  newContext(o: PageOptions): Promise<PwContext>;
  close(): Promise<void>;
}

export async function launchChromium(root: string): Promise<PwBrowser> {
  const load = createRequire(join(root, 'package.json'));
  const { chromium } = load('@playwright/test') as { chromium: { launch(o: { executablePath: string; args: string[] }): Promise<PwBrowser> } };
  return chromium.launch({ executablePath: process.env.FLOTILLA_CHROMIUM ?? '/usr/bin/chromium', args: chromiumArgs(root) });
}

/**
 * In the page from its first moment: the time the first tile ([data-vm-id]) is in the DOM, then
 * painted (the next animation frame has run and its frame was produced: a second rAF).
 */
const FIRST_TILE_PROBE = `(() => {
  window.__firstTile = new Promise((resolve) => {
    const found = () => {
      if (!document.querySelector('[data-vm-id]')) return false;
      const inDom = performance.now();
      requestAnimationFrame(() => requestAnimationFrame(() => resolve({ inDom, painted: performance.now() })));
      return true;
    };
    const start = () => {
      if (found()) return;
      const obs = new MutationObserver(() => { if (found()) obs.disconnect(); });
      obs.observe(document, { childList: true, subtree: true });
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
  });
})();`;

/**
 * Navigation → first tile painted (performance.now() is measured from the navigation's start);
 * beside it the page's first contentful paint (the app shell) as the reference for what any page
 * of this size costs here. Each run opens a tab in one browser context that a warm-up tab loaded
 * first, so the HTTP cache is warm as a returning user's is (the definition the README gives);
 * and, alternating with it, a tab in a fresh context with an empty cache, which is what this
 * function measured before 2026-12-05 (Playwright's browser.newPage() makes a new context every
 * time, so the old warm-up warmed nothing): kept beside it as `coldTileMs`.
 */
export async function firstTile(
  root: string,
  url: string,
  runs: number,
): Promise<{ tileMs: number[]; inDomMs: number[]; fcpMs: number[]; coldTileMs: number[] }> {
  const browser = await launchChromium(root);
  const out = { tileMs: [] as number[], inDomMs: [] as number[], fcpMs: [] as number[], coldTileMs: [] as number[] };
  const opts = { viewport: { width: 1280, height: 800 }, bypassCSP: true };
  const load = async (ctx: PwContext): Promise<{ inDom: number; painted: number; fcp: number }> => {
    const page = await ctx.newPage();
    try {
      await page.addInitScript(FIRST_TILE_PROBE);
      await page.goto(url);
      await page.waitForFunction('window.__firstTile', undefined, { timeout: 60_000 });
      return await page.evaluate<{ inDom: number; painted: number; fcp: number }>(
        `window.__firstTile.then((t) => ({ ...t, fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN }))`,
      );
    } finally {
      await page.close();
    }
  };
  try {
    const warm = await browser.newContext(opts);
    await load(warm); // warm-up: fills this context's HTTP cache and compiles the bundle
    for (let i = 0; i < runs; i++) {
      const r = await load(warm);
      out.tileMs.push(r.painted);
      out.inDomMs.push(r.inDom);
      out.fcpMs.push(r.fcp);
      const cold = await browser.newContext(opts);
      try {
        out.coldTileMs.push((await load(cold)).painted);
      } finally {
        await cold.close();
      }
    }
    await warm.close();
  } finally {
    await browser.close();
  }
  return out;
}

/**
 * The engine's CPU (% of one core) over `windows` consecutive windows of `windowS` seconds with
 * one browser tab on the grid (thumbnails and stats on, as a user leaves it), then one window
 * with no client at all: what the browser's subscriptions cost the engine.
 */
export async function engineIdleCpu(root: string, engine: EngineProcess, url: string, windows: number, windowS: number): Promise<{ withClientPct: number[]; noClientPct: number; tilesShown: number }> {
  const pct = async (): Promise<number> => {
    const c0 = cpuMs(engine.pid) ?? NaN;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowS * 1000));
    return (((cpuMs(engine.pid) ?? NaN) - c0) / (performance.now() - t0)) * 100;
  };
  const browser = await launchChromium(root);
  const withClientPct: number[] = [];
  const tilesShown = await (async () => {
    try {
      // bypassCSP: the served app's policy refuses eval, which waitForFunction(string) uses
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
      await page.goto(url);
      await page.waitForFunction("document.querySelectorAll('[data-vm-id]').length > 0", undefined, { timeout: 60_000 });
      await new Promise((r) => setTimeout(r, 5000)); // subscriptions made, first thumbnails and stats sent
      const shown = await page.evaluate<number>("document.querySelectorAll('[data-vm-id]').length");
      for (let i = 0; i < windows; i++) withClientPct.push(await pct());
      return shown;
    } finally {
      await browser.close();
    }
  })();
  await new Promise((r) => setTimeout(r, 2000));
  return { withClientPct, noClientPct: await pct(), tilesShown };
}

/** Starts every VM (agent ready) and waits until each has been idle a moment. */
export async function startAll(api: ChannelClient, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => api.invoke('vm.start', { id, waitAgent: true })));
  await new Promise((r) => setTimeout(r, 5000));
}
