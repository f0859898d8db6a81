// Shared bits of the Playwright specs: run the built CLI, and start `flotilla serve --json`
// on a throwaway data directory.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { workerPortRange } from '../tests/integration/fixtures/port-range';

export const ROOT = join(__dirname, '..');

// Spec files run two at a time (playwright.config.ts). The engines a worker starts (serve, and
// one-shot CLI commands, which inherit this environment) take host ports from that worker's half
// of the port range, as the integration tests' workers do (tests/integration/fixtures/worker-env.ts),
// so two files' VMs never race for one free port. A range set from outside is kept.
// (TEST_PARALLEL_INDEX counts from 0, vitest's pool ids from 1)
process.env.FLOTILLA_PORT_RANGE ??= workerPortRange(Number(process.env.TEST_PARALLEL_INDEX ?? '0') + 1);
/** The built CLI; FLOTILLA_CLI points the specs at another build (e.g. an installed one). */
export const CLI = process.env.FLOTILLA_CLI ?? join(ROOT, 'dist', 'cli', 'flotilla.js');

/** Why the built app is not usable for an e2e run, or null when it is. */
export function missingBuild(): string | null {
  for (const p of ['dist/cli/flotilla.js', 'dist/renderer/index.html']) {
    if (!existsSync(join(ROOT, p))) return `${p} is missing: run \`npm run build\` first`;
  }
  return null;
}

export function tempHome(): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'flotilla-e2e-'));
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

export function cli(home: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, FLOTILLA_HOME: home }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Serve {
  url: string;
  token: string;
  port: number;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<number | null>;
  /** kill -9, on purpose (not reported as serve ending by itself) */
  kill(): Promise<void>;
}

/**
 * Start `flotilla serve --json` on a data directory and read its first stdout line.
 * FLOTILLA_E2E_CLI may point at another build of the CLI entry; by default dist/cli/flotilla.js.
 * Like the integration tests it forces TCG unless FLOTILLA_ACCEL says otherwise (test machines
 * may expose a /dev/kvm that fails at run time).
 */
/** `env`: more environment for serve (e.g. a HOME of its own, for the ~/.ssh files it writes). */
export async function startServe(home: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Serve> {
  const entry = process.env.FLOTILLA_E2E_CLI ?? CLI;
  const child = spawn(process.execPath, [entry, 'serve', '--json', '--no-build-default', ...extra], {
    env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: process.env.FLOTILLA_ACCEL ?? 'tcg', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`flotilla serve exited (${code}) before printing its URL:\n${err}`)));
  });
  const info = JSON.parse(first) as { url: string; token: string; port: number };
  // A serve that dies under a test would otherwise show only as "connection lost" in the page:
  // say how it ended and what it last wrote, in the runner's output (the CI log keeps it).
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`flotilla serve (pid ${child.pid}) ended by itself: code ${code}, signal ${signal}; its stderr:\n${err.slice(-8000)}`);
  });
  return {
    ...info,
    child,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        stopping = true;
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
    kill: () =>
      new Promise((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** The Electron binary electron's installer left behind, or why there is none. Never downloads. */
export function findElectronBinary(): { bin: string } | { why: string } {
  const pkg = join(ROOT, 'node_modules', 'electron');
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const pathFile = join(pkg, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  if (!override && !rel) return { why: 'no Electron binary: node_modules/electron/path.txt is missing (the binary download never ran; offline install)' };
  const bin = join(override || join(pkg, 'dist'), rel || 'electron');
  if (!existsSync(bin)) return { why: `no Electron binary at ${bin}` };
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { why: 'no display (DISPLAY/WAYLAND_DISPLAY unset) for Electron' };
  return { bin };
}
