// Issue 11 defects 7 and 3 with a real QEMU: a corrupt ports.json while a VM runs (its
// forwards are rebuilt from the QEMU command line on adoption, and the log says so), then a
// corrupt vm.json while it runs (the VM is listed as broken by id with the reason, keeps its
// ports and its name, and can be force-stopped and deleted). Plus thumbnails that keep
// flowing across a stop and start of the VM while subscribed.
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import type { VmInfo } from '../../shared/contract';
import { cleanupHome, makeHome, openTestEngine, processesUsing, type TestClient } from './fixtures/engine-harness';

describe('corrupt files under a running VM', () => {
  let home: string;
  let engine: Engine | null = null;
  let client: TestClient;
  let vm: VmInfo;

  const reopen = async (): Promise<void> => {
    client?.close();
    await engine?.close();
    ({ engine, client } = await openTestEngine(home));
  };

  beforeAll(async () => {
    home = await makeHome();
    await reopen();
    vm = await client.call('vm.create', { config: { name: 'held', source: { kind: 'default' }, memoryMiB: 128, forwards: [{ proto: 'tcp', guestPort: 8080 }] } });
    vm = await client.call('vm.start', { id: vm.id });
    expect(vm.ports.filter((p) => p.purpose === 'forward')).toHaveLength(1);
  });

  afterAll(async () => {
    client?.close();
    await engine?.close();
    await cleanupHome(home);
  });

  it('rebuilds an adopted VM’s forwards from its QEMU command line when ports.json is corrupt, and logs it', async () => {
    const fwd = vm.ports.find((p) => p.purpose === 'forward')!;
    client.close();
    await engine!.close();
    engine = null;
    await writeFile(`${home}/ports.json`, '{"entries": [ {"vmId": "trunc');
    await reopen();
    const adopted = await client.call('vm.get', { id: vm.id });
    expect(adopted).toMatchObject({ state: 'running', adopted: true, pid: vm.pid });
    expect(adopted.ports.filter((p) => p.purpose === 'forward')).toEqual([fwd]);
    const { entries } = await client.call('vm.logs', { id: vm.id, tail: 50 });
    expect(entries.map((e) => e.text).join('\n')).toMatch(
      new RegExp(`port table \\(ports\\.json\\) was unreadable .*rebuilt this VM's forwards from its running QEMU ${vm.pid}: 127\\.0\\.0\\.1:${fwd.hostPort}->8080/tcp`),
    );
    // the port stays reserved for it: another VM asking for it is refused, naming the VM
    await expect(
      client.call('vm.create', { config: { name: 'thief', source: { kind: 'default' }, forwards: [{ proto: 'tcp', guestPort: 80, hostPort: fwd.hostPort }] } }),
    ).rejects.toMatchObject({ code: 'PORT_TAKEN' });
    expect(await client.call('vm.checkPort', { proto: 'tcp', hostPort: fwd.hostPort })).toEqual({ free: false, reason: 'used by VM held' });
    // and the table on disk has it again
    expect(JSON.parse(await readFile(`${home}/ports.json`, 'utf8')).entries).toEqual([expect.objectContaining({ vmId: vm.id, hostPort: fwd.hostPort, guestPort: 8080 })]);
  });

  it('lists a VM with a corrupt vm.json as broken, with its running QEMU, ports and name kept; force stop and delete work', async () => {
    const fwd = vm.ports.find((p) => p.purpose === 'forward')!;
    client.close();
    await engine!.close();
    engine = null;
    const specFile = `${home}/vms/${vm.id}/vm.json`;
    await writeFile(specFile, (await readFile(specFile, 'utf8')).replace('"memoryMiB": 128', '"memoryMiB": "much"'));
    await reopen();
    const [listed] = await client.call('vm.list', {});
    expect(listed).toMatchObject({ id: vm.id, name: 'held', state: 'running', pid: vm.pid, broken: { file: specFile } });
    expect(listed!.broken!.reason).toMatch(/memoryMiB/);
    expect(listed!.broken!.reason).toMatch(new RegExp(`QEMU \\(pid ${vm.pid}\\) is still running`));
    expect(listed!.caps.console).toBe(false);
    expect(listed!.ports).toEqual([fwd]);
    await expect(client.call('vm.create', { config: { name: 'held', source: { kind: 'default' } } })).rejects.toMatchObject({ code: 'NAME_TAKEN' });
    expect(await client.call('vm.checkPort', { proto: 'tcp', hostPort: fwd.hostPort })).toEqual({ free: false, reason: 'used by VM held' });
    await expect(client.call('vm.start', { id: vm.id })).rejects.toMatchObject({ code: 'INVALID_STATE', details: { broken: true } });
    await expect(client.call('vm.delete', { id: vm.id })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/force-stop it/) });

    const stopped = await client.call('vm.stop', { id: vm.id, force: true });
    expect(stopped).toMatchObject({ state: 'stopped', pid: null, broken: { file: specFile } });
    expect(await processesUsing(home)).toEqual([]);
    await client.call('vm.delete', { id: vm.id });
    expect(await client.call('vm.list', {})).toEqual([]);
    expect(await client.call('vm.ports', {})).toEqual([]);
  });

  it('shows a broken VM stopped when its QEMU ends on its own', async () => {
    let dies = await client.call('vm.create', { config: { name: 'dies', source: { kind: 'default' }, memoryMiB: 128 } });
    dies = await client.call('vm.start', { id: dies.id });
    client.close();
    await engine!.close();
    engine = null;
    await writeFile(`${home}/vms/${dies.id}/vm.json`, '{"id": "trunc');
    await reopen();
    expect(await client.call('vm.get', { id: dies.id })).toMatchObject({ state: 'running', pid: dies.pid, broken: { file: `${home}/vms/${dies.id}/vm.json` } });
    const gone = client.waitFor('vm.changed', (v) => v.id === dies.id && v.state === 'stopped', 'the broken VM shown stopped', 15_000);
    process.kill(dies.pid!, 'SIGKILL');
    expect(await gone).toMatchObject({ pid: null, broken: { file: `${home}/vms/${dies.id}/vm.json` } });
    expect((await client.call('vm.get', { id: dies.id })).reason).not.toMatch(/still running/);
    await client.call('vm.delete', { id: dies.id });
  });

  it('keeps sending thumbnails to a subscriber across a stop and a start of the VM', async () => {
    let disp = await client.call('vm.create', { config: { name: 'screen', source: { kind: 'default' }, memoryMiB: 128, display: 'vnc' } });
    disp = await client.call('vm.start', { id: disp.id });
    const first = client.waitFor('vm.thumbnail', (p) => p.id === disp.id, 'a thumbnail before the restart', 60_000);
    await client.call('thumbnail.subscribe', { id: disp.id });
    expect((await first).pngBase64.length).toBeGreaterThan(100);
    await client.call('vm.stop', { id: disp.id, force: true });
    disp = await client.call('vm.start', { id: disp.id });
    const after = await client.waitFor('vm.thumbnail', (p) => p.id === disp.id, 'a thumbnail after the restart', 60_000);
    expect(Buffer.from(after.pngBase64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    // it came from the new QEMU: one is taken only while the VM runs
    expect((await client.call('vm.get', { id: disp.id })).pid).toBe(disp.pid);
    await client.call('vm.stop', { id: disp.id, force: true });
  });
});
