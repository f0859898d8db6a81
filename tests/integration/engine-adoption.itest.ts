// Issue 3: kill -9 of the engine while 2 VMs run; a new engine adopts both, with the same
// PIDs and ports, without restarting them. Issue 14 #12: the adopting engine's consoles show what
// the guests printed before (restored from each VM's serial log), in the contract's scrollback
// and in `flotilla logs VM --serial`. A forward change the killed engine wrote to vm.json but did
// not give QEMU is finished by the new one.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { openEngine, type OpenedEngine } from '../../electron/engine/open-engine';
import { bundle, CLI_ENTRY, ENGINE_PROCESS_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, processesUsing, run, runLeftovers, TestClient } from './fixtures/engine-harness';
import type { Engine } from '../../electron/engine/engine';

function startEngineProcess(script: string, home: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, home], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) {
        if (out.startsWith('ready engine')) resolve(child);
        else reject(new Error(`engine process said: ${out}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`engine process exited with ${code}`)));
  });
}

describe('kill -9 of the engine while VMs run', () => {
  let home: string;
  let first: ChildProcess | null = null;
  let client: OpenedEngine | null = null;
  let second: OpenedEngine | null = null;

  beforeAll(async () => {
    home = await makeHome();
  });

  afterAll(async () => {
    first?.kill('SIGKILL');
    await client?.close();
    await second?.close();
    await cleanupHome(home);
  });

  it('a new engine adopts both VMs with the same PIDs and ports', async () => {
    first = await startEngineProcess(await bundle(ENGINE_PROCESS_ENTRY), home);
    client = await openEngine({ home, shell: 'cli' });
    expect(client.role).toBe('client');
    const ctx = { clientId: 'adopt-test', emit: () => undefined, onClose: () => undefined };
    const call = client.handler.handle.bind(client.handler);
    const made = await Promise.all(
      ['a1', 'a2'].map((name) => call('vm.create', { config: { name, source: { kind: 'default' }, memoryMiB: 256, forwards: [{ proto: 'tcp', guestPort: 22 }] } as never, start: false }, ctx)),
    );
    const running: VmInfo[] = [];
    for (const vm of made) running.push(await call('vm.start', { id: vm.id, waitAgent: true }, ctx));
    // something only this engine saw: typed into a1's console, answered by its shell
    let before = '';
    const seen = { ...ctx, clientId: 'adopt-console', emit: (e: string, p: unknown) => void (e === 'console.data' && (before += (p as { data: string }).data)) };
    before += (await call('console.subscribe', { id: made[0]!.id }, seen)).scrollback;
    for (let i = 0; i < 1200 && !before.includes('a1:~# '); i++) await new Promise((r) => setTimeout(r, 100));
    await call('console.input', { id: made[0]!.id, data: 'echo before-$((6*7))-restart\n' }, seen);
    for (let i = 0; i < 600 && !before.includes('before-42-restart\r\n'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(before).toContain('before-42-restart\r\n');
    // pause one: adoption must keep its state too
    await call('vm.pause', { id: running[1]!.id }, ctx);
    await client.close();
    client = null;

    first.kill('SIGKILL');
    await new Promise((r) => first!.once('exit', r));
    first = null;

    // as an engine killed in the middle of a live forward change leaves it: vm.json written,
    // QEMU not told yet (local-vm-handle.ts writes the spec first)
    const specFile = join(home, 'vms', running[1]!.id, 'vm.json');
    const spec = JSON.parse(await readFile(specFile, 'utf8')) as { forwards: unknown[] };
    await writeFile(specFile, JSON.stringify({ ...spec, forwards: [...spec.forwards, { proto: 'tcp', guestPort: 80 }] }, null, 2));

    second = await openEngine({ home, shell: 'serve', engine: { accel: 'tcg', stopDeadlineMs: 8000 } });
    expect(second.role).toBe('engine');
    const t = new TestClient(second.engine as Engine);
    const after = await t.call('vm.list', {});
    const byId = new Map(after.map((v) => [v.id, v]));
    const [r0, r1] = running;
    expect(byId.get(r0!.id)).toMatchObject({ state: 'running', pid: r0!.pid, adopted: true, qmpHealthy: true, ports: r0!.ports });
    // the adopting engine finished the change: the old forward kept its port, the new one is live
    const a2 = byId.get(r1!.id)!;
    expect(a2).toMatchObject({ state: 'paused', pid: r1!.pid, adopted: true });
    const web = a2.ports.find((p) => p.guestPort === 80)!;
    expect(a2.ports).toEqual([...r1!.ports, web]);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(web.hostPort, '127.0.0.1', () => resolve(void sock.destroy())).on('error', reject);
    });
    const a2Log = (await t.call('vm.logs', { id: r1!.id, tail: 50 })).entries.map((e) => e.text);
    expect(a2Log).toContain(`port forwards changed while running: added 127.0.0.1:${web.hostPort} → 80/tcp`);
    // the adopted VMs are fully usable: agent, resume, exec
    await t.call('vm.resume', { id: r1!.id });
    const vm0 = await t.waitVm(r0!.id, (v) => v.agent === 'ready', 'agent of adopted a1');
    expect(vm0.pid).toBe(r0!.pid);
    expect((await t.call('vm.exec', { id: r0!.id, command: ['/bin/echo', 'adopted'] })).stdout).toBe('adopted\n');

    // the consoles come back with what the guests printed before the restart
    const { scrollback } = await t.call('console.subscribe', { id: r0!.id });
    expect(scrollback).toContain('a1: Flotilla built-in Linux, kernel ');
    expect(scrollback).toContain('before-42-restart\r\n');
    // once: restored from the log, not repeated
    expect(scrollback.split('before-42-restart\r\n')).toHaveLength(2);
    const cli = await run(process.execPath, [await bundle(CLI_ENTRY), 'logs', 'a1', '--serial'], { env: { ...process.env, FLOTILLA_HOME: home }, timeoutMs: 120_000 });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('a1: Flotilla built-in Linux, kernel ');
    expect(cli.stdout).toContain('before-42-restart\r\n');

    await t.call('engine.stopAll', { deadlineMs: 15_000, includeKeepRunning: true });
    t.close();
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  });
});
