// The CLI's help, version, shell completion and idempotent stop, as a user meets them: the real
// `flotilla` program (bundled), real engine, real bash and zsh loading the scripts the program
// prints and asking the program itself for VM names.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, run } from './fixtures/engine-harness';

function sh(shell: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(shell, args, { env, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${shell}: ${stderr}`)) : resolve(stdout))),
  );
}

describe('flotilla help, completion and stop', () => {
  let home: string;
  let cli: string;
  let env: NodeJS.ProcessEnv;
  const flotilla = (...args: string[]) => run(process.execPath, [cli, ...args], { env, timeoutMs: 120_000 });

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(false), bundle(CLI_ENTRY)]);
    // `flotilla` on PATH, as an installed CLI is: the completion scripts call it by that name
    await writeFile(join(home, 'flotilla'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"\n`, { mode: 0o755 });
    env = { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg', PATH: `${home}:${process.env.PATH ?? ''}` };
  });

  afterAll(async () => {
    await cleanupHome(home);
  });

  it('every command answers --help, -h and `help CMD` with its usage on stdout and exit 0', async () => {
    const top = await flotilla('--help');
    expect(top.code).toBe(0);
    const commands = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
    expect(commands).toEqual(expect.arrayContaining(['list', 'create', 'start', 'stop', 'logs', 'exec', 'help', 'completion']));
    // the commands' processes run two at a time (each is a whole node start)
    const answers = async (c: string) => {
      const byFlag = await flotilla(c, '--help');
      // serve has its own parser and help
      const others = c === 'serve' ? [] : await Promise.all([flotilla(c, '-h'), flotilla('help', c)]);
      return { c, byFlag, others };
    };
    for (let i = 0; i < commands.length; i += 2) {
      for (const { c, byFlag, others } of await Promise.all(commands.slice(i, i + 2).map(answers))) {
        expect(byFlag.code, c).toBe(0);
        expect(byFlag.stdout, c).toMatch(new RegExp(`^usage: flotilla ${c}`));
        for (const o of others) expect(o.stdout, c).toBe(byFlag.stdout);
      }
    }
    const create = await flotilla('create', '--help');
    expect(create.stdout).toContain('--memory MIB');
    expect(create.stdout).toContain('--forward GUEST[:HOST][/udp]');
    expect((await flotilla('-h')).stdout).toBe(top.stdout);
    expect((await flotilla('help')).stdout).toBe(top.stdout);
    const v = await flotilla('--version');
    expect(v).toMatchObject({ code: 0, stdout: expect.stringMatching(/^flotilla \d+\.\d+\.\d+\n$/) });
    // --help after `--` belongs to the guest command, not to us
    const exec = await flotilla('exec', 'ghost', '--', 'ls', '--help');
    expect(exec).toMatchObject({ code: 1, stderr: 'flotilla: no VM named "ghost"\n' });
  });

  it('stop on a stopped VM exits 0 and says it is already stopped', async () => {
    expect((await flotilla('create', 'web1')).code).toBe(0);
    const r = await flotilla('stop', 'web1');
    expect(r).toEqual({ code: 0, stdout: 'web1 is already stopped\n', stderr: '' });
    const j = await flotilla('stop', 'web1', '--force', '--json');
    expect(j.code).toBe(0);
    expect((JSON.parse(j.stdout) as VmInfo).state).toBe('stopped');
  });

  it('bash and zsh complete VM names from the engine', async () => {
    expect((await flotilla('create', 'web2')).code).toBe(0);
    expect((await flotilla('create', 'db')).code).toBe(0);
    const bashScript = await flotilla('completion', 'bash');
    const zshScript = await flotilla('completion', 'zsh');
    expect(bashScript.code).toBe(0);
    await writeFile(join(home, 'c.bash'), bashScript.stdout);
    await writeFile(join(home, 'c.zsh'), zshScript.stdout);
    const bash = async (...line: string[]) =>
      (await sh('bash', ['-c', `source ${home}/c.bash; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _flotilla; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', ...line], env))
        .split('\n')
        .filter(Boolean)
        .sort();
    expect(await bash('flotilla', 'start', 'w')).toEqual(['web1', 'web2']);
    expect(await bash('flotilla', 'rm', '')).toEqual(['db', 'web1', 'web2']);
    expect(await bash('flotilla', 're')).toEqual(['restart', 'resume']);
    // zsh: the completion builtins exist only inside a completion widget; stand-ins print their words
    const zsh = async (...line: string[]) =>
      (
        await sh(
          'zsh',
          ['-f', '-c', `compadd() { shift; print -rl -- "$@"; }; compdef() { :; }; source ${home}/c.zsh; words=("$@"); CURRENT=$#words; PREFIX=$words[-1]; _flotilla`, 'zsh', ...line],
          env,
        )
      )
        .split('\n')
        .filter(Boolean)
        .sort();
    expect(await zsh('flotilla', 'info', '')).toEqual(['db', 'web1', 'web2']);
  });
});
