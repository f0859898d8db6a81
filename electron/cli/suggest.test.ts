import { describe, expect, it } from 'vitest';
import { parseArgs } from './args';
import { runCli } from './run-cli';
import { COMMAND_OPTIONS } from './run-cli';
import { commandHint, editDistance, nearest, optionHint } from './suggest';

const commands = Object.keys(COMMAND_OPTIONS);

describe('editDistance and nearest', () => {
  it('counts inserts, deletes, changes and a swap of neighbours as one edit each', () => {
    expect(editDistance('start', 'start')).toBe(0);
    expect(editDistance('strat', 'start')).toBe(1);
    expect(editDistance('memroy', 'memory')).toBe(1);
    expect(editDistance('memor', 'memory')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('names a typo only when it is close and nothing else is as close', () => {
    expect(nearest('strat', commands)).toBe('start');
    expect(nearest('snapshto', commands)).toBe('snapshot');
    expect(nearest('frob', commands)).toBeUndefined();
    // "sto" is as near to "stop" as to "stow": no guess
    expect(nearest('sto', ['stop', 'stow'])).toBeUndefined();
    expect(nearest('st', ['set', 'stop'])).toBe('set');
  });
});

describe('unknown commands', () => {
  it('maps the words of virsh, docker and friends to ours', () => {
    expect(commandHint('ls', commands)).toContain('did you mean `flotilla list`?');
    expect(commandHint('delete', commands)).toContain('`flotilla rm`');
    expect(commandHint('destroy', commands)).toContain('`flotilla stop --force`');
    expect(commandHint('reboot', commands)).toContain('`flotilla restart`');
    expect(commandHint('frob', commands)).toBe('; `flotilla help` lists the commands');
  });
  it('says so from the CLI itself, before any engine is touched', async () => {
    const io = { out: () => undefined, err: () => undefined };
    await expect(runCli(['strat', 'web'], io)).rejects.toThrow('unknown command "strat"; did you mean `flotilla start`?');
    await expect(runCli(['help', 'ls'], io)).rejects.toThrow('did you mean `flotilla list`?');
  });
});

describe('unknown options', () => {
  const create = Object.keys(COMMAND_OPTIONS.create!);
  it('turns virt-install and QEMU spellings into ours, when the command has them', () => {
    expect(optionHint('iso', create, 'create')).toBe('; did you mean --from iso:PATH?');
    expect(optionHint('disk', create, 'create')).toBe('; did you mean --from disk:PATH?');
    expect(optionHint('ram', create, 'create')).toBe('; did you mean --memory MIB?');
    expect(optionHint('vcpus', create, 'create')).toBe('; did you mean --cpus N?');
    expect(optionHint('name', create, 'create')).toContain('`flotilla create NAME`');
    // `stop` has no --from: no alias that points nowhere
    expect(optionHint('iso', Object.keys(COMMAND_OPTIONS.stop!), 'stop')).toBe('; `flotilla help stop` lists its options');
  });
  it('names the option a typo was meant to be', () => {
    expect(() => parseArgs(['web', '--memroy', '512'], COMMAND_OPTIONS.create!, 'create')).toThrow('unknown option --memroy for `flotilla create`; did you mean --memory?');
    expect(() => parseArgs(['web', '-f'], COMMAND_OPTIONS.stop!, 'stop')).toThrow('unknown option -f for `flotilla stop` (options are spelled --name); did you mean --force?');
    expect(() => parseArgs(['web', '--cwd', '/'], COMMAND_OPTIONS.exec!, 'exec')).toThrow('unknown option --cwd for `flotilla exec`; `flotilla help exec` lists its options');
  });
});
