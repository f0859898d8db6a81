// Help and shell completion: every command has help, and the generated bash and zsh scripts
// complete commands, options and VM names, run in the real shells. The VM names come from a
// stand-in `flotilla` on PATH that prints hostile names: the scripts are what is under test
// (engine-cli-help.itest.ts runs them against the real CLI and engine).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bashCompletion, zshCompletion } from './completion';
import { COMMAND_HELP, commandHelp, overview } from './help';
import { COMMAND_OPTIONS, runCli } from './run-cli';

const HIDDEN = ['__complete-vms'];

describe('help', () => {
  it('has an entry for every command the parser knows, naming each of its options', () => {
    for (const [command, options] of Object.entries(COMMAND_OPTIONS)) {
      if (HIDDEN.includes(command)) continue;
      const text = commandHelp(command);
      expect(text, command).not.toBeNull();
      for (const o of Object.keys(options)) expect(text, `${command} --${o}`).toContain(`--${o}`);
      expect(text).toContain('-h, --help');
    }
    expect(Object.keys(COMMAND_HELP)).toContain('serve');
    for (const c of HIDDEN) expect(overview('1')).not.toContain(c);
  });

  it('answers --help, -h and help CMD on stdout with exit 0, before any engine or validation', async () => {
    const io = { outText: '', errText: '', out: (s: string) => void (io.outText += s), err: (s: string) => void (io.errText += s) };
    for (const argv of [['create', '--help'], ['create', 'Bad_Name', '--cpus', 'x', '-h'], ['help', 'create']]) {
      io.outText = '';
      expect(await runCli(argv, io)).toBe(0);
      expect(io.outText).toBe(commandHelp('create'));
    }
    io.outText = '';
    expect(await runCli(['--version'], io)).toBe(0);
    expect(io.outText).toMatch(/^flotilla \d+\.\d+\.\d+\n$/);
    await expect(runCli(['help', 'frob'], io)).rejects.toThrow('unknown command "frob"');
    await expect(runCli(['completion', 'fish'], io)).rejects.toThrow('usage: flotilla completion bash|zsh');
  });
});

describe('completion scripts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flt-compl-'));
  const pwned = join(dir, 'pwned');
  // names a validated engine never produces: the scripts must neither run nor unquote them
  writeFileSync(join(dir, 'flotilla'), `#!/bin/sh\nprintf '%s\\n' web1 web2 '$(touch ${pwned})' 'w\`touch ${pwned}\`' db\n`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bash = (line: string[]): string[] => {
    writeFileSync(join(dir, 'c.bash'), bashCompletion({ options: COMMAND_OPTIONS }));
    const script = `source ${dir}/c.bash; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _flotilla; printf '%s\\n' "\${COMPREPLY[@]}"`;
    return execFileSync('bash', ['-c', script, 'bash', ...line], { env, encoding: 'utf8' }).split('\n').filter(Boolean);
  };
  const zsh = (line: string[]): string[] => {
    writeFileSync(join(dir, 'c.zsh'), zshCompletion({ options: COMMAND_OPTIONS }));
    // stand-ins for the completion system's builtins print what the script hands them
    const script =
      `compadd() { shift; print -rl -- "$@"; }; _describe() { print -rl -- "\${cmds[@]%%:*}"; }; _files() { print -r -- '<files>'; }; compdef() { :; }\n` +
      `source ${dir}/c.zsh; words=("$@"); CURRENT=$#words; PREFIX=$words[-1]; _flotilla`;
    return execFileSync('zsh', ['-f', '-c', script, 'zsh', ...line], { env, encoding: 'utf8' }).split('\n').filter(Boolean);
  };

  it('bash: commands, options, choices, files and VM names only where a name goes', () => {
    expect(bash(['flotilla', 'st'])).toEqual(['start', 'stop']);
    expect(bash(['flotilla', 'stop', '--f'])).toEqual(['--force']);
    expect(bash(['flotilla', 'create', 'x', '--firmware', ''])).toEqual(['bios', 'uefi']);
    expect(bash(['flotilla', 'create', 'x', '--initrd', '/etc/host'])).toContain('/etc/hostname');
    expect(bash(['flotilla', 'start', 'w'])).toEqual(['web1', 'web2', 'w\\`touch\\ ' + pwned + '\\`']);
    expect(bash(['flotilla', 'logs', '--tail', '5', 'd'])).toEqual(['db']);
    expect(bash(['flotilla', 'start', 'web1', ''])).toEqual([]);
    expect(bash(['flotilla', 'exec', 'web1', '--', ''])).toEqual([]);
    expect(bash(['flotilla', 'create', ''])).toEqual([]);
    expect(existsSync(pwned)).toBe(false);
  });

  it('bash: every offered name is shell-quoted, so the completed line runs nothing', () => {
    const all = bash(['flotilla', 'info', '']);
    expect(all).toHaveLength(5);
    expect(all).toContain(`\\$\\(touch\\ ${pwned}\\)`);
    // the completed word, evaluated by the shell as the user's command line would be, is the name itself
    const back = execFileSync('bash', ['-c', `printf '%s\\n' ${all.join(' ')}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(back).toEqual(['web1', 'web2', `$(touch ${pwned})`, `w\`touch ${pwned}\``, 'db']);
    expect(existsSync(pwned)).toBe(false);
  });

  it('zsh: commands, options, choices, files and VM names as literal words', () => {
    expect(zsh(['flotilla', 'st'])).toEqual(expect.arrayContaining(['start', 'stop', 'completion']));
    expect(zsh(['flotilla', 'stop', '--'])).toEqual(['--json', '--host', '--force', '--help']);
    expect(zsh(['flotilla', 'create', 'x', '--display', ''])).toEqual(['none', 'vnc']);
    expect(zsh(['flotilla', 'create', 'x', '--kernel-disk', ''])).toEqual(['<files>']);
    expect(zsh(['flotilla', 'start', ''])).toEqual(['web1', 'web2', `$(touch ${pwned})`, `w\`touch ${pwned}\``, 'db']);
    expect(zsh(['flotilla', 'stop', '--force', ''])).toHaveLength(5);
    expect(zsh(['flotilla', 'start', 'web1', ''])).toEqual([]);
    expect(zsh(['flotilla', 'exec', 'web1', '--', ''])).toEqual([]);
    expect(existsSync(pwned)).toBe(false);
  });
});
