// Per-domain operations that go through the guest agent or libvirt's query APIs: exec and files
// (guest-exec and guest-file-* through `qemu-agent-command`), IPs (`domifaddr --source agent`), stats
// (`domstats`), snapshots (libvirt's snapshot API) and screenshots. Every reply is untrusted
// and parsed defensively; domains are addressed by UUID only.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecResult } from '../../../../shared/contract';
import type { SnapshotInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import type { AgentRequest } from '../../agent-files';
import { setClockByDate } from '../../guest-clock';
import { describeGuestOs, osInfoAfterFailure } from '../../guest-os';
import type { LibvirtDomain } from './domain-info';
import type { Virsh } from './virsh';
import { sharesOf } from './domain-shares';
import type { Share } from '../../../../shared/spec';
import { bootsUefi, cdromOf, descriptionOf, diskTargets, flotillaMetadataOf, hasConsolePort, hasVncGraphics, ownDiskTargets, type CdDrive } from './domain-xml';
import { parseAgentReturn, parseDominfo, parseDomifaddr, parseDomstats, parseDomstatsAll, parseNameList, type DomInfo } from './virsh-parse';

/**
 * One domain as libvirt has it (by UUID, or by the name an event carried, passed as one argv
 * word): dominfo, Flotilla's metadata, its description (the note), whether it has the built-in
 * guest's console port, its CD drive and, for a domain Flotilla did not make, whether it has a VNC
 * display (screenshots or console text on its tile).
 */
export async function readDomain(
  virsh: Virsh,
  ref: string,
): Promise<{ info: DomInfo; meta: Record<string, unknown> | null; description: string | undefined; vnc: boolean | undefined; consolePort: boolean; cdrom: CdDrive | null; disks: string[]; shares: Share[]; uefi: boolean }> {
  const info = parseDominfo((await virsh.run(['dominfo', '--domain', ref])).stdout);
  // the rest is in its XML, Flotilla's metadata and the description too: two virsh calls a read,
  // not four (a host's every domain is read at each connect). An XML that cannot be read fails
  // the read, and the domain keeps what it had.
  const xml = (await virsh.run(['dumpxml', '--domain', info.uuid])).stdout;
  const meta = flotillaMetadataOf(xml);
  return { info, meta, description: descriptionOf(xml), vnc: meta ? undefined : hasVncGraphics(xml), consolePort: hasConsolePort(xml), cdrom: cdromOf(xml), disks: diskTargets(xml), shares: sharesOf(xml), uefi: bootsUefi(xml) };
}

/**
 * Undefines a domain with its snapshots' metadata and NVRAM; with `storage`, also the pool volumes
 * of its own writable disks (ownDiskTargets), never its CD's image or a shared disk, which
 * `--remove-all-storage` would delete too. A built-in guest's kernel and initrd are no disks.
 */
export async function undefineDomain(virsh: Virsh, uuid: string, storage: boolean): Promise<void> {
  const args = ['undefine', '--domain', uuid, '--snapshots-metadata', '--nvram'];
  if (storage) {
    const own = ownDiskTargets((await virsh.run(['dumpxml', '--inactive', '--domain', uuid])).stdout);
    if (own.length) args.push('--storage', own.join(','));
  }
  await virsh.run(args);
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const b64 = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');

/**
 * Linux takes at most 128 KiB in one command-line argument (MAX_ARG_STRLEN), and an agent command
 * reaches virsh as one: what an agent command carries stays well under that.
 */
export const AGENT_ARG_MAX_BYTES = 120 * 1024;
/** Bytes of a file per agent command through virsh (their base64 in one argument). */
export const VIRSH_FILE_CHUNK_BYTES = 64 * 1024;

export async function agentCommand(virsh: Virsh, uuid: string, cmd: Record<string, unknown>, timeoutSec = 10): Promise<unknown> {
  const json = JSON.stringify(cmd);
  if (json.length > AGENT_ARG_MAX_BYTES) throw new FlotillaError('INTERNAL', `agent command ${String(cmd.execute)} is too long for virsh's command line (${json.length} bytes)`);
  const r = await virsh.run(['qemu-agent-command', '--domain', uuid, '--timeout', String(timeoutSec), json], { timeoutMs: (timeoutSec + 10) * 1000 });
  try {
    return parseAgentReturn(r.stdout.trim());
  } catch (err) {
    throw new FlotillaError('AGENT_ERROR', (err as Error).message);
  }
}

/** One agent command through virsh, for agent-files.ts. */
export function virshAgentRequest(virsh: Virsh, uuid: string): AgentRequest {
  return (command, args) => agentCommand(virsh, uuid, { execute: command, arguments: args }, 30);
}

export async function agentPing(virsh: Virsh, uuid: string): Promise<boolean> {
  try {
    await agentCommand(virsh, uuid, { execute: 'guest-ping' }, 3);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the guest runs, as one line (guest-os.ts). null when its agent answered but cannot say (no
 * guest-get-osinfo, or nothing named); undefined when the question did not get through (the agent
 * busy or gone, virsh slow, the host unreachable), so that it is asked again. (Until 2026-12-06 such
 * a miss was kept as null, and a guest busy right after boot never showed what it runs.)
 */
export async function guestOsOf(virsh: Virsh, uuid: string): Promise<string | null | undefined> {
  return agentCommand(virsh, uuid, { execute: 'guest-get-osinfo' }, 5).then(describeGuestOs, osInfoAfterFailure);
}

/** Runs a program in the guest (no shell unless the command names one) and waits for it. */
export async function guestExec(virsh: Virsh, uuid: string, command: string[], opts: { stdin?: string | Buffer; timeoutMs: number }): Promise<ExecResult> {
  if (opts.stdin !== undefined && Buffer.byteLength(opts.stdin) > VIRSH_FILE_CHUNK_BYTES) {
    throw new FlotillaError('BAD_REQUEST', `a libvirt domain's command input goes through virsh's command line: at most ${VIRSH_FILE_CHUNK_BYTES / 1024} KiB (send a file with flotilla cp instead)`);
  }
  const started = await agentCommand(virsh, uuid, {
    execute: 'guest-exec',
    arguments: {
      path: command[0],
      arg: command.slice(1),
      'capture-output': true,
      ...(opts.stdin !== undefined ? { 'input-data': Buffer.from(opts.stdin).toString('base64') } : {}),
    },
  });
  const pid = (started as { pid?: unknown } | null)?.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid)) throw new FlotillaError('AGENT_ERROR', 'guest-exec answered without a pid');
  const deadline = Date.now() + opts.timeoutMs;
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    const st = (await agentCommand(virsh, uuid, { execute: 'guest-exec-status', arguments: { pid } })) as Record<string, unknown> | null;
    if (st && st.exited === true) {
      return {
        exitCode: typeof st.exitcode === 'number' ? st.exitcode : null,
        ...(typeof st.signal === 'number' ? { signal: st.signal } : {}),
        stdout: b64(st['out-data']),
        stderr: b64(st['err-data']),
        ...(st['out-truncated'] === true || st['err-truncated'] === true ? { truncated: true } : {}),
      };
    }
    if (Date.now() > deadline) throw new FlotillaError('TIMEOUT', `the command did not finish within ${opts.timeoutMs} ms (it may still run in the guest, pid ${pid})`);
    await delay(wait);
  }
}

/**
 * Sets a resumed domain's clock: libvirt's `domtime --now` (guest-set-time with the libvirt host's
 * time, so a guest follows the machine it runs on); a guest whose agent refuses that (the built-in
 * Linux has no hwclock) gets `date -u -s` through guest-exec, with this machine's time.
 */
export async function setDomainClock(virsh: Virsh, uuid: string): Promise<'domtime' | 'date' | null> {
  try {
    await virsh.run(['domtime', '--domain', uuid, '--now'], { timeoutMs: 10_000 });
    return 'domtime';
  } catch {
    return setClockByDate((command, opts = {}) => guestExec(virsh, uuid, command, { timeoutMs: opts.timeoutMs ?? 10_000 }));
  }
}

export async function guestIps(virsh: Virsh, uuid: string): Promise<string[]> {
  const r = await virsh.run(['domifaddr', '--domain', uuid, '--source', 'agent'], { timeoutMs: 20_000 });
  return parseDomifaddr(r.stdout);
}

/**
 * One look at a domain's agent, written into the domain as it is once every answer is in
 * (`current()`: it may have stopped or gone meanwhile, or been read again, which puts a new
 * object in the host's table): whether it answers, then the guest's addresses and, once per
 * agent connection, what it runs (a guest rebooted inside a running domain may run another
 * kernel). Written into the object the table held before the answers, they were lost whenever a
 * load replaced it meanwhile, and a guest kept no address until its next agent event.
 * Returns the domain, or undefined when it is gone.
 */
export async function probeAgent(virsh: Virsh, uuid: string, current: () => LibvirtDomain | undefined): Promise<{ d: LibvirtDomain; ok: boolean } | undefined> {
  let ok = await agentPing(virsh, uuid);
  const before = current();
  if (!before) return undefined;
  if (before.state !== 'running') ok = false; // stopped while the ping was under way
  const ips = ok ? await guestIps(virsh, uuid).catch(() => null) : null;
  const os = ok && before.guestOs === undefined ? await guestOsOf(virsh, uuid) : undefined;
  const d = current();
  if (!d) return undefined;
  if (d.state !== 'running') ok = false;
  d.agent = ok ? 'ready' : d.state === 'running' ? 'connecting' : 'unknown';
  if (ok && ips) d.ips = ips;
  if (ok && os !== undefined && d.guestOs === undefined) d.guestOs = os;
  return { d, ok };
}

export interface CpuSample {
  t: number;
  cpuNs: number;
}

/** A domain's CPU % (from the previous sample of the same domain) and RSS, from its domstats values. */
export function statsFrom(s: Map<string, number>, prev: CpuSample | null, t = Date.now()): { sample: CpuSample; cpuPercent: number; rssBytes: number } {
  const sample = { t, cpuNs: s.get('cpu.time') ?? 0 };
  const dt = prev ? sample.t - prev.t : 0;
  const cpuPercent = prev && dt > 0 ? Math.max(0, ((sample.cpuNs - prev.cpuNs) / 1e6 / dt) * 100) : 0;
  return { sample, cpuPercent, rssBytes: (s.get('balloon.rss') ?? 0) * 1024 };
}

/** One domain's domstats values (statsFrom turns them into CPU % and RSS). */
export async function domainStatValues(virsh: Virsh, uuid: string): Promise<Map<string, number>> {
  const r = await virsh.run(['domstats', '--state', '--cpu-total', '--balloon', uuid], { timeoutMs: 20_000 });
  return parseDomstats(r.stdout);
}

/** One domstats call for every running domain of the host, by domain name (the stats sampler's tick). */
export async function runningDomainStats(virsh: Virsh): Promise<Map<string, Map<string, number>>> {
  const r = await virsh.run(['domstats', '--list-active', '--state', '--cpu-total', '--balloon'], { timeoutMs: 20_000 });
  return parseDomstatsAll(r.stdout);
}

// ------------------------------------------------------------------ snapshots

const SNAP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
function snapName(name: string): string {
  if (!SNAP_NAME_RE.test(name)) throw new FlotillaError('BAD_REQUEST', 'snapshot name must be 1–64 characters of letters, digits, ".", "_" and "-"', { field: 'name' });
  return name;
}

/**
 * Refuses a snapshot libvirt would refuse less clearly. Of a running domain libvirt's internal
 * snapshots always hold RAM, which QEMU cannot save with a virtiofs device, and which libvirt
 * does not take with UEFI's variable store (pflash); a disk-only one would be external (a new
 * overlay file on the host), which Flotilla does not manage there.
 */
export function assertSnapshotAllowed(d: { name: string; stopped: boolean; shares: readonly Share[]; uefi: boolean }, diskOnly: boolean): void {
  if (d.stopped) return;
  if (diskOnly) throw new FlotillaError('UNSUPPORTED', 'a disk-only snapshot of a running VM on a libvirt host is not available; stop it first, or take a full snapshot', { what: 'snapshots', diskOnly: false });
  if (d.shares.length) throw new FlotillaError('UNSUPPORTED', `${d.name} has shared folders, whose state cannot be saved with its RAM; stop it to take a snapshot of its disks`, { what: 'snapshots' });
  if (d.uefi) throw new FlotillaError('UNSUPPORTED', `${d.name} boots UEFI, and libvirt does not snapshot a running VM's firmware variables; stop it to take a snapshot of its disks`, { what: 'snapshots' });
}

export async function snapshotCreate(virsh: Virsh, uuid: string, name: string, description?: string): Promise<void> {
  await virsh.run(['snapshot-create-as', '--domain', uuid, '--name', snapName(name), ...(description ? ['--description', description.slice(0, 1000)] : [])], { timeoutMs: 600_000 });
}
/**
 * The domain's snapshots, once no save is under way. libvirt lists a snapshot from the start of
 * its save (the domain "paused (saving)" meanwhile), so a name in the list alone does not mean it
 * is whole: an engine killed during `snapshot create` leaves its virsh saving, and the command's
 * second try (shared/outlast-engine.ts) took the name as done while the domain was still paused
 * for it (check 23 caught it). So the list waits for the save, as long as libvirt's own does.
 */
export async function snapshotList(virsh: Virsh, uuid: string, pollMs = 200): Promise<string[]> {
  for (const until = Date.now() + 600_000; Date.now() < until; await delay(pollMs)) {
    const st = await virsh.run(['domstate', '--domain', uuid, '--reason']).then((r) => r.stdout.trim(), () => '');
    if (!/^paused \((saving|snapshot)\)$/.test(st)) break;
  }
  return parseNameList((await virsh.run(['snapshot-list', '--domain', uuid, '--name'])).stdout);
}

/**
 * One snapshot as the seam describes it, from libvirt's own metadata (snapshot-dumpxml):
 * creationTime (epoch seconds) and the domain state it saved — running/paused means its RAM is
 * in it. libvirt does not say how large the RAM state is: 0. The XML is the host's: only two
 * numeric/word fields are read from it, never used as a path or markup.
 */
export async function snapshotDetails(virsh: Virsh, uuid: string, name: string): Promise<SnapshotInfo> {
  const xml = (await virsh.run(['snapshot-dumpxml', '--domain', uuid, '--snapshotname', snapName(name)])).stdout;
  const created = Number(/<creationTime>(\d{1,12})<\/creationTime>/.exec(xml)?.[1] ?? 0);
  const state = /<state>([a-z ]{1,32})<\/state>/.exec(xml)?.[1] ?? '';
  return {
    name,
    createdAt: new Date(created * 1000).toISOString(),
    vmStateBytes: 0,
    includesRam: state === 'running' || state === 'paused',
  };
}
export async function snapshotRevert(virsh: Virsh, uuid: string, name: string): Promise<void> {
  await virsh.run(['snapshot-revert', '--domain', uuid, '--snapshotname', snapName(name)], { timeoutMs: 600_000 });
}
export async function snapshotDelete(virsh: Virsh, uuid: string, name: string): Promise<void> {
  await virsh.run(['snapshot-delete', '--domain', uuid, '--snapshotname', snapName(name)], { timeoutMs: 600_000 });
}

/** A screenshot of the domain's display (PPM or PNG as QEMU writes it), via a private temp dir. */
export async function screenshot(virsh: Virsh, uuid: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'flt-shot-'));
  try {
    const file = join(dir, 'screen');
    await virsh.run(['screenshot', '--domain', uuid, '--file', file], { timeoutMs: 30_000 });
    return await readFile(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
