// A built-in guest's domain boots the built-in Linux this computer has now, as a local VM does at
// each start: before a stopped domain Flotilla made from it starts, its kernel and initrd are
// switched to the current build's (uploaded into the pool once per content hash) and its kernel
// command line to the current one (its hostname and network parameters kept). The edit is
// virt-manager's way, `dumpxml --inactive` → the change → `define`, under the domain's job. The
// volumes it no longer names go with the next prune (boot-volumes.ts).
//
// With the move, a domain made before the console port gets it in place of its virtio console
// (hvc0, which drops output a slow reader misses), and one on QEMU's user networking joins the
// host's "default" network when that runs and the build asks DHCP (its MAC address is kept).
// A domain whose kernel is not one of these pool volumes is someone's own: nothing is changed.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { guestHostname } from '../../guest/boot-profile';
import { readDefaultGuest, type DefaultGuestState } from '../../guest/build-default';
import { percentOf } from '../../lifecycle/ops-context';
import type { KeyedMutex } from '../../mutex';
import { BOOT_VOLUME_RE, pruneBootVolumes } from './boot-volumes';
import { defineXml } from './define-xml';
import { CONSOLE_PORT_NAME, ROOT_DISK_SERIAL } from '../../qemu-args';
import { hasConsolePort, xmlEscape } from './domain-xml';
import { ensurePool, ensureUploaded } from './storage';
import type { VolumeJournal } from './volume-journal';
import { sharesOf } from './domain-shares';
import { SHARES_PARAM } from '../../shares/share-helpers';
import type { Virsh } from './virsh';

/** The kernel parameter that has the built-in guest ask DHCP for its address (assets/guest/init). */
export const GUEST_DHCP_PARAM = 'flotilla.net=dhcp';

/** libvirt's own NAT network (virbr0, 192.168.122.0/24 with DHCP), which virt-manager puts new domains on. */
export const DEFAULT_NETWORK = 'default';

/**
 * Whether the host's "default" network is running. Without it (no dnsmasq, or stopped) new domains
 * get QEMU's user networking, which reaches out but cannot be reached: the guest then answers only
 * through its console and agent.
 */
export async function defaultNetworkActive(virsh: Virsh): Promise<boolean> {
  const r = await virsh.run(['net-info', '--network', DEFAULT_NETWORK]).catch(() => null);
  return !!r && /^Active:\s+yes\s*$/m.test(r.stdout);
}

export interface BootContext {
  virsh: Virsh;
  home: string;
  /** serializes pool set-up and uploads per host */
  lock: KeyedMutex;
  /** a line for the host's log */
  note: (line: string) => void;
  /** builds (by their files' hashes) whose boot files were checked in the pool, and where */
  uploaded?: Map<string, BootFiles>;
  /** records the volumes a create makes until its definition names them */
  journal: VolumeJournal;
  /** the host's name, and whether it is this computer (paths can be checked here) */
  hostId: string;
  local: boolean;
}

export interface BootFiles {
  kernel: string;
  initrd: string;
  /** the pool volumes they are */
  volumes: [string, string];
}

/** The ready built-in guest, or the error that says to build it. */
export function readyGuest(g: DefaultGuestState): NonNullable<DefaultGuestState['manifest']> {
  if (!g.ready || !g.manifest) throw new FlotillaError('DEFAULT_IMAGE_MISSING', `the default guest image is not built (${g.dir}): run \`flotilla image build-default\``);
  return g.manifest;
}

/** The pool volume names of a build's kernel and initrd: named by content hash (BOOT_VOLUME_RE). */
function bootVolumeNames(m: NonNullable<DefaultGuestState['manifest']>): [string, string] {
  return [`default-vmlinuz-${m.files.vmlinuz!.sha256.slice(0, 16)}`, `default-initrd-${m.files['initrd.img']!.sha256.slice(0, 16)}`];
}

/**
 * Uploads the built-in guest's kernel and initrd into the pool (once per content hash). `bar`:
 * the progress of the VM that waits for them, while they go up (a host that has them shows none).
 */
