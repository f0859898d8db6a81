import { describe, expect, it } from 'vitest';
import { isAllowedExternalUrl } from './external-links';

describe('external link allowlist', () => {
  it.each(['https://github.com/flotilla-vm/flotilla#readme', 'https://www.qemu.org/docs/master/', 'http://wiki.debian.org/QEMU'])('opens %s', (u) => {
    expect(isAllowedExternalUrl(u)).toBe(true);
  });
  it.each([
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,<script>1</script>',
    'flotilla://app/index.html',
    'smb://github.com/share',
    'https://evil.example/',
    'https://github.com.evil.example/',
    'https://user:pw@github.com/',
    'https://github.com:8443/',
    'not a url',
    '',
  ])('refuses %s', (u) => {
    expect(isAllowedExternalUrl(u)).toBe(false);
  });
});
