// The one-line OS description from qemu-ga's guest-get-osinfo, and what is done with a hostile
// answer (the guest is not trusted). The real agent's answer is checked in builtin-linux.itest.
import { describe, expect, it } from 'vitest';
import { FlotillaError } from '../../shared/errors';
import { describeGuestOs, guestText, osInfoAfterFailure } from './guest-os';

describe('describeGuestOs', () => {
  it('a distribution with os-release, the kernel after it', () => {
    expect(
      describeGuestOs({ 'kernel-release': '6.1.0-28-amd64', 'kernel-version': '#1 SMP', machine: 'x86_64', id: 'debian', name: 'Debian GNU/Linux', 'pretty-name': 'Debian GNU/Linux 12 (bookworm)', version: '12 (bookworm)', 'version-id': '12' }),
    ).toBe('Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-28-amd64');
    expect(describeGuestOs({ name: 'Alpine Linux', version: '3.20', 'kernel-release': '6.6.1' })).toBe('Alpine Linux 3.20 · kernel 6.6.1');
  });

  it('the kernel alone when the guest has no os-release; nothing when it says nothing', () => {
    expect(describeGuestOs({ 'kernel-release': '6.1.0-28-cloud-amd64', 'kernel-version': '#1 SMP PREEMPT_DYNAMIC Debian', machine: 'x86_64' })).toBe('kernel 6.1.0-28-cloud-amd64');
    expect(describeGuestOs({})).toBeNull();
    expect(describeGuestOs(null)).toBeNull();
    expect(describeGuestOs('Debian')).toBeNull();
    expect(describeGuestOs({ 'pretty-name': 42 })).toBeNull();
  });

  it('keeps only printable text from a hostile guest, and cuts it short', () => {
    expect(guestText('Evil\u0007OS\n\u001b[31mred\u202eeman')).toBe('Evil OS [31mred eman');
    expect(describeGuestOs({ 'pretty-name': '<img src=x onerror=alert(1)>' })).toBe('<img src=x onerror=alert(1)>');
    const long = describeGuestOs({ 'pretty-name': 'x'.repeat(5000), 'kernel-release': 'y'.repeat(5000) });
    expect([...long!].length).toBe(120);
  });
});

describe('osInfoAfterFailure', () => {
  it('asks again (undefined) when the question did not get through, keeps "cannot say" (null) when the agent refused it', () => {
    for (const code of ['AGENT_UNAVAILABLE', 'TIMEOUT', 'DISCONNECTED'] as const) expect(osInfoAfterFailure(new FlotillaError(code, 'x'))).toBeUndefined();
    expect(osInfoAfterFailure(new FlotillaError('AGENT_ERROR', 'guest agent: guest-get-osinfo failed: The command guest-get-osinfo has not been found'))).toBeNull();
    expect(osInfoAfterFailure(new FlotillaError('INTERNAL', "unable to execute QEMU agent command 'guest-get-osinfo'"))).toBeNull();
    expect(osInfoAfterFailure(new Error('anything else'))).toBeNull();
  });
});
