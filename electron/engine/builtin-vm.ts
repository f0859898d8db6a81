// What a built-in Linux VM gets besides its boot files: its own disk, mounted at /root by the
// guest (made at create time, and at start for VMs from before there were disks or whose file was
// removed), the SSH public keys passed to it at each boot, and the known_hosts entry that lets
// `flotilla ssh` check the guest's host key instead of trusting it on first use.
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PortEntry, SshInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { sshCheckedArgs } from '../../shared/ssh-command';
import { SSH_PUBLIC_KEY_RE, DEFAULT_ROOT_DISK_GIB, type VmSpec } from '../../shared/spec';
import { produceFileAtomic, writeFileAtomic } from './atomic-file';
import { qemuImgCreate } from './images';
import { VM_DISK_FILE } from './qemu-args';

export const AUTHORIZED_KEYS_FILE = 'authorized_keys';
export const KNOWN_HOSTS_FILE = 'known_hosts';
/**
 * Where the guest's init writes the public half of its host key (the key itself is on the VM's
 * disk). In /run, once its SSH server listens, so the file's presence means SSH is up this boot.
 */
export const GUEST_HOST_KEY_PUB = '/run/flotilla/ssh_host_ed25519_key.pub';
/** The agent answers before init has started the SSH server: how long to wait for the key file. */
const HOST_KEY_WAIT_MS = 60_000;
/** Only an ed25519 key line, as the guest's dropbearkey prints it; anything else is refused. */
const HOST_KEY_RE = /^ssh-ed25519 [A-Za-z0-9+/]{60,100}={0,2}$/;

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/** Makes the VM's disk if it is missing. Returns true when it did (so the caller records it in the spec). */
export async function ensureRootDisk(vmDir: string, spec: VmSpec): Promise<boolean> {
  const file = join(vmDir, spec.disks[0] ?? VM_DISK_FILE);
  if (await exists(file)) return false;
  const size = spec.source.kind === 'default' ? spec.source.diskSizeGiB : DEFAULT_ROOT_DISK_GIB;
  await produceFileAtomic(file, (tmp) => qemuImgCreate(tmp, size, 'qcow2'));
  return true;
}

/** The public keys in a user's ~/.ssh/*.pub; files that are not one valid key line are skipped. */
export async function userPublicKeys(home = homedir()): Promise<string[]> {
  const dir = join(home, '.ssh');
  const names = await readdir(dir).catch(() => [] as string[]);
  const keys: string[] = [];
  for (const n of names.filter((x) => x.endsWith('.pub')).sort()) {
    const text = await readFile(join(dir, n), 'utf8').catch(() => '');
    for (const line of text.split('\n').map((l) => l.trim())) if (SSH_PUBLIC_KEY_RE.test(line)) keys.push(line);
  }
  return keys;
}

/**
 * Writes <vmDir>/authorized_keys: the spec's keys and the engine user's own, each once. Returns its
 * path, or null when there is no key (then the guest's managed block is emptied).
 */
export async function writeAuthorizedKeys(vmDir: string, spec: VmSpec, userKeys: string[]): Promise<string | null> {
  const keys = [...new Set([...spec.sshKeys, ...userKeys])];
  const file = join(vmDir, AUTHORIZED_KEYS_FILE);
  if (!keys.length) return null;
  await writeFileAtomic(file, `${keys.join('\n')}\n`, 0o600);
  return file;
}

/**
 * Turns what the guest says its host key is into the line of a Flotilla-managed known_hosts file
 * (under the alias `flotilla-<id>`, which `ssh -o HostKeyAlias` looks up). The text comes from the
 * guest: only a well-formed ed25519 key passes, so nothing else reaches the file.
 */
export function knownHostsLine(alias: string, guestText: string): string {
  const text = guestText.trim();
  const [type, blob] = text.split(/\s+/);
  const key = `${type ?? ''} ${blob ?? ''}`;
  if (text.includes('\n') || !HOST_KEY_RE.test(key)) throw new FlotillaError('AGENT_ERROR', `the guest's SSH host key (${GUEST_HOST_KEY_PUB}) is not an ed25519 public key`);
  return `${alias} ${key}\n`;
}

