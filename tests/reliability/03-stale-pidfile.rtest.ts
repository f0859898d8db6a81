// Check 3: a stale pidfile names an unrelated live process. Whatever that process is (not
// QEMU; a QEMU of another VM; a non-QEMU process naming our socket; a QEMU that holds a
// chardev on our QMP socket path without serving QMP there) it is never adopted and never
// killed: identity needs the pidfile, /proc (QEMU's executable and our VM's -qmp argument)
// and QMP answering on our socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomeLayout } from '../../electron/engine/paths';
import { isPidAlive } from '../../electron/engine/proc-identity';
import { cleanupHome, makeHome, openTestEngine, processesUsing } from '../integration/fixtures/engine-harness';
import { blankDisk, heldConfig } from './fixtures/cheap-vm';
import { reportFigure, scale } from './fixtures/figures';

const ROUNDS = scale(1, 5);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Impostor = { name: string; make: (qmpSock: string, scratch: string) => ChildProcess };

const IMPOSTORS: Impostor[] = [
  { name: 'not QEMU (sleep)', make: () => spawn('sleep', ['600'], { stdio: 'ignore' }) },
  {
    name: 'QEMU of another VM',
    make: (_q, scratch) =>
      spawn('qemu-system-x86_64', ['-S', '-machine', 'none', '-display', 'none', '-nodefaults', '-qmp', `unix:${join(scratch, 'other.sock')},server=on,wait=off`], { stdio: 'ignore' }),
  },
  { name: 'not QEMU but naming our socket', make: (q) => spawn('sh', ['-c', 'sleep 600', 'sh', q], { stdio: 'ignore' }) },
  {
    name: 'QEMU with a chardev on our QMP path',
    make: (q) =>
      spawn('qemu-system-x86_64', ['-S', '-machine', 'none', '-display', 'none', '-nodefaults', '-chardev', `socket,id=c0,path=${q},server=on,wait=off`], { stdio: 'ignore' }),
  },
];

describe('check 3: a stale pidfile naming an unrelated live process', () => {
  let home: string;
  const impostors: ChildProcess[] = [];

  beforeAll(async () => {
    home = await makeHome(false);
  });
  afterAll(async () => {
    for (const p of impostors) p.kill('SIGKILL');
    await cleanupHome(home);
  });

  it('is never adopted and never killed', async () => {
    const layout = new HomeLayout(home);
    const first = await openTestEngine(home);
    const vm = await first.client.call('vm.create', { config: heldConfig('stale', blankDisk(home)) });
    first.client.close();
    await first.engine.close();
    let tried = 0;
    let lost = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const imp of IMPOSTORS) {
        await mkdir(layout.runDir(vm.id), { recursive: true, mode: 0o700 });
        const p = imp.make(layout.qmpSock(vm.id), home);
        impostors.push(p);
        await sleep(300); // let it exec (and QEMU create its socket)
        expect(await isPidAlive(p.pid!), imp.name).toBe(true);
        await writeFile(layout.pidFile(vm.id), `${p.pid}\n`);
        await writeFile(join(layout.vmDir(vm.id), 'runtime.json'), JSON.stringify({ wantRunning: true, lastExit: null, lastDiskCheck: null }));
        tried++;
        const { engine, client } = await openTestEngine(home);
        const seen = await client.call('vm.get', { id: vm.id });
        expect(seen, imp.name).toMatchObject({ adopted: false, pid: null });
        expect(['crashed', 'stopped']).toContain(seen.state);
        // stop requests must not reach it either
        await client.call('vm.stop', { id: vm.id, force: true }).catch(() => undefined);
        await client.call('engine.stopAll', { deadlineMs: 1000, includeKeepRunning: true });
        await sleep(300);
        const alive = (await isPidAlive(p.pid!)) && p.exitCode === null && p.signalCode === null;
        if (!alive) lost++;
        expect(alive, `${imp.name} was killed`).toBe(true);
        client.close();
        await engine.close();
        p.kill('SIGKILL');
      }
    }
    expect(await processesUsing(home)).toEqual([]);
    reportFigure({ check: 3, title: 'stale pidfile of an unrelated process', load: `${IMPOSTORS.length} kinds of impostor × ${ROUNDS} rounds`, faults: 0, badInputs: tried, lost });
    expect(lost).toBe(0);
  });
});
