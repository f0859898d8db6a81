// The once-per-boot rule of autostart, over real files (a boot id file of the test's own, the
// mark in a temp home) and stand-in VMs; real engines and QEMU are engine-autostart.itest.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTOSTART_MARK, autostartOnce, type AutostartCandidate } from './autostart';

describe('autostartOnce', () => {
  let home: string;
  let bootId: string;
  let started: string[];
  let logs: string[];
  const vm = (name: string, due: boolean, fail?: string): AutostartCandidate => ({
    name,
    due,
    start: async (reason) => {
      if (fail) throw new Error(fail);
      started.push(`${name}: ${reason}`);
    },
    log: (t) => logs.push(`${name}: ${t}`),
  });

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'flt-auto-'));
    bootId = join(home, 'boot_id');
    started = [];
    logs = [];
  });
  afterEach(() => rm(home, { recursive: true, force: true }));

  it('starts the due VMs on a boot not yet recorded, records it, and starts nothing more on that boot', async () => {
    await writeFile(bootId, 'abc-1\n');
    const r = await autostartOnce(home, () => [vm('a', true), vm('b', false), vm('c', true)], bootId);
    expect(r).toEqual({ bootId: 'abc-1', started: ['a', 'c'], failed: [] });
    expect(started).toEqual(['a: started automatically: the first engine since this computer started', 'c: started automatically: the first engine since this computer started']);
    expect(await readFile(join(home, AUTOSTART_MARK), 'utf8')).toBe('abc-1\n');
    started = [];
    expect(await autostartOnce(home, () => [vm('a', true)], bootId)).toEqual({ bootId: null, started: [], failed: [] });
    expect(started).toEqual([]);
    await writeFile(bootId, 'abc-2\n');
    expect((await autostartOnce(home, () => [vm('a', true)], bootId)).started).toEqual(['a']);
  });

  it('a VM that cannot start says why in its log; the others start and the boot is recorded', async () => {
    await writeFile(bootId, 'abc-1\n');
    const r = await autostartOnce(home, () => [vm('a', true, 'its disk is gone'), vm('b', true)], bootId);
    expect(r.failed).toEqual([{ name: 'a', message: 'its disk is gone' }]);
    expect(r.started).toEqual(['b']);
    expect(logs).toEqual(['a: could not start automatically: its disk is gone']);
    expect((await readFile(join(home, AUTOSTART_MARK), 'utf8')).trim()).toBe('abc-1');
  });

  it('without a readable boot id nothing starts and nothing is recorded', async () => {
    const r = await autostartOnce(home, () => [vm('a', true)], join(home, 'missing'));
    expect(r).toEqual({ bootId: null, started: [], failed: [] });
    await expect(readFile(join(home, AUTOSTART_MARK))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reads the real boot id of this machine', async () => {
    const r = await autostartOnce(home, () => [], undefined);
    expect(r.bootId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
