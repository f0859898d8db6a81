// A long-lived shell (serve, the window) that joined another process's engine outlives it:
// when that engine is killed, the shell becomes the engine, adopts the running VM with the same
// QEMU, keeps its console subscription and its event listeners, and announces the VM again.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Methods, type CallContext, type EventName, type VmInfo } from '../../shared/contract';
import { TakeoverHandler } from '../../electron/engine/takeover';
import { blankDisk, heldConfig, heldSpawn } from '../reliability/fixtures/cheap-vm';
import { killEngineChild, startEngineChild, type EngineChild } from '../reliability/fixtures/engine-child';
import { cleanupHome, makeHome, processesUsing, TEST_ENGINE_OPTIONS } from './fixtures/engine-harness';

describe('a shell whose engine dies takes over', () => {
  let home: string;
  let owner: EngineChild | null = null;
  let shell: TakeoverHandler | null = null;

  beforeAll(async () => {
    home = await makeHome(false);
  });
  afterAll(async () => {
    if (owner) await killEngineChild(owner);
    await shell?.close();
    await cleanupHome(home);
  });

  it('becomes the engine, adopts the VM with the same pid, and keeps serving the same clients', async () => {
    owner = await startEngineChild(home);
    const seen: { event: EventName; id?: string; state?: string }[] = [];
    const lifecycle: string[] = [];
    shell = await TakeoverHandler.open(
      { home, shell: 'serve', engine: { ...TEST_ENGINE_OPTIONS, spawn: heldSpawn(spawn) } },
      { onLost: () => lifecycle.push('lost'), onReopened: (role) => lifecycle.push(`reopened as ${role}`) },
    );
    expect(shell.role).toBe('client');
    shell.onEvent((event, payload) => seen.push({ event, id: (payload as { id?: string }).id, state: (payload as { state?: string }).state }));
    const consoleEvents: string[] = [];
    const closers: (() => void)[] = [];
    const ctx: CallContext = { clientId: 'browser-1', emit: (e) => consoleEvents.push(e), onClose: (cb) => closers.push(cb) };

    const vm = await shell.handle('vm.create', Methods['vm.create'].parse({ config: heldConfig('x', blankDisk(home)), start: true }), ctx);
    expect(vm.state).toBe('paused'); // held: QEMU runs with -S
    await shell.handle('console.subscribe', { id: vm.id }, ctx);

    await killEngineChild(owner);
    owner = null;
    const deadline = Date.now() + 30_000;
    while (shell.role !== 'engine' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(lifecycle).toEqual(['lost', 'reopened as engine']);
    expect(shell.role).toBe('engine');

    // the same QEMU, adopted, not restarted; the listeners heard about it again
    const after = await shell.handle('vm.get', { id: vm.id }, ctx);
    expect(after).toMatchObject({ pid: vm.pid, adopted: true, state: 'paused' });
    expect(seen.some((e) => e.event === 'vm.changed' && e.id === vm.id && e.state === 'paused')).toBe(true);
    expect(await processesUsing(home)).toEqual([vm.pid]);
    // the browser's console subscription moved to the new engine
    expect(shell.engine!.supervisor(vm.id).console.subscriberCount).toBe(1);

    // calls and events keep flowing through the one handler
    seen.length = 0;
    const stopped: VmInfo = await shell.handle('vm.stop', { id: vm.id, force: true }, ctx);
    expect(stopped.state).toBe('stopped');
    expect(seen.some((e) => e.event === 'vm.changed' && e.id === vm.id && e.state === 'stopped')).toBe(true);
    expect(await processesUsing(home)).toEqual([]);
    for (const c of closers) c();
  });
});
