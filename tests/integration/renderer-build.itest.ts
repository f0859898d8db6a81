// The renderer is always built as React's production build, whoever runs the build: a build
// started from inside a test run (vitest sets NODE_ENV=test, and Vite follows the caller's
// NODE_ENV) used to produce React's development build, which the packaging test then packed
// and the benches measured (~3x the script time per frame).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
let out = '';

describe('renderer build', () => {
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('is React production code even when the caller runs with NODE_ENV=test', async () => {
    out = await mkdtemp(join(tmpdir(), 'fl-renderer-'));
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), 'renderer'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'test', FLOTILLA_RENDERER_OUT: out },
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const assets = join(out, 'assets');
    const js = (await readdir(assets)).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const code = (await Promise.all(js.map((f) => readFile(join(assets, f), 'utf8')))).join('\n');
    // production React links its minified errors to react.dev; the development build calls jsxDEV
    expect(code).toContain('react.dev/errors');
    expect(code).not.toContain('jsxDEV');
  }, 120_000);
});