export async function uploadBootFiles(ctx: BootContext, g: DefaultGuestState, bar?: Bar): Promise<BootFiles> {
  const volumes = bootVolumeNames(readyGuest(g));
  const paths = [join(g.dir, 'vmlinuz'), join(g.dir, 'initrd.img')] as const;
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  let shown = false;
  const up = (before: number) => (bytes: number) => {
    shown = true;
    bar?.({ op: 'disk-import', percent: percentOf(before + bytes, sizes[0]! + sizes[1]!), message: `uploading the built-in Linux to ${ctx.hostId}` });
  };
  try {
    const files = await ctx.lock.run('storage', async () => {
      await ensurePool(ctx.virsh);
      return { kernel: await ensureUploaded(ctx.virsh, volumes[0], paths[0], up(0)), initrd: await ensureUploaded(ctx.virsh, volumes[1], paths[1], up(sizes[0]!)), volumes };
    });
    ctx.uploaded?.set(volumes.join(' '), files);
    return files;
  } finally {
    if (shown) bar?.(null);
  }
}

/** A VM's progress bar (its tile's, or a new VM's placeholder's). */
export type Bar = (p: Progress | null) => void;

/** What uploadBootFiles last found for this build on this connection, without asking the host. */
function knownBootFiles(ctx: BootContext, m: NonNullable<DefaultGuestState['manifest']>): BootFiles | undefined {
  return ctx.uploaded?.get(bootVolumeNames(m).join(' '));
}

/** The built-in guest's kernel command line for a domain named `name` (`shares`: it has shared folders to mount). */
export function builtInCmdline(m: NonNullable<DefaultGuestState['manifest']>, name: string, dhcp: boolean, shares = false): string {
  return [m.cmdline, `${m.nameParam}=${guestHostname(name)}`, ...(dhcp ? [GUEST_DHCP_PARAM] : []), ...(shares ? [SHARES_PARAM] : [])].join(' ');
}

/** Deletes, in the background, the boot volumes of earlier builds that nothing names any more. */
export function pruneInBackground(ctx: BootContext, keep: readonly string[]): void {
  void ctx.lock.run('storage', () => pruneBootVolumes(ctx.virsh, keep)).then(
    (r) => r.deleted.length && ctx.note(`deleted ${r.deleted.length} unused boot volume(s) of earlier built-in guests: ${r.deleted.join(', ')}`),
    (err: unknown) => ctx.note(`pruning old boot volumes failed: ${(err as Error).message}`),
  );
}

const one = (xml: string, tag: string): RegExpExecArray | null => {
  const re = new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g');
  const m = re.exec(xml);
  return m && !re.exec(xml) ? m : null;
};

/**
 * The definition (`dumpxml --inactive`, from the host: untrusted) booting `files` with the
 * command line `cmdline(oldCmdline)`; null when it boots them already, when its kernel or initrd
 * is not a built-in guest's pool volume (someone pointed it elsewhere with `virsh edit`: theirs
 * stays), or when it is not one kernel, one initrd and one command line. Nothing else is touched.
 */
export function withBootFiles(xml: string, files: { kernel: string; initrd: string }, cmdline: (old: string) => string): string | null {
  const k = one(xml, 'kernel');
  const i = one(xml, 'initrd');
  const c = one(xml, 'cmdline');
  if (!k || !i || !c) return null;
  if (k[1] === files.kernel && i[1] === files.initrd) return null;
  // in the pool the new files are in (its directory), under a boot volume's name
  const pool = files.kernel.slice(0, files.kernel.lastIndexOf('/') + 1);
  if (![k[1]!, i[1]!].every((p) => p.startsWith(pool) && BOOT_VOLUME_RE.test(p.slice(pool.length)))) return null;
  const line = cmdline(c[1]!);
  const edits = [
    [k, `<kernel>${xmlEscape(files.kernel)}</kernel>`],
    [i, `<initrd>${xmlEscape(files.initrd)}</initrd>`],
    [c, `<cmdline>${xmlEscape(line)}</cmdline>`],
  ] as const;
  let out = xml;
  for (const [m, text] of [...edits].sort((a, b) => b[0].index - a[0].index)) out = out.slice(0, m.index) + text + out.slice(m.index + m[0].length);
  return out;
}

/**
 * A built-in domain's definition with the console port in place of its one virtio console, and
 * on `network` in place of its one user-networking interface (its other children, the MAC among
 * them, kept); what is not there exactly once is left as it is.
 */
