import { describe, expect, it } from 'vitest';
import { joinPath, startFolder } from './file-picker';

describe('file picker paths', () => {
  it('starts in the folder of the path typed so far, or at home without one', () => {
    expect(startFolder('/home/me/isos/debian.iso')).toBe('/home/me/isos');
    expect(startFolder('/home/me/isos/')).toBe('/home/me/isos');
    expect(startFolder('/debian.iso')).toBe('/');
    expect(startFolder('/')).toBe('/');
    expect(startFolder('')).toBeUndefined();
    expect(startFolder('debian.iso')).toBeUndefined();
  });
  it('joins names without doubling the root slash', () => {
    expect(joinPath('/', 'srv')).toBe('/srv');
    expect(joinPath('/srv', 'a.iso')).toBe('/srv/a.iso');
  });
});
