// Which side of `flotilla cp` is the VM's: NAME:/absolute/path, anything else is a path here; and
// the progress line it keeps on a terminal.
import { describe, expect, it } from 'vitest';
import { parseCpEnd, progressText, TerminalProgress } from './cp-command';

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

describe('flotilla cp progress on a terminal', () => {
  it('says the share done, the sizes and the rate once there is a second to measure', () => {
    expect(progressText('big.iso', 112e6, 250e6, 24e6, 10_000)).toBe('big.iso: 44% (112.0 of 250.0 MB, 2.4 MB/s)');
    expect(progressText('big.iso', 1e6, 250e6, 1e6, 300)).toBe('big.iso: 0% (1.0 of 250.0 MB)');
    expect(progressText('log', 5e6, null, 5e6, 2000)).toBe('log: 5.0 MB, 2.5 MB/s');
  });

  it('redraws one line at most 4 times a second, puts other lines above it, and says nothing off a terminal', () => {
    let t = 0;
    const out: string[] = [];
    const p = new TerminalProgress({ out: () => undefined, err: (s) => out.push(s), errIsTty: true }, 'f', () => t);
    p.update(0, 100);
    t = 100;
    p.update(10, 100); // too soon: skipped
    t = 300;
    p.update(20, 100);
    p.say('resuming: 20 of 100 bytes\n');
    t = 310;
    p.update(100, 100); // the end is always drawn
    p.say('copied 100 bytes\n');
    expect(out).toEqual(['\r\x1b[Kf: 0% (0.0 of 0.0 MB)', '\r\x1b[Kf: 20% (0.0 of 0.0 MB)', '\r\x1b[Kresuming: 20 of 100 bytes\n', '\r\x1b[Kf: 100% (0.0 of 0.0 MB)', '\r\x1b[Kcopied 100 bytes\n']);
    const plain: string[] = [];
    const q = new TerminalProgress({ out: () => undefined, err: (s) => plain.push(s) }, 'f', () => 0);
    q.update(50, 100);
    q.say('copied 100 bytes\n');
    expect(plain).toEqual(['copied 100 bytes\n']);
  });
});
