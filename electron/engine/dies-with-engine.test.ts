// diesWithEngine against real processes: an "engine" (a node process) spawns a program through it
// and is killed with SIGKILL; the program goes with it. Beside it, the same program spawned plainly
// outlives its killed parent, which is what happened to a libvirt host's helpers before.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { diesWithEngine } from './dies-with-engine';

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** Starts a node process that spawns `cmd args` (detached from this test) and prints the child's pid; kills it with SIGKILL; resolves with that pid. */
async function orphanOf(cmd: string, args: string[]): Promise<number> {
  const script = `const c = require('node:child_process').spawn(${JSON.stringify(cmd)}, ${JSON.stringify(args)}, { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`;
  const engine = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve) => engine.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  leftovers.push(pid);
  expect(alive(pid)).toBe(true);
  engine.kill('SIGKILL');
  await new Promise((r) => engine.once('exit', r));
  return pid;
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (!alive(pid)) return true;
  return !alive(pid);
}

describe('diesWithEngine', () => {
  it.runIf(existsSync('/usr/bin/setpriv'))('a program spawned through it dies when the engine is killed with SIGKILL', async () => {
    const [cmd, args] = diesWithEngine('sleep', ['1000']);
    expect(await goneWithin(await orphanOf(cmd, args), 2000)).toBe(true);
  });

  it('the same program spawned plainly outlives its killed parent (what the wrapper is for)', async () => {
    const pid = await orphanOf('sleep', ['1000']);
    expect(await goneWithin(pid, 500)).toBe(false);
  });
});
