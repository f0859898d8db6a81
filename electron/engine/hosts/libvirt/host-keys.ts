// A remote host's ssh key on the first connection, as ssh and virt-manager ask about it: the
// fingerprint is shown, and only the key the user confirmed by that fingerprint is trusted.
//
// ssh itself fetches the key, not ssh-keyscan: it reads the user's ~/.ssh/config (HostName, Port,
// ProxyJump, HostKeyAlgorithms), so the key is the one the real connection will be offered, and
// the line it writes has the user's HashKnownHosts form. It writes into a throwaway known_hosts
// (StrictHostKeyChecking=accept-new) with every authentication method off, so it never logs in.
// Trusting fetches again and appends only when that fingerprint matches the confirmed one, so a
// key that changed between the question and the answer is refused with nothing written. The
// lines are checked before a byte is written: three fields, a known key type, a blob that names
// the same type, a host field without markers (no @cert-authority, no negation).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HostKeyOffer } from '../../../../shared/errors';
import { FlotillaError } from '../../../../shared/errors';
import { hostKeyCheckCommand, sshOptionValue } from '../../../../shared/ssh-command';
import { classifySshFailure, defaultKnownHosts, failureOf, type SshTarget } from './ssh-master';
import { sshHostLabel } from './uri';

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);
// a hashed host field (|1|salt|hash) or host names / [host]:port, comma-separated
const HOST_FIELD = /^(?:\|1\|[A-Za-z0-9+/]+=*\|[A-Za-z0-9+/]+=*|[A-Za-z0-9_.:[\]-]+(?:,[A-Za-z0-9_.:[\]-]+)*)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface KnownHostLine {
  type: string;
  fingerprint: string;
  line: string;
}

/** OpenSSH's SHA256 fingerprint of a public key blob, as `ssh-keygen -l` prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** known_hosts lines as ssh writes them, each checked; anything else throws. */
export function parseKnownHostLines(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(' ');
    const [host, type, b64] = fields;
    if (fields.length !== 3 || !host || !type || !b64) throw new Error('not a three-field known_hosts line');
    if (!HOST_FIELD.test(host)) throw new Error('host field with markers or unexpected characters');
    if (!KEY_TYPES.has(type)) throw new Error(`key type ${JSON.stringify(type.slice(0, 40))} is not one ssh offers`);
    if (!BASE64.test(b64)) throw new Error('key is not base64');
    const blob = Buffer.from(b64, 'base64');
    const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    if (n < 1 || 4 + n > blob.length || blob.subarray(4, 4 + n).toString('latin1') !== type) throw new Error('key blob does not name its type');
    out.push({ type, fingerprint: fingerprintOf(blob), line });
  }
  return out;
}

/** ED25519, ECDSA, RSA as ssh-keygen words them. */
function typeWord(type: string): string {
  if (type.includes('ed25519')) return 'ED25519';
  if (type.includes('ecdsa')) return 'ECDSA';
  if (type.includes('rsa')) return 'RSA';
  return type;
}

export interface HostKeyOptions {
  sshBinary?: string;
  keygenBinary?: string;
  timeoutMs?: number;
}

interface Offered extends HostKeyOffer {
  lines: string[];
}

