// The layering rule must actually fail on violations (and pass on clean code).
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportErrors(filePath: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath });
  return (res?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

// The first lint loads the whole ESLint config (typescript-eslint, plugins): seconds on a busy
// 2-core box, over vitest's 5 s default. The cost is start-up, not the rule, so the budget is wide.
describe('layering lint rule', { timeout: 60_000 }, () => {
  const cases: [string, string, string][] = [
    ['shared/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n", 'Node built-ins'],
    ['shared/x.ts', "import { Engine } from '../electron/engine/engine';\nexport const a = Engine;\n", 'must import neither'],
    ['shared/x.ts', "import { App } from '../renderer/src/app';\nexport const a = App;\n", 'must import neither'],
    ['renderer/src/x.ts', "import fs from 'fs';\nexport const a = fs;\n", 'no Node built-ins'],
    ['renderer/src/x.ts', "import { Engine } from '../../electron/engine/engine';\nexport const a = Engine;\n", 'Api interface'],
    ['renderer/src/x.ts', "import { ipcRenderer } from 'electron';\nexport const a = ipcRenderer;\n", 'Api interface'],
    ['electron/engine/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'never imports electron'],
  ];
  it.each(cases)('%s: rejects a forbidden import (%#)', async (file, code, why) => {
    const errs = await restrictedImportErrors(file, code);
    expect(errs.length).toBe(1);
    expect(errs[0]).toContain(why);
  });

  it('accepts allowed imports', async () => {
    expect(await restrictedImportErrors('renderer/src/x.ts', "import { canStart } from '../../shared/state';\nexport const a = canStart;\n")).toEqual([]);
    expect(await restrictedImportErrors('electron/engine/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n")).toEqual([]);
    expect(await restrictedImportErrors('electron/main.ts', "import { app } from 'electron';\nexport const a = app;\n")).toEqual([]);
  });
});
