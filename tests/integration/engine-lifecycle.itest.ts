// One default-guest VM through its whole life: serial console (scrollback, input, output),
// 1 Hz stats from /proc, pause/resume (the guest's clock set again), reset (same QEMU), stop-all honouring
// keepRunningOnQuit, graceful stop by ACPI powerdown, a clean data dir afterwards, and a second
// boot's console output set apart from the first's.
import { readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import type { Engine } from '../../electron/engine/engine';
import { cleanupHome, makeHome, openTestEngine, processesUsing, runLeftovers, type TestClient } from './fixtures/engine-harness';

/** The first line a TCP server on 127.0.0.1:PORT sends (an SSH server's banner). */
function sshBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => sock.destroy(new Error(`no banner on port ${port} within 15 s`)), 15_000);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\n')) sock.end();
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(t);
      resolve(got.split('\n')[0]!.trim());
    });
  });
}

describe('a VM through its life', () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;
  let vm: VmInfo;

  beforeAll(async () => {
    home = await makeHome();
    // a generous graceful-stop deadline: the ACPI path must do the work, however loaded the host;
    // no second press of the power button within it (a stop must not need one)
    ({ engine, client } = await openTestEngine(home, { stopDeadlineMs: 60_000, powerdownRepeatMs: 120_000 }));
    vm = await client.call('vm.create', { config: { name: 'life', source: { kind: 'default' }, memoryMiB: 192, keepRunningOnQuit: true } });
    vm = await client.call('vm.start', { id: vm.id, waitAgent: true });
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: false });
    await cleanupHome(home);
  });

  it('has a serial console with scrollback that takes input', async () => {
    // the shell's banner in words, then its prompt
    const boot = await client.waitConsole(vm.id, /life: Flotilla built-in Linux, kernel \S+\r\n/, 30_000);
    expect(boot).not.toContain('FLOTILLA-READY'); // the UART's marker for tools, not the console's
    await client.waitConsole(vm.id, /life:~# /, 30_000);
    const answer = client.waitConsole(vm.id, 'sum=42', 30_000);
    await client.call('console.input', { id: vm.id, data: '\necho sum=$((40+2))\n' });
    await answer;
  });

  it('refuses to change the hardware of, or delete, a running VM', async () => {
    const before = await client.call('vm.get', { id: vm.id });
    await expect(client.call('vm.update', { id: vm.id, patch: { memoryMiB: before.spec.memoryMiB * 2, cpus: before.spec.cpus, note: 'not this either' } })).rejects.toMatchObject({
      code: 'INVALID_STATE',
      message: 'stop life before changing its memory (it is running); its name, note, port forwards, crash policy, keep-running choice and autostart can change while it runs',
    });
    // nothing of a refused patch was written
    expect((await client.call('vm.get', { id: vm.id })).spec).toEqual(before.spec);
    await expect(client.call('vm.delete', { id: vm.id })).rejects.toMatchObject({ code: 'INVALID_STATE', message: 'stop life before deleting it' });
    await expect(client.call('vm.start', { id: vm.id })).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
  });

  it('changes its name, note and the choices around it while it runs, without touching its QEMU', async () => {
    const before = await client.call('vm.get', { id: vm.id });
    // a settings form sends every field: the unchanged hardware ones are no change
    const live = { name: 'life-renamed', note: 'renamed while running', restartPolicy: 'on-failure', keepRunningOnQuit: true, autostart: true } as const;
    const after = await client.call('vm.update', { id: vm.id, patch: { ...live, cpus: before.spec.cpus, memoryMiB: before.spec.memoryMiB, forwards: before.spec.forwards, display: before.spec.display } });
    expect(after).toMatchObject({ name: 'life-renamed', state: 'running', pid: before.pid, spec: live });
    // on disk too: a new engine reads the same
    expect(JSON.parse(await readFile(join(home, 'vms', vm.id, 'vm.json'), 'utf8'))).toMatchObject(live);
    expect((await client.call('vm.list', {})).map((v) => v.name)).toContain('life-renamed');
    // the console still answers (same QEMU, same guest)
    const answer = client.waitConsole(vm.id, 'sum=43', 30_000);
    await client.call('console.input', { id: vm.id, data: 'echo sum=$((40+3))\n' });
    await answer;
    const { name, note, restartPolicy, keepRunningOnQuit, autostart } = before.spec;
    await client.call('vm.update', { id: vm.id, patch: { name, note, restartPolicy, keepRunningOnQuit, autostart } });
  });

  it('takes port forwards while it runs: a new host port reaches the guest at once, a removed one closes', async () => {
    const before = await client.call('vm.get', { id: vm.id });
    expect(before.ports.filter((p) => p.purpose === 'forward')).toEqual([]);
    const up = await client.call('vm.update', { id: vm.id, patch: { forwards: [{ guestPort: 22 }] } });
    expect(up).toMatchObject({ state: 'running', pid: before.pid, spec: { forwards: [{ proto: 'tcp', guestPort: 22 }] } });
    const fwd = up.ports.find((p) => p.purpose === 'forward' && p.guestPort === 22)!;
    expect(fwd).toMatchObject({ proto: 'tcp', host: '127.0.0.1' });
    // the guest's dropbear answers on the new host port: QEMU took the forward live
    expect(await sshBanner(fwd.hostPort)).toMatch(/^SSH-2\.0-/);
    expect(await client.call('vm.ports', { id: vm.id })).toContainEqual(fwd);

    // a host port another program holds: refused before anything changes
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      // (with a note: the whole update is refused, not only its forwards)
      await expect(client.call('vm.update', { id: vm.id, patch: { note: 'not kept', forwards: [{ guestPort: 22 }, { guestPort: 80, hostPort: taken }] } })).rejects.toMatchObject({ code: 'PORT_TAKEN' });
    } finally {
      blocker.close();
    }
    const same = await client.call('vm.get', { id: vm.id });
    expect(same.spec.forwards).toEqual([{ proto: 'tcp', guestPort: 22 }]);
    expect(same.spec.note ?? '').toBe(before.spec.note ?? '');
    expect(same.ports.filter((p) => p.purpose === 'forward')).toEqual([fwd]);
    expect(await sshBanner(fwd.hostPort)).toMatch(/^SSH-2\.0-/);

    // gone from QEMU, the table and the spec; the port is closed at once
    const down = await client.call('vm.update', { id: vm.id, patch: { forwards: [] } });
    expect(down.ports.filter((p) => p.purpose === 'forward')).toEqual([]);
    expect(down.spec.forwards).toEqual([]);
    await expect(sshBanner(fwd.hostPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const lifecycle = (await client.call('vm.logs', { id: vm.id, tail: 50 })).entries.map((e) => e.text);
    expect(lifecycle).toContain(`port forwards changed while running: added 127.0.0.1:${fwd.hostPort} → 22/tcp`);
    expect(lifecycle).toContain(`port forwards changed while running: removed 127.0.0.1:${fwd.hostPort} → 22/tcp`);
  });

  it('reports CPU and memory of its QEMU at 1 Hz to a stats subscriber', async () => {
    await client.call('stats.subscribe', {});
    // one vm.statsBatch per tick carries every running VM's sample
    const batch = await client.waitFor('vm.statsBatch', (p) => p.samples.some((x) => x.id === vm.id && x.rssBytes > 0), 'stats', 10_000);
    const s = batch.samples.find((x) => x.id === vm.id)!;
    expect(batch.samples.filter((x) => x.id === vm.id)).toHaveLength(1);
    expect(s.rssBytes).toBeGreaterThan(16 << 20);
    expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('keeps the last samples, so a window that opens now draws full sparklines', async () => {
    // two more samples after the one above: the history holds at least those, oldest first
    let n = 0;
    await client.waitFor('vm.statsBatch', (p) => p.samples.some((x) => x.id === vm.id) && ++n === 2, 'two more stats samples', 10_000);
    const { samples } = await client.call('stats.history', {});
    const mine = samples.filter((x) => x.id === vm.id);
    expect(mine.length).toBeGreaterThanOrEqual(3);
    expect(mine.length).toBeLessThanOrEqual(60);
    expect(mine.map((x) => x.t)).toEqual(mine.map((x) => x.t).sort((a, b) => a - b));
    expect(mine.every((x) => x.rssBytes > 0)).toBe(true);
  });

  it('pauses and resumes through QMP, and a reset keeps the same QEMU', async () => {
    expect((await client.call('vm.pause', { id: vm.id })).state).toBe('paused');
    // a command meanwhile is refused at once, saying why (it waited 30 s, then blamed the agent)
    await expect(client.call('vm.exec', { id: vm.id, command: ['/bin/true'], timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'INVALID_STATE', message: `${vm.name} is paused: resume it first (its guest agent cannot answer)` });
    // the guest's clock stands still while it is paused (it was 8 s behind after an 8 s pause,
    // and stayed so): the resume sets it to the host's through the agent
    await new Promise((r) => setTimeout(r, 6000));
    expect((await client.call('vm.resume', { id: vm.id })).state).toBe('running');
    const guestNow = Number((await client.call('vm.exec', { id: vm.id, command: ['/bin/date', '+%s'], timeoutMs: 30_000 })).stdout.trim());
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(3);
    const logs = await client.call('vm.logs', { id: vm.id, tail: 50 });
    expect(logs.entries.some((e) => /guest clock set to the host's/.test(e.text))).toBe(true);
    const reset = await client.call('vm.restart', { id: vm.id });
    expect(reset).toMatchObject({ state: 'running', pid: vm.pid, reason: 'reset by the user' });
    await client.waitVm(vm.id, (v) => v.agent === 'ready', 'agent after reset', 60_000);
  });

  it('stop-all keeps a keepRunningOnQuit VM running unless asked to include it', async () => {
    expect(await client.call('engine.stopAll', { deadlineMs: 10_000, includeKeepRunning: false })).toEqual({ stopped: [], keptRunning: [vm.id] });
    expect((await client.call('vm.get', { id: vm.id })).state).toBe('running');
  });

  it('a graceful stop powers the guest off by ACPI and cleans up', async () => {
    const stopping = client.waitFor('vm.changed', (v) => v.id === vm.id && v.state === 'stopping', 'the stopping state');
    const asked = Date.now();
    const stopped = await client.call('vm.stop', { id: vm.id });
    // the stopping state says when the engine would force the VM off (the UI's countdown)
    const deadline = Date.parse((await stopping).stopDeadline ?? '');
    expect(deadline).toBeGreaterThanOrEqual(asked + 60_000 - 1000);
    expect(stopped.stopDeadline).toBeNull();
    expect((await client.call('stats.history', {})).samples.filter((x) => x.id === vm.id)).toEqual([]);
    expect(stopped).toMatchObject({ state: 'stopped', pid: null, reason: 'stopped by the user' });
    expect(stopped.lastExit).toMatchObject({ code: 0, signal: null });
    const logs = await client.call('vm.logs', { id: vm.id, tail: 100 });
    expect(logs.entries.some((e) => /sending QMP quit/.test(e.text))).toBe(false);
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  });

  it('a second boot follows a line that separates it from the first on the console', async () => {
    await client.call('vm.start', { id: vm.id, waitAgent: true });
    // the first boot's output, the dim line, the second boot's output: scrollback and live
    const esc = String.fromCharCode(27);
    const line = String.raw`-- life started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d --`;
    const both = await client.waitConsole(vm.id, new RegExp(String.raw`life: Flotilla built-in Linux[\s\S]*${esc}\[2m${line}${esc}\[0m\r\n[\s\S]*life: Flotilla built-in Linux`), 60_000);
    expect(both.match(/-- life started /g)).toHaveLength(1);
    await client.call('vm.stop', { id: vm.id, force: true });
    expect(await processesUsing(home)).toEqual([]);
  });

  it('a stop asked while the guest still boots powers it off as soon as its agent answers', async () => {
    // the press lands before the guest's acpid runs, and is lost; the engine asks the agent the
    // moment it answers instead of pressing again later (here: not within the deadline at all)
    await client.call('vm.start', { id: vm.id });
    const stopped = await client.call('vm.stop', { id: vm.id });
    expect(stopped).toMatchObject({ state: 'stopped', reason: 'stopped by the user' });
    expect(stopped.lastExit).toMatchObject({ code: 0, signal: null });
    const logs = (await client.call('vm.logs', { id: vm.id, tail: 20 })).entries.map((e) => e.text);
    const from = logs.findLastIndex((t) => t.startsWith('running → stopping'));
    expect(logs.slice(from)).toContain('QMP SHUTDOWN (guest-shutdown)');
    expect(logs.slice(from).filter((t) => /QMP quit|killing/.test(t))).toEqual([]);
  });
});
