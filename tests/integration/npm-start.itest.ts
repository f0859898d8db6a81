// `npm start` on a machine without an Electron binary or display (like CI and our dev boxes):
// it explains why Electron cannot start, falls back to headless mode and prints a working URL;
// Ctrl-C stops it cleanly.
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupHome, makeHome } from './fixtures/engine-harness';

const root = join(__dirname, '..', '..');
let home: string;

beforeAll(async () => {
  home = await makeHome(false);
});
afterAll(async () => {
  if (home) await cleanupHome(home);
});

describe('npm start without Electron', () => {
  it('falls back to headless mode, says why, and prints a URL that serves the app', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, FLOTILLA_HOME: home };
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    const child = spawn(process.execPath, [join(root, 'scripts', 'start.mjs'), '--no-build-default'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.on('line', (l) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64})/.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`npm start exited (${code}) without a URL:\n${stderr}`)));
    });
    expect(stderr).toMatch(/Electron cannot start here: .*(binary|display)/);
    expect(stderr).toMatch(/Falling back to headless mode/);
    const status = await new Promise<number>((resolve, reject) => get(url.replace(/#.*/, ''), (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject));
    expect(status).toBe(200);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
  });
});
