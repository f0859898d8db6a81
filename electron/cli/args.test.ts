import { describe, expect, it } from 'vitest';
import { parseArgs, parseForward, parseSource } from './args';
import { createConfigFromArgs } from './run-cli';

describe('parseArgs', () => {
  const spec = { json: { kind: 'bool' as const }, cpus: { kind: 'int' as const }, forward: { kind: 'string' as const, multi: true } };

  it('reads positionals, values in both spellings, repeats and the rest after --', () => {
    const a = parseArgs(['web', '--cpus', '2', '--forward=22', '--forward', '80:8080', '--json', '--', 'ls', '--cpus'], spec, 'x');
    expect(a.positionals).toEqual(['web']);
    expect(a.options).toEqual({ cpus: 2, forward: ['22', '80:8080'], json: true });
    expect(a.rest).toEqual(['ls', '--cpus']);
  });

  it('names unknown options, missing values and bad numbers', () => {
    expect(() => parseArgs(['--cpu', '2'], spec, 'create')).toThrow('unknown option --cpu for `flotilla create`');
    expect(() => parseArgs(['--cpus'], spec, 'create')).toThrow('--cpus needs a value');
    expect(() => parseArgs(['--cpus', 'two'], spec, 'create')).toThrow('--cpus must be a whole number');
    expect(() => parseArgs(['--json=1'], spec, 'create')).toThrow('--json takes no value');
    expect(() => parseArgs(['-f'], spec, 'stop')).toThrow('unknown option -f');
    expect(() => parseArgs(['--cpus', '1', '--cpus', '2'], spec, 'x')).toThrow('given twice');
  });
});

describe('parseForward', () => {
  it.each([
    ['22', { proto: 'tcp', guestPort: 22 }],
    ['80:8080', { proto: 'tcp', guestPort: 80, hostPort: 8080 }],
    ['53/udp', { proto: 'udp', guestPort: 53 }],
    ['53:5353/udp', { proto: 'udp', guestPort: 53, hostPort: 5353 }],
  ])('%s', (text, want) => expect(parseForward(text)).toEqual(want));

  it('refuses malformed forwards and privileged host ports', () => {
    expect(() => parseForward('ssh')).toThrow('GUEST[:HOST][/udp]');
    expect(() => parseForward('22:80')).toThrow('1024');
    expect(() => parseForward('0')).toThrow('1–65535');
  });
});

describe('parseSource', () => {
  it('resolves relative paths against the current directory', () => {
    expect(parseSource('iso:x.iso', { diskSizeGiB: 4 }, '/home/u')).toEqual({ kind: 'iso', path: '/home/u/x.iso', diskSizeGiB: 4 });
    expect(parseSource('disk:/d.qcow2', { diskMode: 'reference' })).toEqual({ kind: 'disk', path: '/d.qcow2', mode: 'reference' });
    expect(parseSource('kernel:/k', { initrd: 'i', append: 'console=ttyS0' }, '/b')).toEqual({ kind: 'kernel', kernel: '/k', initrd: '/b/i', append: 'console=ttyS0' });
    expect(parseSource(undefined, {})).toEqual({ kind: 'default', diskSizeGiB: 8 });
    expect(parseSource('default', { diskSizeGiB: 3 })).toEqual({ kind: 'default', diskSizeGiB: 3 });
  });
  it('says which option does not fit', () => {
    expect(() => parseSource('iso:', {})).toThrow('needs a path');
    expect(() => parseSource('floppy:/x', {})).toThrow('--from must be');
    expect(() => parseSource('default', { initrd: '/i' })).toThrow('--initrd');
    expect(() => parseSource('disk:/d.qcow2', { diskSizeGiB: 3 })).toThrow('--disk-size only applies to --from default and --from iso:PATH');
  });
});

describe('createConfigFromArgs', () => {
  it('maps CLI options to a vm.create config', () => {
    expect(createConfigFromArgs('web', { cpus: 2, memory: 512, forward: ['22', '80:8080'], restart: 'on-failure', 'keep-running': true, display: 'vnc' })).toEqual({
      name: 'web',
      source: { kind: 'default', diskSizeGiB: 8 },
      cpus: 2,
      memoryMiB: 512,
      display: 'vnc',
      forwards: [
        { proto: 'tcp', guestPort: 22 },
        { proto: 'tcp', guestPort: 80, hostPort: 8080 },
      ],
      restartPolicy: 'on-failure',
      keepRunningOnQuit: true,
    });
  });
  it('forwards SSH for the built-in Linux unless --forward says otherwise', () => {
    expect(createConfigFromArgs('a', {}).forwards).toEqual([{ proto: 'tcp', guestPort: 22 }]);
    expect(createConfigFromArgs('a', { forward: ['80'] }).forwards).toEqual([{ proto: 'tcp', guestPort: 80 }]);
    expect(createConfigFromArgs('a', { from: 'iso:/x.iso' }).forwards).toBeUndefined();
  });
  it('needs a name', () => {
    expect(() => createConfigFromArgs(undefined, {})).toThrow('NAME');
  });
});
