// The console find bar's count, as the search addon reports it (the find itself runs in a real
// browser: e2e/ui.spec.ts, test 2).
import { describe, expect, it } from 'vitest';
import { findResultText } from './console-tab';

describe('findResultText', () => {
  it('says where the current match is, that there is none, or that the count stopped', () => {
    expect(findResultText(null)).toBe('');
    expect(findResultText({ resultIndex: 0, resultCount: 0 })).toBe('No matches');
    expect(findResultText({ resultIndex: 2, resultCount: 12 })).toBe('3 of 12');
    // past the highlight limit the addon gives no index
    expect(findResultText({ resultIndex: -1, resultCount: 1000 })).toBe('1000+ matches');
  });
});
