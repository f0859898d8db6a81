// Which links may leave the app for the user's browser. Only https (or http for the few doc
// hosts that still serve it) to a short list of documentation hosts; never file:, javascript:,
// custom schemes, credentials in the URL or odd ports. Pure, unit tested.

export const DOC_HOSTS: readonly string[] = [
  'github.com',
  'www.qemu.org',
  'qemu.org',
  'qemu-project.gitlab.io',
  'www.electronjs.org',
  'wiki.debian.org',
  'www.debian.org',
  'flotilla.invalid',
];

export function isAllowedExternalUrl(raw: string): boolean {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return false;
  if (u.username || u.password || u.port) return false;
  return DOC_HOSTS.includes(u.hostname.toLowerCase());
}
