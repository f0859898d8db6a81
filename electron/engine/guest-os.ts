// What a guest says it runs (qemu-ga's guest-get-osinfo), as one line for the UI and `flotilla
// info`: "Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-28-amd64", or the kernel alone when the
// guest has no os-release. The answer is the guest's: only printable text is kept (no control or
// bidirectional-override characters), whitespace runs become one space, and it is cut to a length.

import { FlotillaError } from '../../shared/errors';

const MAX_CHARS = 120;

/** Not a C0 or C1 control, a lone surrogate (a cut pair), a zero-width or bidirectional formatting character, or the BOM. */
function printable(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  return !(c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0xfeff);
}

/** Printable text of a guest-supplied string, or '' when it is not a string. */
export function guestText(v: unknown, max = MAX_CHARS): string {
  if (typeof v !== 'string') return '';
  const clean = [...v.slice(0, 4 * max)]
    .map((ch) => (printable(ch) ? ch : ' '))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
  return [...clean].slice(0, max).join('');
}

/** One line for a guest-get-osinfo answer; null when it names nothing. */
export function describeGuestOs(info: unknown): string | null {
  if (typeof info !== 'object' || info === null) return null;
  const o = info as Record<string, unknown>;
  const distro = guestText(o['pretty-name']) || [guestText(o.name), guestText(o.version)].filter(Boolean).join(' ');
  // qemu-ga names no kernel (Linux, Windows NT): its release only
  const release = guestText(o['kernel-release']);
  const kernel = release ? `kernel ${release}` : '';
  const line = [distro, kernel].filter(Boolean).join(' · ');
  return line ? [...line].slice(0, MAX_CHARS).join('') : null;
}

/**
 * What to keep when guest-get-osinfo failed: null when the agent answered with an error (it has no
 * such command, or refuses it), undefined when the question did not get through (a busy agent, a
 * timeout, a lost connection), so that the caller asks again later instead of keeping "unknown".
 */
export function osInfoAfterFailure(err: unknown): null | undefined {
  const code = err instanceof FlotillaError ? err.code : 'INTERNAL';
  return code === 'AGENT_UNAVAILABLE' || code === 'TIMEOUT' || code === 'DISCONNECTED' ? undefined : null;
}
