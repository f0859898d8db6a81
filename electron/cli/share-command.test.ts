import { describe, expect, it } from 'vitest';
import { defaultShareTag } from '../../shared/spec';
import { parseShareOption } from './share-command';

describe('--share HOSTPATH[:TAG][:ro]', () => {
  it.each([
    ['/srv/src', { hostPath: '/srv/src', tag: 'src', readOnly: false }],
    ['/srv/src:code', { hostPath: '/srv/src', tag: 'code', readOnly: false }],
    ['/srv/src:code:ro', { hostPath: '/srv/src', tag: 'code', readOnly: true }],
    ['/srv/Docs:ro', { hostPath: '/srv/Docs', tag: 'docs', readOnly: true }],
    ['rel/dir:x', { hostPath: '/home/me/rel/dir', tag: 'x', readOnly: false }],
    // a ':' in the path that is not followed by a valid tag stays part of the path
    ['/srv/a:B C', { hostPath: '/srv/a:B C', tag: 'a-b-c', readOnly: false }],
  ])('%s', (text, want) => {
    expect(parseShareOption(text, '/home/me')).toEqual(want);
  });
  it('refuses an empty path', () => {
    expect(() => parseShareOption(':ro', '/home/me')).toThrow(/give a host directory/);
  });
});

describe('defaultShareTag', () => {
  it('is the directory name in tag characters, unique among the taken ones', () => {
    expect(defaultShareTag('/home/me/My Project/')).toBe('my-project');
    expect(defaultShareTag('/srv/.hidden')).toBe('hidden');
    expect(defaultShareTag('/srv/src', new Set(['src', 'src-2']))).toBe('src-3');
    expect(defaultShareTag('/srv/%%%')).toBe('share');
  });
});
