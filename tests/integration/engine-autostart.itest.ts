// Autostart with real engines and a real guest: a VM marked `autostart` is started by the first
// engine after this computer starts, once. The computer's boot id is a file of the test's own
// (a reboot cannot happen under a test); everything else is the real engine and QEMU.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOSTART_MARK } from '../../electron/engine/autostart';
import { cleanupHome, makeHome, openTestEngine } from './fixtures/engine-harness';

describe('autostart', () => {
  let home: string;
  let dir: string;
  let bootId: string;

  beforeAll(async () => {
    home = await makeHome();
    dir = await mkdtemp(join(tmpdir(), 'flt-boot-'));
    bootId = join(dir, 'boot_id');
  });
  afterAll(async () => {
    await cleanupHome(home);
    await rm(dir, { recursive: true, force: true });
  });

  /** An engine of this home on the given boot: the states of the VMs once it has started, then closed. */
  const engineOnBoot = async (boot: string, then?: (call: Awaited<ReturnType<typeof openTestEngine>>['client']) => Promise<void>): Promise<Record<string, string>> => {
    await writeFile(bootId, `${boot}\n`);
    const { engine, client } = await openTestEngine(home, { bootIdPath: bootId });
    try {
      const states = Object.fromEntries((await client.call('vm.list', {})).map((v) => [v.name, v.state]));
      await then?.(client);
      return states;
    } finally {
      client.close();
      await engine.close();
    }
  };

  it('starts a marked VM with the first engine of a boot, once, and leaves the others alone', async () => {
    // boot A: the VMs are made after this boot's first engine started, so it starts neither
    expect(
      await engineOnBoot('boot-a', async (c) => {
        await c.call('vm.create', { config: { name: 'auto', source: { kind: 'default' }, memoryMiB: 128, autostart: true } });
        await c.call('vm.create', { config: { name: 'manual', source: { kind: 'default' }, memoryMiB: 128 } });
      }),
    ).toEqual({});
    expect((await readFile(join(home, AUTOSTART_MARK), 'utf8')).trim()).toBe('boot-a');
    expect(await engineOnBoot('boot-a')).toEqual({ auto: 'stopped', manual: 'stopped' });

    // boot B: its first engine starts `auto`, which the user then stops
    expect(
      await engineOnBoot('boot-b', async (c) => {
        const auto = await c.call('vm.find', { nameOrId: 'auto' });
        const logs = await c.call('vm.logs', { id: auto.id });
        expect(logs.entries.map((e) => e.text)).toContain('stopped → starting: started automatically: the first engine since this computer started');
        await c.call('vm.stop', { id: auto.id, force: true });
      }),
    ).toMatchObject({ auto: expect.stringMatching(/^(starting|running)$/), manual: 'stopped' });
    // another engine of boot B: the VM the user stopped stays stopped
    expect(await engineOnBoot('boot-b')).toEqual({ auto: 'stopped', manual: 'stopped' });

    // the setting is changed like any other, and a VM no longer marked is not started
    await engineOnBoot('boot-b', async (c) => {
      const auto = await c.call('vm.find', { nameOrId: 'auto' });
      expect((await c.call('vm.update', { id: auto.id, patch: { autostart: false } })).spec.autostart).toBe(false);
    });
    expect(await engineOnBoot('boot-c')).toEqual({ auto: 'stopped', manual: 'stopped' });
  });
});