/** The key the host offers ssh, fetched into a throwaway known_hosts; never logs in. */
async function fetchOffered(t: SshTarget, opts: HostKeyOptions): Promise<Offered> {
  const dir = await mkdtemp(join(tmpdir(), 'flt-hostkey-'));
  try {
    const kh = join(dir, 'known_hosts');
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const args = [
      '-p', String(t.port),
      '-l', t.user,
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=accept-new',
      '-o', `UserKnownHostsFile=${sshOptionValue(kh)}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'UpdateHostKeys=no',
      '-o', 'ControlMaster=no',
      '-o', 'ControlPath=none',
      // nothing to log in with: ssh stops after the key exchange, the key written
      '-o', 'PubkeyAuthentication=no',
      '-o', 'PasswordAuthentication=no',
      '-o', 'KbdInteractiveAuthentication=no',
      '-o', 'GSSAPIAuthentication=no',
      '-o', 'HostbasedAuthentication=no',
      '-o', 'ClearAllForwardings=yes',
      '-o', 'SessionType=none',
      '-o', `ConnectTimeout=${Math.ceil(timeoutMs / 1000)}`,
      '-T',
      '--', t.host,
    ];
    const stderr = await new Promise<string>((resolve) => {
      execFile(opts.sshBinary ?? 'ssh', args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (_err, _out, err) => resolve(String(err)));
    });
    const text = await readFile(kh, 'utf8').catch(() => '');
    let lines: KnownHostLine[];
    try {
      lines = parseKnownHostLines(text);
    } catch (err) {
      throw new FlotillaError('UNAUTHORIZED', `the ssh host key ${sshHostLabel(t)} offered could not be read (${(err as Error).message}); nothing was trusted`, { host: sshHostLabel(t), reason: 'host-key-unknown' });
    }
    if (!lines.length) throw classifySshFailure(t, stderr);
    const first = lines[0]!;
    // ssh writes the same key once per name (the host, and with CheckHostIP its address)
    if (lines.some((l) => l.fingerprint !== first.fingerprint)) throw new FlotillaError('UNAUTHORIZED', `${sshHostLabel(t)} offered more than one host key in one connection; nothing was trusted`, { host: sshHostLabel(t), reason: 'host-key-unknown' });
    return { type: typeWord(first.type), fingerprint: first.fingerprint, lines: lines.map((l) => l.line) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The key the host offers, for the question "trust this key?". */
export async function offeredHostKey(t: SshTarget, opts: HostKeyOptions = {}): Promise<HostKeyOffer> {
  const { type, fingerprint } = await fetchOffered(t, opts);
  return { type, fingerprint };
}

/**
 * The unknown-host-key error of a first connection, with the key the host offers and how to
 * check it; the error as it was when the key cannot be fetched.
 */
export async function explainUnknownKey(t: SshTarget, err: unknown, opts: HostKeyOptions = {}): Promise<unknown> {
  if (failureOf(err) !== 'host-key-unknown') return err;
  let offer: HostKeyOffer;
  try {
    offer = await offeredHostKey(t, opts);
  } catch {
    return err;
  }
  const kh = t.knownHosts ?? defaultKnownHosts();
  return new FlotillaError(
    'UNAUTHORIZED',
    `${sshHostLabel(t)} is not in ${kh} yet. It offers the ${offer.type} key ${offer.fingerprint}. Check that it is the host's own (there: \`${hostKeyCheckCommand(offer.type)}\`), then trust it to connect`,
    { host: sshHostLabel(t), reason: 'host-key-unknown', hostKey: offer },
  );
}

/** Whether known_hosts holds this key for this host, as ssh-keygen -F finds it (hashed names too). */
async function knownAlready(t: SshTarget, kh: string, fingerprint: string, opts: HostKeyOptions): Promise<boolean> {
  const out = await new Promise<string>((resolve) => {
    execFile(opts.keygenBinary ?? 'ssh-keygen', ['-F', sshHostLabel(t), '-f', kh], { timeout: 10_000, maxBuffer: 1 << 20 }, (_err, stdout) => resolve(String(stdout)));
  });
  try {
    return parseKnownHostLines(out).some((l) => l.fingerprint === fingerprint);
  } catch {
    return false;
  }
}

/**
 * Appends the host's key to the known_hosts file, if and only if the host still offers the key
 * with the confirmed fingerprint. Returns the file written.
 */
export async function trustHostKey(t: SshTarget, fingerprint: string, opts: HostKeyOptions = {}): Promise<string> {
  const offered = await fetchOffered(t, opts);
  if (offered.fingerprint !== fingerprint) {
    throw new FlotillaError(
      'UNAUTHORIZED',
      `${sshHostLabel(t)} now offers the ${offered.type} key ${offered.fingerprint}, not ${fingerprint} as confirmed; nothing was trusted. Check the host's key again`,
      { host: sshHostLabel(t), reason: 'host-key-not-offered', hostKey: { type: offered.type, fingerprint: offered.fingerprint } },
    );
  }
  const kh = t.knownHosts ?? defaultKnownHosts();
  // trusted already (the same command run twice): nothing to add
  if (await knownAlready(t, kh, offered.fingerprint, opts)) return kh;
  // ~/.ssh is made as ssh makes it; a known_hosts path of the URI's must have its directory
  if (!t.knownHosts) await mkdir(dirname(kh), { recursive: true, mode: 0o700 });
  const fh = await open(kh, 'a+', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new FlotillaError('FILE_NOT_FOUND', `cannot write ${kh} to trust the host key (${err.code ?? err.message})`, { path: kh });
  });
  try {
    const { size } = await fh.stat();
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    // one write in append mode: a concurrent ssh appending its own line cannot split it
    await fh.write(`${lead}${offered.lines.join('\n')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return kh;
}
