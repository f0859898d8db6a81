import { describe, expect, it } from 'vitest';
import { secondsLeft } from './stop-countdown';

describe('secondsLeft', () => {
  const at = Date.parse('2026-12-05T10:00:30.000Z');
  it('rounds up to whole seconds and never goes below zero', () => {
    expect(secondsLeft('2026-12-05T10:00:30.000Z', at - 29_100)).toBe(30);
    expect(secondsLeft('2026-12-05T10:00:30.000Z', at - 1)).toBe(1);
    expect(secondsLeft('2026-12-05T10:00:30.000Z', at + 5000)).toBe(0);
  });
  it('has nothing to count without a (readable) deadline', () => {
    expect(secondsLeft(null, at)).toBeNull();
    expect(secondsLeft(undefined, at)).toBeNull();
    expect(secondsLeft('soon', at)).toBeNull();
  });
});
