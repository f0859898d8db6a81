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
  await viteBuild({ configFile: join(root, 'vite.config.mts'), logLevel: 'warn' });
}

console.log(`built in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
