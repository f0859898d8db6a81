// `flotilla share add|rm|list` and the `--share HOSTPATH[:TAG][:ro]` option of `create`.
import type { ShareInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { defaultShareTag, SHARE_TAG_RE } from '../../shared/spec';
import { absPath, pathOnHost } from './args';
import type { CliIo, CliSession } from './run-cli';

export const SHARE_USAGE = 'usage: flotilla share add NAME HOSTPATH [--tag TAG] [--read-only] | rm NAME TAG | list NAME [--json]';

/**
 * `HOSTPATH[:TAG][:ro]`, read from the right: a trailing `:ro` makes it read-only, then a last
 * `:x` that is a valid tag is the tag. A path that itself holds a `:` therefore needs an explicit
 * TAG. The path is made absolute against `cwd`; the engine resolves and checks it.
 */
export function parseShareOption(text: string, cwd = process.cwd()): { hostPath: string; tag: string; readOnly: boolean } {
  let rest = text;
  let readOnly = false;
  if (rest.endsWith(':ro')) {
    readOnly = true;
    rest = rest.slice(0, -3);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > 0 && SHARE_TAG_RE.test(rest.slice(colon + 1))) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!rest) throw new FlotillaError('BAD_REQUEST', `--share ${JSON.stringify(text)}: give a host directory, as in --share ~/src:src:ro`);
  const hostPath = absPath(rest, cwd);
  return { hostPath, tag: tag ?? defaultShareTag(hostPath), readOnly };
}

function formatShares(vmName: string, list: ShareInfo[]): string {
  if (list.length === 0) return `${vmName} has no shared folders\n`;
  const rows = list.map((s) => {
    const where = s.guestPath ?? `mount: ${s.mountCommand}`;
    const state = s.state === 'dead' ? `dead (${s.reason ?? 'unknown'})` : s.state === 'running' ? `running (pid ${s.pid ?? '?'})` : 'inactive';
    return `${s.tag}\t${s.hostPath}\t${s.readOnly ? 'ro' : 'rw'}\t${state}\t${where}\n`;
  });
  return `TAG\tHOST PATH\tMODE\tHELPER\tIN THE GUEST\n${rows.join('')}`;
}

export async function shareCommand(pos: string[], o: Record<string, unknown>, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  const [sub, vmName, arg] = pos;
  if (!vmName) throw new FlotillaError('BAD_REQUEST', SHARE_USAGE);
  if (sub === 'list' && !arg) {
    const vm = await s.find(vmName);
    const list = await s.call('share.list', { host: vm.host, id: vm.id });
    if (json) io.out(`${JSON.stringify(list, null, 2)}\n`);
    else io.out(formatShares(vm.name, list));
    return 0;
  }
  if (sub === 'add' && arg) {
    const vm = await s.find(vmName);
    const tag = o.tag as string | undefined;
    const r = await s.call('share.add', { host: vm.host, id: vm.id, hostPath: pathOnHost(arg, vm.host), ...(tag !== undefined ? { tag } : {}), readOnly: o['read-only'] === true });
    if (json) io.out(`${JSON.stringify(r, null, 2)}\n`);
    else io.out(`${vm.name}: sharing ${r.hostPath} as ${r.tag}${r.readOnly ? ' (read-only)' : ''}; ${r.guestPath ? `mounted at ${r.guestPath} from the next start` : `in the guest: ${r.mountCommand}`}\n`);
    return 0;
  }
  if (sub === 'rm' && arg) {
    const vm = await s.find(vmName);
    await s.call('share.remove', { host: vm.host, id: vm.id, tag: arg });
    if (json) io.out(`${JSON.stringify({ tag: arg }, null, 2)}\n`);
    else io.out(`${vm.name}: no longer shares ${arg}\n`);
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', SHARE_USAGE);
}
