#!/usr/bin/env node
// `npm run bench`: builds when dist/ is missing or older than the sources, then runs the
// bundled bench (dist/bench/run-all.js, from bench/run-all.ts), which writes
// bench/results/latest.json and latest.md. Not a test: nothing here is asserted.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = ['dist/bench/run-all.js', 'dist/bench/boot.js', 'dist/cli/flotilla.js', 'dist/renderer/index.html'].map((p) => join(root, p));
const sourceDirs = ['bench', 'electron', 'shared', 'renderer', 'assets/guest', 'tests/integration/fixtures'].map((p) => join(root, p));

/** Newest mtime of any file under dir (node_modules and results excluded). */
function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'results') continue;
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const built = outputs.every(existsSync) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : 0;
const stale = built === 0 || Math.max(...sourceDirs.map(newest)) > built;
if (stale && process.env.BENCH_NO_BUILD !== '1') {
  console.log('bench: dist/ is missing or older than the sources; running npm run build');
  const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const r = spawnSync(process.execPath, [join(root, 'dist/bench/run-all.js')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
