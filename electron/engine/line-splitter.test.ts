import { describe, expect, it } from 'vitest';
import { LineSplitter } from './line-splitter';

function collect(max = 16) {
  const lines: string[] = [];
  const oversize: number[] = [];
  const s = new LineSplitter({ maxLineBytes: max, onLine: (l) => lines.push(l), onOversize: (n) => oversize.push(n) });
  return { s, lines, oversize };
}

describe('LineSplitter', () => {
  it('splits lines, joins partial lines across chunks, strips CR', () => {
    const { s, lines } = collect();
    s.push(Buffer.from('ab'));
    s.push(Buffer.from('c\r\nde'));
    s.push(Buffer.from('f\n\ng\n'));
    expect(lines).toEqual(['abc', 'def', '', 'g']);
  });

  it('keeps a UTF-8 character split between chunks intact', () => {
    const { s, lines } = collect();
    const bytes = Buffer.from('é€\n');
    for (const b of bytes) s.push(Buffer.from([b]));
    expect(lines).toEqual(['é€']);
  });

  it('drops an oversized line, reports it, and resumes at the next line', () => {
    const { s, lines, oversize } = collect(8);
    s.push(Buffer.from('ok\n0123456'));
    s.push(Buffer.from('789abcdef'));
    s.push(Buffer.from('XYZ\nafter\n'));
    expect(lines).toEqual(['ok', 'after']);
    expect(oversize).toEqual([19]);
  });

  it('end() returns the unterminated rest once', () => {
    const { s, lines } = collect();
    s.push(Buffer.from('a\npartial'));
    expect(s.end()).toBe('partial');
    expect(s.end()).toBeUndefined();
    expect(lines).toEqual(['a']);
  });

  it('survives a long stream of random chunking without losing lines', () => {
    const { s, lines } = collect(64);
    const want = Array.from({ length: 500 }, (_, i) => `line-${i}-${'x'.repeat(i % 40)}`);
    const all = Buffer.from(want.join('\n') + '\n');
    let seed = 7;
    for (let i = 0; i < all.length; ) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const n = 1 + (seed % 50);
      s.push(all.subarray(i, i + n));
      i += n;
    }
    expect(lines).toEqual(want);
  });
});
