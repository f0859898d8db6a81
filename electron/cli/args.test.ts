import { describe, expect, it } from 'vitest';
import { parseArgs, pathOnHost } from './args';
import { createConfigFromArgs, parseForward, parseSource, patchFromArgs } from './config-args';
import { COMMAND_OPTIONS } from './run-cli';

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
    expect(() => parseForward('22:80')).toThrow('--forward 22:80: host port must be from 1024 to 65535 (lower ports need root), or left empty to pick a free port');
    expect(() => parseForward('22:0')).toThrow('host port must be from 1024 to 65535');
    expect(() => parseForward('0')).toThrow('--forward 0: guest port must be a whole number from 1 to 65535');
    expect(() => parseForward('22:08080')).toThrow('--forward 22:08080: write ports without leading zeros (8080, not 08080)');
    expect(() => parseForward('022')).toThrow('leading zeros');
    expect(() => parseForward('22:70000')).toThrow('host port must be from 1024 to 65535');
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
  it('--autostart marks the VM; without it the spec default (off) applies', () => {
    expect(createConfigFromArgs('a', { autostart: true }).autostart).toBe(true);
    expect(createConfigFromArgs('a', {}).autostart).toBeUndefined();
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

describe('flotilla set', () => {
  it('maps only the options given to a vm.update patch', () => {
    expect(patchFromArgs({ cpus: 2, memory: 512, firmware: 'uefi', forward: ['22', '80:8080'] })).toEqual({
      cpus: 2,
      memoryMiB: 512,
      firmware: 'uefi',
      forwards: [
        { proto: 'tcp', guestPort: 22 },
        { proto: 'tcp', guestPort: 80, hostPort: 8080 },
      ],
    });
    expect(patchFromArgs({ name: 'b', restart: 'on-failure', display: 'vnc' })).toEqual({ name: 'b', restartPolicy: 'on-failure', display: 'vnc' });
    expect(patchFromArgs({ note: 'web server for the demo' })).toEqual({ note: 'web server for the demo' });
    expect(() => patchFromArgs({})).toThrow(/nothing to change/);
    expect(patchFromArgs({ autostart: 'on' })).toEqual({ autostart: true });
    expect(patchFromArgs({ 'keep-running': 'off', autostart: 'off' })).toEqual({ keepRunningOnQuit: false, autostart: false });
    expect(() => patchFromArgs({ 'keep-running': 'true' })).toThrow('--keep-running must be on or off, got "true"');
    expect(patchFromArgs({ autostart: 'off' })).toEqual({ autostart: false });
    expect(() => patchFromArgs({ autostart: 'yes' })).toThrow('--autostart must be on or off, got "yes"');
  });
});

describe('create options in plain words', () => {
  it.each([
    [['--from', 'iso:/x.iso', '--disk-size', '-1'], 'disk size must be a whole number of GiB, at least 1 (at most 4096)'],
    [['--memory', '300000'], 'memory must be a whole number of MiB from 64 to 262144'],
    [['--firmware', 'efi'], 'firmware must be bios or uefi'],
    [['--cpus', '0'], 'CPUs must be a whole number from 1 to 64'],
    [['--display', 'sdl'], 'display must be none or vnc'],
  ])('%j → %s', (argv, message) => {
    const a = parseArgs(argv, COMMAND_OPTIONS.create!, 'create');
    expect(() => createConfigFromArgs('vm', a.options)).toThrow(message);
    try {
      createConfigFromArgs('vm', a.options);
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', message });
    }
  });
  it('a name error says what a name may be, without a schema path', () => {
    expect(() => createConfigFromArgs('Bad_Name', {})).toThrow(/^name must be 1–63 characters of a-z, 0-9 and "-", starting with a letter or digit$/);
  });
  it('a word where a number goes is refused by the parser', () => {
    expect(() => parseArgs(['--disk-size', 'big'], COMMAND_OPTIONS.create!, 'create')).toThrow('--disk-size must be a whole number, not "big"');
  });
});

describe('pathOnHost', () => {
  it("resolves this computer's paths, and wants another host's absolute", () => {
    expect(pathOnHost('src', 'local', '/home/me')).toBe('/home/me/src');
    expect(pathOnHost('/srv/data', 'lab', '/home/me')).toBe('/srv/data');
    expect(() => pathOnHost('src', 'lab', '/home/me')).toThrow('src is a relative path; give its absolute path on host lab');
  });
});