export function hostKeyAlias(id: string): string {
  return `flotilla-${id}`;
}

/** Writes <vmDir>/known_hosts from the guest's host key text; returns the file's path. */
export async function writeKnownHosts(vmDir: string, id: string, guestText: string): Promise<string> {
  const file = join(vmDir, KNOWN_HOSTS_FILE);
  await writeFileAtomic(file, knownHostsLine(hostKeyAlias(id), guestText), 0o600);
  return file;
}

/**
 * The guest's SSH host key line, read through its agent: init writes it once its SSH server
 * listens, so a guest whose agent answered but whose server is not up yet is waited for.
 * `otherwise` says how to reach a guest that is not the built-in Linux.
 */
export async function readGuestHostKey(name: string, readGuestFile: (path: string) => Promise<Buffer>, otherwise: string, waitMs = HOST_KEY_WAIT_MS): Promise<string> {
  for (const deadline = Date.now() + waitMs; ; ) {
    try {
      return (await readGuestFile(GUEST_HOST_KEY_PUB)).toString('utf8');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (/No such file/.test(why) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      throw new FlotillaError('AGENT_ERROR', `cannot read the SSH host key of ${name} (${GUEST_HOST_KEY_PUB}): ${why}. Only the built-in Linux runs Flotilla's SSH server; other guests: ${otherwise}`);
    }
  }
}

/**
 * What `ssh` needs to reach a built-in guest at host:port and verify it: the guest's host key is
 * read through the agent at each call (a rebuilt disk has a new key) and written to the VM's own
 * known_hosts file in `dir`.
 */
export async function sshInfoAt(vm: { id: string; name: string; dir: string; host: string; port: number; readGuestFile: (path: string) => Promise<Buffer>; identityFile: string | null; waitMs?: number }): Promise<SshInfo> {
  const text = await readGuestHostKey(vm.name, vm.readGuestFile, `ssh -p ${vm.port} USER@${vm.host}`, vm.waitMs);
  const knownHostsFile = await writeKnownHosts(vm.dir, vm.id, text);
  const [type, blob] = text.trim().split(/\s+/);
  return { host: vm.host, port: vm.port, user: 'root', hostKeyAlias: hostKeyAlias(vm.id), knownHostsFile, hostKey: `${type} ${blob}`, identityFile: vm.identityFile };
}

/** sshInfoAt for a local VM, on its forward of guest port 22. */
export async function sshInfoFor(vm: {
  id: string;
  name: string;
  vmDir: string;
  ports: PortEntry[];
  readGuestFile: (path: string) => Promise<Buffer>;
  /** Flotilla's own private key (own-ssh-key.ts), when there is one */
  identityFile: string | null;
  waitMs?: number;
}): Promise<SshInfo> {
  const fwd = vm.ports.find((p) => p.purpose === 'forward' && p.proto === 'tcp' && p.guestPort === 22);
  if (!fwd) {
    throw new FlotillaError('INVALID_STATE', `${vm.name} has no forward of guest port 22 while running; add one (flotilla create … --forward 22) and start it`);
  }
  return sshInfoAt({ id: vm.id, name: vm.name, dir: vm.vmDir, host: fwd.host, port: fwd.hostPort, readGuestFile: vm.readGuestFile, identityFile: vm.identityFile, ...(vm.waitMs !== undefined ? { waitMs: vm.waitMs } : {}) });
}

/** The ssh(1) argument array for sshInfoFor's answer: host key checked strictly against the VM's own file. */
export function sshArgs(info: SshInfo, opts: { identity?: string; command?: string[] } = {}): string[] {
  // a key the user names is the only one offered
  const checked = sshCheckedArgs(info, { ownKey: !opts.identity });
  return [
    ...checked.slice(0, -1),
    ...(opts.identity ? ['-i', opts.identity, '-o', 'IdentitiesOnly=yes'] : []),
    ...checked.slice(-1),
    ...(opts.command?.length ? ['--', ...opts.command] : []),
  ];
}
