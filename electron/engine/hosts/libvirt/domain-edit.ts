// Changing a libvirt domain's settings with libvirt's own commands, as virt-manager and Cockpit
// do (LIBVIRT_SETTINGS in domain-info.ts says which): vCPUs (`setvcpus --config`, its maximum
// too), memory (`setmaxmem` / `setmem --config`), the name (`domrename`), the description that
// Flotilla shows as the note (`desc`), and libvirt's autostart. Every value is one argv word of a
// virsh command (never a shell string); domains are addressed by UUID. A renamed built-in guest
// also gets its new hostname on its kernel command line, as virt-manager edits a definition:
// `dumpxml --inactive`, the one change, `define`.
import { FlotillaError } from '../../../../shared/errors';
import { changedSettings, settingsNeedingStop, settingWords, vmPatchSchema, type VmPatch, type VmSpec } from '../../../../shared/spec';
import type { VmState } from '../../../../shared/state';
import { GUEST_NAME_PARAM, guestHostname } from '../../guest/boot-profile';
import { defineXml } from './define-xml';
import { LIBVIRT_SETTINGS } from './domain-info';
import type { Virsh } from './virsh';

export interface DomainChange {
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  note?: string;
  autostart?: boolean;
}

/**
 * The virsh commands for `change`, in an order libvirt accepts: a count and its maximum move
 * together (the maximum first when it grows, last when it shrinks, so the current value never
 * exceeds it); the rename last, since nothing here names the domain by its name.
 */
export function editCommands(uuid: string, now: { cpus: number; memoryMiB: number; running: boolean }, change: DomainChange): string[][] {
  const dom = ['--domain', uuid];
  const out: string[][] = [];
  const pair = (grow: boolean, max: string[], cur: string[]) => out.push(...(grow ? [max, cur] : [cur, max]));
  if (change.cpus !== undefined) {
    const n = String(change.cpus);
    pair(change.cpus > now.cpus, ['setvcpus', ...dom, '--count', n, '--config', '--maximum'], ['setvcpus', ...dom, '--count', n, '--config']);
  }
  if (change.memoryMiB !== undefined) {
    const kib = String(change.memoryMiB * 1024);
    pair(change.memoryMiB > now.memoryMiB, ['setmaxmem', ...dom, '--size', kib, '--config'], ['setmem', ...dom, '--size', kib, '--config']);
  }
  // a running domain's live description too, so both say the same
  if (change.note !== undefined) out.push(['desc', ...dom, '--config', ...(now.running ? ['--live'] : []), '--new-desc', change.note]);
  if (change.autostart !== undefined) out.push(['autostart', ...dom, ...(change.autostart ? [] : ['--disable'])]);
  if (change.name !== undefined) out.push(['domrename', ...dom, change.name]);
  return out;
}

/**
 * What `patch` changes of a domain whose settings are `spec`, as a DomainChange; null when nothing.
 * Refused: a setting Flotilla does not change on a libvirt host (LIBVIRT_SETTINGS), and one that
 * needs the domain shut off while it is not.
 */
export function domainChange(spec: VmSpec, patch: VmPatch, d: { state: VmState; host: string; name: string }): DomainChange | null {
  const changed = changedSettings(spec, patch);
  const other = changed.filter((k) => !LIBVIRT_SETTINGS.editable.includes(k));
  if (other.length) {
    const what = `on libvirt host ${d.host} Flotilla changes a domain's ${settingWords(LIBVIRT_SETTINGS.editable)}, not its ${settingWords(other)}: use virsh edit for that`;
    throw new FlotillaError('UNSUPPORTED', what, { host: d.host, what: 'edit' });
  }
  const needStop = settingsNeedingStop(changed, LIBVIRT_SETTINGS);
  if (needStop.length && d.state !== 'stopped' && d.state !== 'crashed') {
    throw new FlotillaError('INVALID_STATE', `stop ${d.name} before changing its ${settingWords(needStop)} (it is ${d.state}); its ${settingWords(LIBVIRT_SETTINGS.live)} can change while it runs`);
  }
  if (changed.length === 0) return null;
  const p = vmPatchSchema.parse(patch);
  const change: DomainChange = {};
  for (const k of changed) Object.assign(change, { [k]: p[k] });
  return change;
}

export async function editDomain(virsh: Virsh, uuid: string, now: { cpus: number; memoryMiB: number; running: boolean; builtIn: boolean }, change: DomainChange): Promise<void> {
  for (const argv of editCommands(uuid, now, change)) await virsh.run(argv);
  if (change.name !== undefined && now.builtIn) {
    const xml = withGuestHostname((await virsh.run(['dumpxml', '--domain', uuid, '--inactive'])).stdout, guestHostname(change.name));
    if (xml) await defineXml(virsh, xml);
  }
}

/**
 * The definition (`virsh dumpxml --inactive`, from the host: untrusted) with the built-in guest's
 * hostname parameter on its kernel command line set to `hostname` (guestHostname: letters,
 * digits, '.' and '-' only); null when there is no such parameter, or it already says that.
 */
export function withGuestHostname(xml: string, hostname: string): string | null {
  if (!/^[A-Za-z0-9.-]{1,63}$/.test(hostname)) return null;
  const param = GUEST_NAME_PARAM.replace(/\./g, '\\.');
  const m = /<cmdline>([^<]*)<\/cmdline>/.exec(xml);
  if (!m || xml.indexOf('<cmdline>', m.index + 1) !== -1) return null;
  const re = new RegExp(`(^|\\s)${param}=[^\\s]*`);
  if (!re.test(m[1]!)) return null;
  const line = m[1]!.replace(re, `$1${GUEST_NAME_PARAM}=${hostname}`);
  if (line === m[1]) return null;
  return xml.slice(0, m.index) + `<cmdline>${line}</cmdline>` + xml.slice(m.index + m[0].length);
}

/** The domain's description (`virsh desc`), '' for none (virsh prints a sentence then). */
export async function domainDescription(virsh: Virsh, uuid: string, name: string): Promise<string> {
  const out = (await virsh.run(['desc', '--domain', uuid])).stdout.replace(/\n$/, '');
  return out === `No description for domain: ${name}` ? '' : out;
}
