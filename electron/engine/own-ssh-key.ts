// Flotilla's own SSH key pair, so that `flotilla ssh` (and the command the UI copies) reaches a
// built-in Linux for a user who has no key of their own, as Lima and Multipass make one. Made
// once with ssh-keygen in the data directory (ssh/id_ed25519, 0600 in a 0700 directory: who can
// read it could already drive the engine's socket there), and its public half goes into every
// built-in VM with the user's own keys at each start.
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SSH_PUBLIC_KEY_RE } from '../../shared/spec';

export const OWN_KEY_FILE = join('ssh', 'id_ed25519');

export interface OwnKey {
  /** the private key's path, for ssh -i */
  file: string;
  publicKey: string;
}

/** The public half, when the pair is there and whole. */
export async function readOwnKey(home: string): Promise<OwnKey | null> {
  const file = join(home, OWN_KEY_FILE);
  const [priv, pub] = await Promise.all([readFile(file, 'utf8').catch(() => ''), readFile(`${file}.pub`, 'utf8').catch(() => '')]);
  const line = pub.trim();
  return priv.includes('PRIVATE KEY') && SSH_PUBLIC_KEY_RE.test(line) ? { file, publicKey: line } : null;
}

/**
 * The pair, made when it is missing. Null when ssh-keygen is not there or fails (the VM then
 * starts with the user's keys only, as before). Made under a temp name and renamed, the public
 * half last, so a pair that reads whole is whole.
 */
export async function ensureOwnKey(home: string, log: (text: string) => void = () => undefined): Promise<OwnKey | null> {
  const have = await readOwnKey(home);
  if (have) return have;
  const file = join(home, OWN_KEY_FILE);
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = join(dir, `.id_ed25519.${process.pid}.${Date.now()}`);
  try {
    await new Promise<void>((resolve, reject) =>
      execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'flotilla', '-f', tmp], { timeout: 30_000 }, (err) => (err ? reject(err) : resolve())),
    );
    await rename(tmp, file);
    await rename(`${tmp}.pub`, `${file}.pub`);
    return await readOwnKey(home);
  } catch (err) {
    log(`could not make Flotilla's SSH key (${err instanceof Error ? err.message : String(err)}); built-in VMs get the user's own keys only`);
    return null;
  } finally {
    await rm(tmp, { force: true });
    await rm(`${tmp}.pub`, { force: true });
  }
}
