// Parsers for what virsh prints (dominfo, domstats, event lines, domifaddr, snapshot-list, the
// guest agent's JSON). Everything here comes from a remote host and is untrusted: each parser
// accepts only the shapes it knows, caps lengths, and returns plain data. Nothing parsed here
// is ever used as a shell word, a local path or HTML (names are shown as text only).
import type { VmState } from '../../../../shared/state';

/** Printable text only, capped: domain names, reasons and messages from the host. */
export function safeText(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').slice(0, max);
}

/** libvirt's state words (dominfo "State:", domstate) to Flotilla's states. */
export function mapDomainState(word: string): VmState {
  switch (word.trim().toLowerCase()) {
    case 'running':
    case 'idle':
    case 'blocked':
      return 'running';
    case 'paused':
    case 'pmsuspended':
      return 'paused';
    case 'in shutdown':
      return 'stopping';
    case 'crashed':
      return 'crashed';
    default:
      return 'stopped';
  }
}

/** virDomainState numbers (domstats state.state). */
export function mapStateNumber(n: number): VmState {
  return (['stopped', 'running', 'running', 'paused', 'stopping', 'stopped', 'crashed', 'paused'] as const)[n] ?? 'stopped';
}

export interface DomInfo {
  name: string;
  uuid: string;
  state: VmState;
  stateWord: string;
  cpus: number;
  memoryMiB: number;
  persistent: boolean;
  /** libvirtd starts it when it starts */
  autostart: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseDominfo(text: string): DomInfo {
  const f = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z() ]{1,40}):\s*(.*)$/.exec(line);
    if (m) f.set(m[1]!.trim(), m[2]!.trim());
  }
  const uuid = (f.get('UUID') ?? '').toLowerCase();
  if (!UUID_RE.test(uuid)) throw new Error(`dominfo without a valid UUID`);
  const kib = Number(/^(\d+)\s*KiB$/.exec(f.get('Max memory') ?? '')?.[1] ?? 0);
  return {
    name: safeText(f.get('Name') ?? '', 200),
    uuid,
    stateWord: safeText(f.get('State') ?? '', 40),
    state: mapDomainState(f.get('State') ?? ''),
    cpus: Math.max(0, Math.min(4096, Number.parseInt(f.get('CPU(s)') ?? '0', 10) || 0)),
    memoryMiB: Math.round(kib / 1024),
    persistent: f.get('Persistent') === 'yes',
    autostart: f.get('Autostart') === 'enable',
  };
}

