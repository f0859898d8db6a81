// Validation of libvirt connection URIs before anything uses them (issue 13, security).
// Only three shapes are accepted: qemu:///system, qemu:///session and
// qemu+ssh://user@host[:port]/system. libvirt's URI parameters that run a command or change
// the transport (command, netcat, socket, proxy, no_verify, no_tty, …) are refused: Flotilla
// makes its own ssh connection (ssh-master.ts) with host keys checked and keys/agent only, so a
// URI must not be able to turn either off. Jumps and proxies belong in ~/.ssh/config, which that
// ssh reads. No option re-enables the refused parameters.
import { FlotillaError } from '../../../../shared/errors';

export type LibvirtTarget =
  | { transport: 'local'; uri: 'qemu:///system' | 'qemu:///session' }
  | {
      transport: 'ssh';
      user: string;
      host: string;
      port: number;
      /** from the URI's keyfile parameter (absolute path) */
      keyfile?: string;
      /** from the URI's known_hosts parameter (absolute path); default: the user's ~/.ssh/known_hosts */
      knownHosts?: string;
    };

/** Parameters that run a program, pick another transport or turn off a check. */
const REFUSED = new Set(['command', 'netcat', 'socket', 'proxy', 'no_verify', 'no_tty', 'sshauth', 'mode', 'name', 'known_hosts_verify', 'pkipath', 'tls_priority', 'tls']);
const ALLOWED_SSH = new Set(['keyfile', 'known_hosts']);

// A user name ssh accepts, never starting with "-" (it would become an ssh option).
const USER_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;
// DNS names and IPv4 (letters, digits, dots, hyphens; no leading "-"), or a bracketed IPv6 address.
const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
const IPV6_RE = /^\[[0-9a-f:.]{2,45}\]$/i;

function bad(uri: string, why: string): FlotillaError {
  return new FlotillaError('BAD_REQUEST', `libvirt URI ${JSON.stringify(uri)}: ${why}`, { field: 'uri' });
}

function absPath(uri: string, key: string, v: string): string {
  if (!v.startsWith('/') || v.includes('\0') || v.length > 4096) throw bad(uri, `${key} must be an absolute path`);
  return v;
}

export function parseLibvirtUri(text: string): LibvirtTarget {
  const uri = text.trim();
  if (uri === 'qemu:///system' || uri === 'qemu:///session') return { transport: 'local', uri };
  if (/[\s\0\\]/.test(uri) || uri.length > 2048) throw bad(uri, 'contains whitespace, backslashes or NUL bytes');
  const m = /^([a-z0-9+]+):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?(#.*)?$/i.exec(uri);
  if (!m) throw bad(uri, 'not a URI; use qemu:///system, qemu:///session or qemu+ssh://user@host[:port]/system');
  const [, scheme, userPart, hostPort, path, query, fragment] = m;
  if (scheme === 'qemu') throw bad(uri, 'only qemu:///system and qemu:///session are local URIs (no host, no parameters)');
  if (scheme !== 'qemu+ssh') throw bad(uri, `transport "${scheme}" is not supported; use qemu+ssh://user@host[:port]/system for another machine`);
  if (fragment) throw bad(uri, 'a fragment (#…) is not allowed');
  if (path !== '/system') throw bad(uri, 'a remote URI must end in /system (the session daemon of a remote user is not supported)');
  if (!userPart) throw bad(uri, 'name the ssh user: qemu+ssh://user@host/system');
  const user = decodeURIComponent(userPart);
  if (!USER_RE.test(user)) throw bad(uri, `user ${JSON.stringify(user)} is not a valid ssh user name`);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostPort ?? '');
  if (!hp || !hp[1]) throw bad(uri, 'name the host: qemu+ssh://user@host[:port]/system');
  const host = hp[1];
  if (!(HOSTNAME_RE.test(host) || IPV6_RE.test(host))) throw bad(uri, `host ${JSON.stringify(host)} is not a host name or IP address`);
  const port = hp[2] === undefined ? 22 : Number(hp[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(uri, `port ${hp[2]} is out of range`);
  const target: LibvirtTarget = { transport: 'ssh', user, host: host.startsWith('[') ? host.slice(1, -1) : host, port };
  for (const pair of (query ?? '').split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    if (REFUSED.has(key)) {
      throw bad(uri, `parameter "${key}" is refused: it would run a command, change the transport or skip a check (put jumps and proxies in ~/.ssh/config instead)`);
    }
    if (!ALLOWED_SSH.has(key)) throw bad(uri, `unknown parameter "${key}" (allowed: ${[...ALLOWED_SSH].join(', ')})`);
    if (key === 'keyfile') target.keyfile = absPath(uri, key, value);
    if (key === 'known_hosts') target.knownHosts = absPath(uri, key, value);
  }
  return target;
}

/** host[:port] as ssh and known_hosts write it. */
export function sshHostLabel(t: { host: string; port: number }): string {
  const h = t.host.includes(':') ? `[${t.host}]` : t.host;
  return t.port === 22 ? h : `[${t.host}]:${t.port}`;
}
