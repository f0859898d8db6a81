#!/usr/bin/env node
// One build: main process, preload, CLI (which also carries `serve`), benches with esbuild;
// the renderer with Vite. Output in dist/.
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
const want = (part) => only.length === 0 || only.includes(part);
const t0 = Date.now();

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  absWorkingDir: root,
  // electron is provided by the runtime; ws's optional native speedups are not used
  external: ['electron', 'bufferutil', 'utf-8-validate'],
};

if (want('node')) {
  rmSync(join(root, 'dist/electron'), { recursive: true, force: true });
  rmSync(join(root, 'dist/cli'), { recursive: true, force: true });
  const entries = [
    ['electron/main.ts', 'dist/electron/main.js'],
    ['electron/preload.ts', 'dist/electron/preload.js'],
    ['electron/cli/flotilla.ts', 'dist/cli/flotilla.js'],
  ].filter(([src]) => existsSync(join(root, src)));
  await Promise.all(entries.map(([src, out]) => esbuild({ ...common, entryPoints: [src], outfile: out })));
  const benchDir = join(root, 'bench');
  if (existsSync(benchDir)) {
    const benches = readdirSync(benchDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    if (benches.length) await esbuild({ ...common, entryPoints: benches.map((f) => `bench/${f}`), outdir: 'dist/bench' });
  }
}

if (want('renderer')) {
  // Always React's production build. Vite takes NODE_ENV from the caller when it is set, and a
  // build started from a test (vitest sets NODE_ENV=test) came out as React's development build:
  // 1.8x the size and ~3x the renderer's script time per frame (the tiles bench read 20 ms, not 8.6).
  process.env.NODE_ENV = 'production';
  // FLOTILLA_RENDERER_OUT: build somewhere else (a test checks the build without racing dist/)
  const outDir = process.env.FLOTILLA_RENDERER_OUT;
  await viteBuild({
    configFile: join(root, 'vite.config.mts'),
    logLevel: 'warn',
    mode: 'production',
    ...(outDir ? { build: { outDir, emptyOutDir: true } } : {}),
  });
}

console.log(`built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