/** The VM id for a domain: its UUID without dashes (32 hex digits, a valid Flotilla VM id). */
export function uuidToId(uuid: string): string {
  return uuid.replace(/-/g, '');
}
export function idToUuid(id: string): string | null {
  if (!/^[0-9a-f]{32}$/.test(id)) return null;
  return `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
}

/** `virsh list --all --uuid`: one UUID per line. */
export function parseUuidList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().toLowerCase())
    .filter((l) => UUID_RE.test(l));
}

export type DomainEvent =
  | { kind: 'lifecycle'; name: string; event: string; detail: string }
  | { kind: 'agent'; name: string; connected: boolean }
  | { kind: 'other'; name: string; event: string }
  | { kind: 'unparsed' };

const LIFECYCLE_WORDS = 'Defined|Undefined|Started|Suspended|Resumed|Stopped|Shutdown|PMSuspended|Crashed';
// The name is quoted without escaping, so it is matched greedily and the fixed vocabulary after
// it anchors the match at the right end: a name containing "': " cannot shift the event words.
const LIFECYCLE_RE = new RegExp(`^\\S+ \\S+: event 'lifecycle' for domain '(.*)': (${LIFECYCLE_WORDS})(?: ([A-Za-z ]{0,80}))?$`);
const AGENT_RE = /^\S+ \S+: event 'agent-lifecycle' for domain '(.*)': state: '(connected|disconnected)' reason: '[a-z ]{0,40}'$/;
const OTHER_RE = /^\S+ \S+: event '([a-z-]{1,40})' for domain '(.*?)'(?::|$)/;

/** One line of `virsh event --all --loop --timestamp`. */
export function parseEventLine(line: string): DomainEvent {
  if (line.length > 4096) return { kind: 'unparsed' };
  let m = LIFECYCLE_RE.exec(line);
  if (m) return { kind: 'lifecycle', name: m[1]!, event: m[2]!, detail: (m[3] ?? '').trim() };
  m = AGENT_RE.exec(line);
  if (m) return { kind: 'agent', name: m[1]!, connected: m[2] === 'connected' };
  m = OTHER_RE.exec(line);
  if (m) return { kind: 'other', event: m[1]!, name: m[2]! };
  return { kind: 'unparsed' };
}

/** The state a lifecycle event leaves the domain in (null: no change to the run state). */
export function stateAfterEvent(event: string, detail: string): VmState | 'removed' | null {
  switch (event) {
    case 'Started':
    case 'Resumed':
      return 'running';
    case 'Suspended':
    case 'PMSuspended':
      return 'paused';
    case 'Stopped':
      return detail === 'Crashed' || detail === 'Failed' ? 'crashed' : 'stopped';
    case 'Crashed':
      return 'crashed';
    case 'Shutdown':
      return detail.startsWith('Finished') ? null : 'stopping';
    case 'Undefined':
      // a rename (domrename) undefines the old name and defines the new one: the same domain, by
      // UUID, whose handle (and open console) stays; the definition is read again instead
      return detail === 'Renamed' ? null : 'removed';
    default:
      return null;
  }
}

/** `virsh domstats --state --cpu-total --balloon DOMAIN`: key=value lines. */
export function parseDomstats(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s+([a-z0-9._-]{1,80})=(-?\d+(?:\.\d+)?)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** `virsh domstats` of several domains: each `Domain: 'NAME'` block's values, by the name libvirt printed. */
export function parseDomstatsAll(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  let cur: Map<string, number> | null = null;
  for (const line of text.split('\n')) {
    const head = /^Domain: '(.*)'\s*$/.exec(line);
    if (head) out.set(head[1]!, (cur = new Map()));
    else if (cur) for (const [k, v] of parseDomstats(line)) cur.set(k, v);
  }
  return out;
}

const UNIT_BYTES: Record<string, number> = { B: 1, bytes: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40, PiB: 2 ** 50 };

/**
 * `virsh vol-list --details` rows: name, path, type, capacity, allocation (sizes as virsh prints
 * them, "1.00 GiB"). A row that does not read so is skipped; names and paths are the host's text.
 */
export function parseVolDetails(text: string): { name: string; path: string; bytes: number | null }[] {
  const out: { name: string; path: string; bytes: number | null }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S.*?)\s+(\/\S.*?)\s+(?:file|block|dir|network|netdir|ploop)\s+(?:([\d.]+) (\S+)|-)\s+(?:[\d.]+ \S+|-)\s*$/.exec(line);
    // a path with control characters is no path a user could pick (nor print safely)
    // eslint-disable-next-line no-control-regex
    if (!m || m[2]!.length > 4096 || /[\u0000-\u001f\u007f-\u009f]/.test(m[2]!)) continue;
    const unit = m[4] ? UNIT_BYTES[m[4]] : undefined;
    out.push({ name: safeText(m[1]!, 200), path: m[2]!, bytes: m[3] && unit ? Math.round(Number(m[3]) * unit) : null });
  }
  return out;
}

/** `virsh domifaddr --source agent`: the addresses column, loopback left out. */
export function parseDomifaddr(text: string): string[] {
  const ips: string[] = [];
  for (const line of text.split('\n')) {
    const m = /\s(ipv4|ipv6)\s+([0-9a-fA-F.:]{2,45})\/\d{1,3}\s*$/.exec(line);
    if (!m) continue;
    const ip = m[2]!;
    if (ip === '127.0.0.1' || ip === '::1' || ip.toLowerCase().startsWith('fe80')) continue;
    ips.push(ip);
  }
  return [...new Set(ips)].slice(0, 32);
}

/** `virsh snapshot-list --name`: one name per line. */
export function parseNameList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && l.length <= 200)
    .map((l) => safeText(l));
}

/** A guest agent reply (`qemu-agent-command`): JSON with a `return` member. */
export function parseAgentReturn(text: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('the guest agent sent something that is not JSON');
  }
  if (!v || typeof v !== 'object' || !('return' in v)) throw new Error('the guest agent reply has no "return"');
  return (v as { return: unknown }).return;
}

/** The VNC address from `virsh domdisplay --type vnc`: vnc://127.0.0.1:N (display N → port 5900+N). */
export function parseVncDisplay(text: string): { host: string; port: number } | null {
  const m = /^vnc:\/\/(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})\s*$/.exec(text.trim());
  if (!m) return null;
  const port = 5900 + Number(m[2]);
  return port <= 65535 ? { host: '127.0.0.1', port } : null;
}