export function withCurrentDevices(xml: string, want: { consolePort: boolean; network: string | null }): string {
  let out = xml;
  const hvc = /<console type='pty'>\s*<target type='virtio' port='0'\/>\s*<\/console>/g;
  if (want.consolePort && !hasConsolePort(out) && (out.match(hvc) ?? []).length === 1) {
    out = out.replace(hvc, `<channel type='unix'>\n      <target type='virtio' name='${CONSOLE_PORT_NAME}'/>\n    </channel>`);
  }
  const user = /<interface type='user'>/g;
  if (want.network && (out.match(user) ?? []).length === 1 && !/<interface type='(?!user')/.test(out)) {
    out = out.replace(user, `<interface type='network'>\n      <source network='${xmlEscape(want.network)}'/>`);
  }
  return out;
}

/**
 * A built-in domain's definition whose first virtio disk (vda, a file Flotilla made for it) carries
 * the serial by which the guest keeps /root on it. Domains made before it had none: their guests
 * never mounted that disk and lost /root at each boot. A definition that names the serial already,
 * or whose vda is not exactly one plain file disk without a serial, is left as it is.
 */
export function withRootSerial(xml: string): string {
  if (xml.includes(`<serial>${ROOT_DISK_SERIAL}</serial>`)) return xml;
  const blocks = [...xml.matchAll(/<disk type='file' device='disk'>(?:(?!<\/disk>)[\s\S])*<\/disk>/g)].filter((m) => /<target dev='vda' bus='virtio'\/>/.test(m[0]));
  if (blocks.length !== 1 || /<serial>/.test(blocks[0]![0])) return xml;
  const b = blocks[0]!;
  const next = b[0].replace(/(\n?([ \t]*)<target dev='vda' bus='virtio'\/>)/, `$1\n$2<serial>${ROOT_DISK_SERIAL}</serial>`);
  return xml.slice(0, b.index) + next + xml.slice(b.index + b[0].length);
}

/**
 * Before a start: has the stopped built-in domain `uuid` (named `name`) boot the current build.
 * True when it changed. A missing guest build leaves the domain as it is. A domain already on
 * this build, as checked on this connection before, costs one `dumpxml` (the pool is not asked
 * again at every start).
 */
export async function updateBootFiles(ctx: BootContext, uuid: string, name: string, bar?: Bar): Promise<boolean> {
  const g = await readDefaultGuest(ctx.home);
  if (!g.ready || !g.manifest) return false;
  const xml = (await ctx.virsh.run(['dumpxml', '--inactive', '--domain', uuid])).stdout;
  const [k, i] = [one(xml, 'kernel'), one(xml, 'initrd')];
  if (!k || !i) return false; // not booted directly: someone's own definition
  const known = knownBootFiles(ctx, g.manifest);
  const files = known && k[1] === known.kernel && i[1] === known.initrd ? known : await uploadBootFiles(ctx, g, bar);
  if (k[1] === files.kernel && i[1] === files.initrd) {
    // on this build already; made before its disk kept /root, it gets the disk's serial now
    const rooted = withRootSerial(xml);
    if (rooted === xml) return false;
    await defineXml(ctx.virsh, rooted);
    ctx.note(`domain ${name}: its guest keeps /root on its disk from its next boot`);
    return true;
  }
  const m = g.manifest;
  const devices = withRootSerial(withCurrentDevices(xml, { consolePort: m.console === 'vport', network: m.dhcp && (await defaultNetworkActive(ctx.virsh)) ? DEFAULT_NETWORK : null }));
  // a guest on a libvirt network (or a bridge) asks DHCP; on user networking it knows QEMU's addresses
  const dhcp = m.dhcp === true && /<interface type='(?!user')/.test(devices);
  const next = withBootFiles(devices, files, () => builtInCmdline(m, name, dhcp, sharesOf(xml).length > 0));
  if (!next) return false;
  await defineXml(ctx.virsh, next);
  ctx.note(`domain ${name}: now boots the built-in Linux of this computer (kernel ${m.kernelVersion})${devices !== xml ? ', with its current devices' : ''}`);
  pruneInBackground(ctx, files.volumes);
  return true;
}
