// Check 18: the Electronegativity gate from issue 4 (npm run lint:security) stays green:
// no HIGH or MEDIUM finding at FIRM or CERTAIN confidence in electron/ and renderer/.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportFigure } from './fixtures/figures';

const ROOT = resolve(__dirname, '../..');

describe('check 18: the Electronegativity gate', () => {
  it('passes on electron/ and renderer/', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'lint-security.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
    const summary = /(\d+) finding\(s\), (\d+) gated/.exec(r.stdout);
    console.log(`[reliability] check 18: ${r.stdout.split('\n').find((l) => l.includes('finding(s)')) ?? r.stdout.slice(0, 200)}`);
    expect(r.status, r.stderr).toBe(0);
    expect(summary).not.toBeNull();
    reportFigure({ check: 18, title: 'Electronegativity gate', load: 'electron/ + renderer/', faults: 0, badInputs: Number(summary![1]), lost: Number(summary![2]) });
    expect(Number(summary![2])).toBe(0);
  });
});
