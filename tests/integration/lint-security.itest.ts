// The Electronegativity gate (npm run lint:security): green on our Electron sources, and it
// does fail on an insecure window (Electronegativity itself always exits 0).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const gate = (args: string[]) => spawnSync(process.execPath, [join(root, 'scripts', 'lint-security.mjs'), ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
const tmp = mkdtempSync(join(tmpdir(), 'flotilla-eng-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('lint:security', () => {
  it('passes on electron/ and renderer/', () => {
    const r = gate([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 gated/);
  });

  it('fails on a window without context isolation or sandbox, naming the findings', () => {
    const app = join(tmp, 'electron');
    mkdirSync(app);
    writeFileSync(
      join(app, 'main.js'),
      "const { BrowserWindow } = require('electron');\nconst w = new BrowserWindow({ webPreferences: { contextIsolation: false, sandbox: false } });\nw.loadURL('http://example.com');\n",
    );
    const r = gate([app]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/HIGH\/FIRM CONTEXT_ISOLATION_JS_CHECK electron\/main\.js:2/);
    expect(r.stderr).toMatch(/SANDBOX_JS_CHECK/);
  });
});
