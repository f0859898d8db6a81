// Issue 11 defect 1: CLI commands run in parallel on a home where no engine runs. One of
// them becomes the short-lived engine and the others its clients; every one must be answered
// (the short-lived engine drains its clients before it lets go), so all exit 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, run } from './fixtures/engine-harness';

const N = 5;

describe('parallel CLI commands with no engine running', () => {
  let home: string;
  let cli: string;
  const flotilla = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 170_000 });

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
  });

  afterAll(async () => {
    await cleanupHome(home);
  });

  it(`${N} \`flotilla start --wait-agent\` at once all exit 0 with their VM running`, async () => {
    const names = Array.from({ length: N }, (_, i) => `p${i + 1}`);
    for (const n of names) {
      const c = await flotilla('create', n, '--memory', '128');
      expect(c.code, c.stderr).toBe(0);
    }
    const results = await Promise.all(names.map((n) => flotilla('start', n, '--wait-agent', '--json')));
    results.forEach((r, i) => {
      expect(r.stderr, names[i]).toBe('');
      expect(r.code, names[i]).toBe(0);
      expect(JSON.parse(r.stdout) as VmInfo, names[i]).toMatchObject({ name: names[i], state: 'running', agent: 'ready' });
    });
    const listed = JSON.parse((await flotilla('list', '--json')).stdout) as VmInfo[];
    expect(listed.map((v) => [v.name, v.state]).sort()).toEqual(names.map((n) => [n, 'running']));
    // and the same number of stops at once
    const stops = await Promise.all(names.map((n) => flotilla('stop', n, '--force')));
    stops.forEach((r, i) => expect(r.code, `${names[i]}: ${r.stderr}`).toBe(0));
  });
});
