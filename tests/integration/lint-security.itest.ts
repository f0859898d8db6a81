// The Electronegativity gate (npm run lint:security) does fail on an insecure window
// (Electronegativity itself always exits 0), and on a file it could not parse, which would
// otherwise go unchecked. That it is green on our own sources is reliability check 18.
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
  it('fails on a file it cannot parse, naming it, rather than passing it unchecked', () => {
    const app = join(tmp, 'broken');
    mkdirSync(app);
    writeFileSync(join(app, 'main.ts'), 'const w = {{{ ;\n');
    const r = gate([app]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/could not parse[\s\S]*broken\/main\.ts/);
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
