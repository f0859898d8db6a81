// `flotilla share add|rm|list`: a VM's shared folders (host directories served to the guest by
// virtiofsd, shares/share-helpers.ts). Adding or removing changes the spec of a stopped VM;
// a running VM refuses (hot-plugging vhost-user-fs was not built: stop the VM first). Every
// directory is resolved when it is named (symlinks followed, `..` gone) and that resolved path
// is what is stored and served, so a later symlink swap cannot widen what is shared.
import { realpath, stat } from 'node:fs/promises';
import type { ShareInfo } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { defaultShareTag, MAX_SHARES, SHARE_TAG_RE, type Share, type VmSpec } from '../../../shared/spec';
import { isActive } from '../../../shared/state';
import type { ShareHelpers } from '../shares/share-helpers';
import type { OpsContext } from './ops-context';

/** The directory the user named, resolved; refuses what is missing, not a directory, or `/`. */
export async function resolveShareDir(path: string, field = 'hostPath'): Promise<string> {
  const st = await stat(path).catch(() => null);
  if (!st) throw new FlotillaError('FILE_NOT_FOUND', `${path} does not exist (a shared folder must be an existing directory)`, { path, field });
  if (!st.isDirectory()) throw new FlotillaError('WRONG_FILE_TYPE', `${path} is not a directory (a shared folder must be a directory)`, { path, expected: 'dir', found: 'file' });
  const real = await realpath(path);
  if (real === '/') throw new FlotillaError('INVALID_ARGUMENT', `${path} is the host's root directory: sharing / is not allowed; name the directory to share`, { fields: [{ path: field, message: 'sharing / (the whole host) is not allowed' }] });
  return real;
}

/**
 * The share a VM named `vmName` with `shares` gets for the resolved directory `hostPath`: its tag
 * the one asked for or one made from the directory's name. Refused: a malformed or taken tag, a
 * directory it shares already, one share too many. (Local VMs and libvirt domains alike.)
 */
export function nextShare(vmName: string, shares: readonly Share[], hostPath: string, req: { tag?: string; readOnly: boolean }): Share {
  const taken = new Set(shares.map((s) => s.tag));
  const tag = req.tag ?? defaultShareTag(hostPath, taken);
  if (!SHARE_TAG_RE.test(tag)) throw new FlotillaError('INVALID_ARGUMENT', `share tag ${tag} is not valid`, { fields: [{ path: 'tag', message: 'a share tag is 1–36 characters of a-z, 0-9, "_" and "-"' }] });
  if (taken.has(tag)) throw new FlotillaError('NAME_TAKEN', `${vmName} already has a shared folder tagged ${tag}; choose another tag (--tag)`, { field: 'tag', name: tag });
  const same = shares.find((s) => s.hostPath === hostPath);
  if (same) throw new FlotillaError('NAME_TAKEN', `${vmName} already shares ${hostPath} (tag ${same.tag})`, { field: 'hostPath', name: same.tag });
  if (shares.length >= MAX_SHARES) throw new FlotillaError('INVALID_ARGUMENT', `${vmName} has ${MAX_SHARES} shared folders, the most a VM can have`, { fields: [{ path: 'hostPath', message: `at most ${MAX_SHARES} shared folders` }] });
  return { tag, hostPath, readOnly: req.readOnly };
}

/** Removing `tag` from `shares`: refused, naming the tags there are, when there is no such share. */
export function withoutShare(vmName: string, shares: readonly Share[], tag: string): Share[] {
  if (!shares.some((s) => s.tag === tag)) throw new FlotillaError('NOT_FOUND', `${vmName} has no shared folder tagged ${tag}${shares.length ? ` (it has ${shares.map((s) => s.tag).join(', ')})` : ''}`);
  return shares.filter((s) => s.tag !== tag);
}

export interface ShareOps {
  ctx: OpsContext;
  helpers: (id: string) => ShareHelpers;
  setShares: (id: string, shares: Share[]) => Promise<VmSpec>;
}

export function listShares(o: ShareOps, id: string): ShareInfo[] {
  const spec = o.ctx.store.get(id);
  const active = isActive({ state: o.ctx.state(id) });
  return (spec.shares ?? []).map((s) => o.helpers(id).info(s, active, spec.source.kind === 'default'));
}

function requireStoppedFor(o: ShareOps, id: string, doing: string): void {
  const spec = o.ctx.store.get(id);
  const state = o.ctx.state(id);
  if (state !== 'stopped' && state !== 'crashed') {
    throw new FlotillaError('INVALID_STATE', `${spec.name} is ${state}: ${doing} takes a stop (shared folders are not hot-plugged); stop it, then try again`);
  }
}

export async function addShare(o: ShareOps, id: string, req: { hostPath: string; tag?: string; readOnly: boolean }): Promise<ShareInfo> {
  // checked before the job, so a bad path is refused at once and changes nothing
  const hostPath = await resolveShareDir(req.hostPath);
  const share = await o.ctx.runJob(id, 'share-add', async () => {
    requireStoppedFor(o, id, 'adding a shared folder');
    const spec = o.ctx.store.get(id);
    const shares = spec.shares ?? [];
    const s = nextShare(spec.name, shares, hostPath, req);
    await o.setShares(id, [...shares, s]);
    return s;
  });
  o.ctx.changed(id);
  return o.helpers(id).info(share, false, o.ctx.store.get(id).source.kind === 'default');
}

export async function removeShare(o: ShareOps, id: string, tag: string): Promise<void> {
  await o.ctx.runJob(id, 'share-remove', async () => {
    const spec = o.ctx.store.get(id);
    const rest = withoutShare(spec.name, spec.shares ?? [], tag);
    requireStoppedFor(o, id, 'removing a shared folder');
    await o.setShares(id, rest);
  });
  o.ctx.changed(id);
}
