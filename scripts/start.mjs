#!/usr/bin/env node
// `npm start`: build if dist/ is missing or older than the sources, then launch Electron.
// When Electron cannot start (no binary: offline install, or no display), say why and fall
// back to headless mode (`flotilla serve`), opening the URL in the default browser when a
// display exists, else printing it. Never triggers Electron's binary download.
// Extra arguments go to `flotilla serve` in headless mode: `npm start -- --port 8080`.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUTS = ['dist/electron/main.js', 'dist/electron/preload.js', 'dist/cli/flotilla.js', 'dist/renderer/index.html'].map((p) => join(root, p));
const SOURCES = ['electron', 'shared', 'renderer', 'assets/guest', 'scripts/build.mjs', 'vite.config.mts', 'package.json'].map((p) => join(root, p));
const hasDisplay = () => Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const say = (msg) => console.error(`[start] ${msg}`);

function newestMtime(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return /\.(test|itest)\.tsx?$/.test(p) ? 0 : st.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(p)) if (name !== 'node_modules') newest = Math.max(newest, newestMtime(join(p, name)));
  return newest;
}

function buildIfNeeded() {
  const missing = OUTPUTS.filter((p) => !existsSync(p));
  const oldestOut = missing.length ? 0 : Math.min(...OUTPUTS.map((p) => statSync(p).mtimeMs));
  const newestSrc = Math.max(...SOURCES.map(newestMtime));
  if (missing.length === 0 && oldestOut >= newestSrc) return;
  say(missing.length ? `building (missing ${missing.map((p) => p.slice(root.length + 1)).join(', ')})` : 'building (sources changed since the last build)');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

/** The Electron binary's path, or why there is none. Reads what electron's installer left; never downloads. */
export function findElectron(base = root, env = process.env) {
  const pkgDir = join(base, 'node_modules', 'electron');
  if (!existsSync(join(pkgDir, 'package.json'))) return { ok: false, why: 'the electron package is not installed' };
  const pathFile = join(pkgDir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const distDir = env.ELECTRON_OVERRIDE_DIST_PATH || join(pkgDir, 'dist');
  const bin = join(distDir, rel || 'electron');
  if (!env.ELECTRON_OVERRIDE_DIST_PATH && !rel) return { ok: false, why: 'the Electron binary was never downloaded (node_modules/electron/path.txt is missing; offline install?)' };
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return { ok: false, why: `the Electron binary is missing or not executable: ${bin}` };
  }
  return { ok: true, bin };
}

function runElectron(bin) {
  say(`launching Electron (${bin})`);
  const child = spawn(bin, [root], { stdio: 'inherit', cwd: root, detached: true });
  forwardSignals(child);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

// Children run in their own process group (detached), so a terminal's Ctrl-C reaches only
// us and is forwarded exactly once; a second delivery would cut serve's orderly shutdown short.
function forwardSignals(child) {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  process.on('exit', () => child.exitCode === null && child.kill('SIGTERM'));
}

function runHeadless(why, extraArgs) {
  say(`Electron cannot start here: ${why}.`);
  say('Falling back to headless mode: the same app in your browser, served on 127.0.0.1.');
  const child = spawn(process.execPath, [join(root, 'dist/cli/flotilla.js'), 'serve', '--json', ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root, detached: true });
  forwardSignals(child);
  const lines = createInterface({ input: child.stdout });
  let first = true;
  lines.on('line', (line) => {
    if (!first) return void console.log(line);
    first = false;
    let url;
    try {
      url = JSON.parse(line).url;
    } catch {
      console.log(line);
      return;
    }
    if (hasDisplay()) {
      say(`opening ${url.replace(/#token=.*/, '#token=…')} in your browser`);
      const opener = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
      opener.on('error', () => console.log(`Open this URL in your browser:\n  ${url}`));
      opener.unref();
    } else {
      console.log(`No display found. Open this URL in a browser on this machine:\n  ${url}`);
    }
    console.log('Stop with Ctrl-C (running VMs keep running; they are picked up next time).');
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildIfNeeded();
  const extraArgs = process.argv.slice(2);
  const electron = findElectron();
  if (!electron.ok) runHeadless(electron.why, extraArgs);
  else if (!hasDisplay()) runHeadless('no display (DISPLAY and WAYLAND_DISPLAY are unset)', extraArgs);
  else runElectron(electron.bin);
}
