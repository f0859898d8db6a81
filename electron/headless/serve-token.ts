// The headless front's token, kept in the data directory (`serve-token`, 0600, beside the
// engine's socket dir and vm.json files that the same permissions guard) so that a page left
// open, or a bookmarked link, still works after `flotilla serve` restarts on the same port: the
// page reconnects by itself. `flotilla serve --new-token` makes a new one, which turns away every
// page and link that held the old one. A file that others could read (its mode changed) is not
// trusted to have stayed secret: a new token replaces it.
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../engine/atomic-file';

export const TOKEN_FILE = 'serve-token';
const TOKEN_RE = /^[0-9a-f]{64}$/;

export interface ServeToken {
  token: string;
  /** null: the kept one; else why a new one was made (none kept, not a token, others could read it, --new-token) */
  made: null | 'none' | 'unreadable' | 'exposed' | 'asked';
}

export async function serveToken(file: string, opts: { renew?: boolean } = {}): Promise<ServeToken> {
  let made: ServeToken['made'] = 'asked';
  if (!opts.renew) {
    const kept = await readFile(file, 'utf8').then(
      (t) => t.trim(),
      (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : ''),
    );
    const mode = kept ? (await stat(file)).mode & 0o077 : 0;
    if (kept && TOKEN_RE.test(kept) && mode === 0) return { token: kept, made: null };
    made = kept === null ? 'none' : mode !== 0 ? 'exposed' : 'unreadable';
  }
  const token = randomBytes(32).toString('hex');
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, made };
}
