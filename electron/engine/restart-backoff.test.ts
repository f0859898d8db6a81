import { describe, expect, it } from 'vitest';
import { RestartBackoff } from './restart-backoff';

describe('RestartBackoff', () => {
  it('doubles from 1 s and caps', () => {
    const b = new RestartBackoff({ baseMs: 1000, maxMs: 8000, stableMs: 60_000 });
    expect([0, 0, 0, 0, 0, 0].map(() => b.nextDelay(100))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('starts over after a stable run', () => {
    const b = new RestartBackoff({ baseMs: 1000, maxMs: 60_000, stableMs: 60_000 });
    b.nextDelay(10);
    b.nextDelay(10);
    expect(b.nextDelay(10)).toBe(4000);
    expect(b.nextDelay(60_000)).toBe(1000);
    expect(b.nextDelay(10)).toBe(2000);
  });

  it('reset() forgets failures (a manual start)', () => {
    const b = new RestartBackoff();
    b.nextDelay(0);
    b.nextDelay(0);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.nextDelay(0)).toBe(1000);
  });
});
