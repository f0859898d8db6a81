// Which side of `flotilla cp` is the VM's: NAME:/absolute/path, anything else is a path here.
import { describe, expect, it } from 'vitest';
import { parseCpEnd } from './cp-command';

describe('flotilla cp arguments', () => {
  it('reads NAME:/path as the VM side and anything else as a path here', () => {
    expect(parseCpEnd('web:/root/notes.txt', '/home/me')).toEqual({ vm: 'web', path: '/root/notes.txt' });
    expect(parseCpEnd('abcdef123456:/etc/hostname', '/home/me')).toEqual({ vm: 'abcdef123456', path: '/etc/hostname' });
    expect(parseCpEnd('notes.txt', '/home/me')).toEqual({ local: '/home/me/notes.txt' });
    expect(parseCpEnd('/tmp/a:b', '/home/me')).toEqual({ local: '/tmp/a:b' });
    expect(parseCpEnd('./a:/b', '/home/me')).toEqual({ local: '/home/me/a:/b' });
  });

  it('refuses a VM path that is not absolute, and says how to name a local file with a colon', () => {
    expect(() => parseCpEnd('web:notes.txt')).toThrow(/must be absolute \(VM:\/path\); for a file here whose name holds a colon, write \.\/web:notes\.txt/);
  });
});
