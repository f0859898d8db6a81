import { describe, expect, it } from 'vitest';
import { ByteRing } from './byte-ring';

describe('ByteRing', () => {
  it('keeps everything while under capacity', () => {
    const r = new ByteRing(10);
    r.push(Buffer.from('abc'));
    r.push(Buffer.from('def'));
    expect(r.snapshot().toString()).toBe('abcdef');
    expect(r.size).toBe(6);
  });

  it('keeps only the newest bytes once full, across wrap-around', () => {
    const r = new ByteRing(5);
    r.push(Buffer.from('abcd'));
    r.push(Buffer.from('efg'));
    expect(r.snapshot().toString()).toBe('cdefg');
    r.push(Buffer.from('hi'));
    expect(r.snapshot().toString()).toBe('efghi');
    expect(r.size).toBe(5);
  });

  it('a chunk larger than the ring keeps its tail', () => {
    const r = new ByteRing(4);
    r.push(Buffer.from('xy'));
    r.push(Buffer.from('0123456789'));
    expect(r.snapshot().toString()).toBe('6789');
  });

  it('matches a naive model over random pushes', () => {
    const r = new ByteRing(97);
    let model = Buffer.alloc(0);
    let seed = 1;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 48271) % 2147483647;
      const chunk = Buffer.alloc(seed % 150, i % 256);
      r.push(chunk);
      model = Buffer.concat([model, chunk]).subarray(-97);
    }
    expect(r.snapshot().equals(model)).toBe(true);
  });

  it('snapshot is a copy; clear empties', () => {
    const r = new ByteRing(8);
    r.push(Buffer.from('abc'));
    const s = r.snapshot();
    r.push(Buffer.from('zzzzzzzz'));
    expect(s.toString()).toBe('abc');
    r.clear();
    expect(r.size).toBe(0);
    expect(r.snapshot().length).toBe(0);
  });

  it('rejects a nonsense capacity', () => {
    expect(() => new ByteRing(0)).toThrow(/positive integer/);
  });
});
