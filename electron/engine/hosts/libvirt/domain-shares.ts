// A libvirt domain's shared folders, as Cockpit's "Shared directories" and virt-manager's
// filesystem page make them: a virtiofs <filesystem> device per folder (libvirt runs virtiofsd
// itself) on shared guest memory (<memoryBacking> memfd, shared), in the shut-off definition:
// `dumpxml --inactive`, the change, `define`. The built-in Linux mounts each at /mnt/<tag>, as a
// local VM does: its list ("TAG rw" lines) is a fw_cfg entry of the definition
// (<sysinfo type='fwcfg'>), and `flotilla.shares=1` on its command line has its init read it.
// A folder is a directory on that host. Read-only is libvirt's to allow: 9.0 refuses it for
// virtiofs ("virtiofs does not yet support read-only mode"), and the refusal says what to do.
// The definition is the host's text: tags are matched against the share tag pattern before use,
// paths are only shown and written back escaped.
import type { ShareInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { SHARE_TAG_RE, tidyHostPath, type Share } from '../../../../shared/spec';
import { nextShare, resolveShareDir, withoutShare } from '../../lifecycle/shares';
import { FW_CFG_SHARES } from '../../qemu-args';
import { mountCommand, SHARES_PARAM } from '../../shares/share-helpers';
import { defineXml } from './define-xml';
import { xmlEscape, xmlUnescape } from './domain-xml';
import type { DomainRef } from './domain-disks';

const FS_BLOCK_RE = /[ \t]*<filesystem\b[^>]*>[\s\S]*?<\/filesystem>\n?/g;
const FWCFG_RE = /[ \t]*<sysinfo\b[^>]*\btype\s*=\s*(['"])fwcfg\1[^>]*>([\s\S]*?)<\/sysinfo>\n?/;
const ENTRY_RE = new RegExp(`[ \\t]*<entry\\b[^>]*\\bname\\s*=\\s*(['"])${FW_CFG_SHARES.replace(/\//g, '\\/')}\\1[^>]*>[^<]*<\\/entry>\\n?`);

const isVirtiofs = (block: string): boolean => /<driver\b[^>]*\btype\s*=\s*(['"])virtiofs\1/.test(block);
const attr = (block: string, tag: string, name: string): string | undefined => new RegExp(`<${tag}\\b[^>]*\\b${name}\\s*=\\s*(['"])([^'"<>]*)\\1`).exec(block)?.[2];

/** The definition's virtiofs shares (those whose tag a share may have; others are someone's own set-up). */
export function sharesOf(xml: string): Share[] {
  const out: Share[] = [];
  for (const [block] of xml.matchAll(FS_BLOCK_RE)) {
    const tag = attr(block, 'target', 'dir');
    const dir = attr(block, 'source', 'dir');
    if (isVirtiofs(block) && tag && SHARE_TAG_RE.test(tag) && dir) out.push({ tag, hostPath: xmlUnescape(dir), readOnly: /<readonly\s*\/>/.test(block) });
  }
  return out;
}

/** Shared guest memory, which vhost-user devices need: added, or already there; refused when the memory is backed by hand. */
function withSharedMemory(xml: string): string {
  const ours = `<source type='memfd'/>\n    <access mode='shared'/>`;
  const mb = /<memoryBacking\s*\/>|<memoryBacking\b[^>]*>[\s\S]*?<\/memoryBacking>/.exec(xml);
  if (!mb) {
    const anchor = xml.includes('</currentMemory>') ? '</currentMemory>' : '</memory>';
    const at = xml.indexOf(anchor);
    if (at < 0) throw new FlotillaError('INTERNAL', 'the definition has no <memory>');
    return xml.slice(0, at + anchor.length) + `\n  <memoryBacking>\n    ${ours}\n  </memoryBacking>` + xml.slice(at + anchor.length);
  }
  if (/<access\b[^>]*\bmode\s*=\s*(['"])shared\1/.test(mb[0])) return xml;
  if (/<source\b|<access\b/.test(mb[0])) {
    throw new FlotillaError('UNSUPPORTED', "its memory backing is set up by hand and not shared, which a shared folder needs; add <access mode='shared'/> to its <memoryBacking> (virsh edit), then try again", { field: 'hostPath' });
  }
  // hugepages, locked and the like stay; the memory becomes shared memfd beside them
  const block = mb[0].endsWith('/>') ? `<memoryBacking>\n    ${ours}\n  </memoryBacking>` : mb[0].replace(/\s*<\/memoryBacking>$/, `\n    ${ours}\n  </memoryBacking>`);
  return xml.slice(0, mb.index) + block + xml.slice(mb.index + mb[0].length);
}

/** The built-in Linux's list of shares (fw_cfg) and its command-line flag, as `shares` says; other fw_cfg entries stay. */
function withGuestList(xml: string, shares: readonly Share[]): string {
  const list = shares.map((s) => `${s.tag} ${s.readOnly ? 'ro' : 'rw'}\n`).join('');
  const entry = `    <entry name='${FW_CFG_SHARES}'>${list}</entry>\n`;
  let out = xml;
  const sys = FWCFG_RE.exec(out);
  if (sys) {
    let body = sys[2]!.replace(ENTRY_RE, '');
    if (list) body = body.replace(/\s*$/, '\n') + entry + '  ';
    const block = /<entry\b/.test(body) ? `  <sysinfo type='fwcfg'>${body}</sysinfo>\n` : '';
    out = out.slice(0, sys.index) + block + out.slice(sys.index + sys[0].length);
  } else if (list) {
    out = out.replace(/([ \t]*)<os\b/, `$1<sysinfo type='fwcfg'>\n${entry}$1</sysinfo>\n$1<os`);
  }
  return out.replace(/<cmdline>([^<]*)<\/cmdline>/, (_w, line: string) => {
    const words = line.split(/\s+/).filter((w) => w && w !== SHARES_PARAM);
    return `<cmdline>${[...words, ...(shares.length ? [SHARES_PARAM] : [])].join(' ')}</cmdline>`;
  });
}

/** The definition with `share` added (its tag and folder checked by the caller). */
export function withShareAdded(xml: string, share: Share, builtIn: boolean): string {
  const block = [
    `    <filesystem type='mount' accessmode='passthrough'>`,
    `      <driver type='virtiofs'/>`,
    `      <source dir='${xmlEscape(share.hostPath)}'/>`,
    `      <target dir='${share.tag}'/>`,
    ...(share.readOnly ? [`      <readonly/>`] : []),
    `    </filesystem>`,
  ].join('\n');
  const at = xml.lastIndexOf('</devices>');
  if (at < 0) throw new FlotillaError('INTERNAL', 'the definition has no <devices>');
  const lineStart = xml.lastIndexOf('\n', at) + 1;
  const out = withSharedMemory(xml.slice(0, lineStart) + block + '\n' + xml.slice(lineStart));
  return builtIn ? withGuestList(out, sharesOf(out)) : out;
}

/** The definition without the share tagged `tag`. */
export function withShareRemoved(xml: string, tag: string, builtIn: boolean): string {
  const out = xml.replace(FS_BLOCK_RE, (block) => (isVirtiofs(block) && attr(block, 'target', 'dir') === tag ? '' : block));
  return builtIn ? withGuestList(out, sharesOf(out)) : out;
}

/** libvirt's refusal of a definition with this share, in words that say what to do; other errors as they are. */
export function shareRefusal(err: unknown, host: string): unknown {
  if (err instanceof FlotillaError && /virtiofs does not (yet )?support read-only/i.test(err.message)) {
    return new FlotillaError('UNSUPPORTED', `libvirt on ${host} cannot share a folder read-only (virtiofs there does not support it yet); share it read-write, or from a VM on this computer`, { field: 'readOnly' });
  }
  return err;
}

/** What a domain's share operations need (the disks' reference: domain-disks.ts). */
export type ShareRef = Pick<DomainRef, 'virsh' | 'uuid' | 'name' | 'host' | 'builtIn' | 'local'>;

const inactiveXml = async (d: ShareRef): Promise<string> => (await d.virsh.run(['dumpxml', '--inactive', '--domain', d.uuid])).stdout;

/** Adds a shared folder to the shut-off domain's definition; returns it. */
export async function addDomainShare(d: ShareRef, req: { hostPath: string; tag?: string; readOnly: boolean }): Promise<Share> {
  // on this computer the folder is checked (and resolved) now; on another, libvirt's start says what is wrong with it
  const hostPath = d.local ? await resolveShareDir(req.hostPath) : tidyHostPath(req.hostPath);
  const xml = await inactiveXml(d);
  const share = nextShare(d.name, sharesOf(xml), hostPath, req);
  await defineXml(d.virsh, withShareAdded(xml, share, d.builtIn)).catch((err: unknown) => {
    throw shareRefusal(err, d.host);
  });
  return share;
}

/**
 * Removes the shared folder tagged `tag` from the domain's definition: refused first when it has
 * no such share (naming those it has), then unless `mayChange` (the domain is shut off) passes.
 */
export async function removeDomainShare(d: ShareRef, tag: string, mayChange: () => void): Promise<void> {
  const xml = await inactiveXml(d);
  withoutShare(d.name, sharesOf(xml), tag);
  mayChange();
  await defineXml(d.virsh, withShareRemoved(xml, tag, d.builtIn));
}

/** A libvirt share as the contract shows it: libvirt runs its virtiofsd while the domain runs. */
export function domainShareInfo(s: Share, d: { running: boolean; builtIn: boolean }): ShareInfo {
  return { ...s, state: d.running ? 'running' : 'inactive', pid: null, reason: null, guestPath: d.builtIn ? `/mnt/${s.tag}` : null, mountCommand: mountCommand(s) };
}
