// One host directory's entries for the browser's file picker (`fs.list`), where no native
// dialog exists. It lists only what the engine's user could open anyway: directories they can
// enter and files they can read. Dotfiles only when asked. The path is resolved first
// (realpath), so the answer says where the listing really is; one directory per request,
// never recursive. Names go back as plain strings; the renderer shows them as text.
import { constants as fsConstants, type Dirent } from 'node:fs';
import { access, readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import type { DirEntry, DirListing } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';

/** A picker is for finding a file by eye; a directory with more than this is cut short (and says so). */
export const FS_LIST_MAX = 2000;

async function entryOf(dir: string, d: Dirent): Promise<DirEntry | null> {
  const full = dir === '/' ? `/${d.name}` : `${dir}/${d.name}`;
  try {
    // stat follows a symlink to say what it names; a dangling one is left out
    const st = d.isSymbolicLink() ? await stat(full) : null;
    const isDir = st ? st.isDirectory() : d.isDirectory();
    const isFile = st ? st.isFile() : d.isFile();
    if (!isDir && !isFile) return null; // sockets, fifos, devices: nothing a VM boots from
    await access(full, isDir ? fsConstants.R_OK | fsConstants.X_OK : fsConstants.R_OK);
    return { name: d.name, kind: isDir ? 'dir' : 'file', size: isFile ? (st ?? (await stat(full))).size : null };
  } catch {
    return null;
  }
}

export async function listDirectory(path: string | undefined, opts: { showHidden?: boolean; max?: number } = {}): Promise<DirListing> {
  const asked = path ?? homedir();
  let dir: string;
  try {
    dir = await realpath(asked);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FlotillaError('FILE_NOT_FOUND', code === 'ENOENT' ? `${asked} does not exist` : `cannot open ${asked} (${code ?? String(err)})`, { path: asked });
  }
  let dirents: Dirent[];
  try {
    dirents = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' ? 'is not readable by you' : `cannot be listed (${code ?? String(err)})`;
    throw new FlotillaError('FILE_NOT_FOUND', `${asked} ${why}`, { path: asked });
  }
  const visible = dirents.filter((d) => opts.showHidden || !d.name.startsWith('.'));
  const max = opts.max ?? FS_LIST_MAX;
  const entries = (await Promise.all(visible.map((d) => entryOf(dir, d)))).filter((e): e is DirEntry => e !== null);
  entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'dir' ? -1 : 1));
  return { path: dir, parent: dir === '/' ? null : dirname(dir), entries: entries.slice(0, max), truncated: entries.length > max, hidden: dirents.length - visible.length };
}
