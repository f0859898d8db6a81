import { describe, expect, it } from 'vitest';
import { screenshotName } from './format';

describe('screenshot file names', () => {
  it('carry the VM name and the local time, sortable', () => {
    expect(screenshotName('web-1', new Date(2026, 11, 5, 9, 4, 7))).toBe('web-1-2026-12-05-090407.png');
  });
});
