// The ssh(1) options that reach a built-in VM on its port-22 forward and check its host key
// strictly against the VM's own known_hosts file. One list for both users: the CLI spawns ssh
// with it as an argument array; the UI copies it as a command line for the user's shell.
import type { SshInfo, SshJump } from './contract';

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

export function sshCheckedArgs(info: SshInfo, opts: { ownKey?: boolean } = {}): string[] {
  // through a jump, ssh puts the address (%h) into the shell line of its ProxyCommand: only the
  // dotted digits reachableAddress admits from what the guest's agent reported go there
  if (info.jump && !IPV4_RE.test(info.host)) throw new Error(`not an IPv4 address: ${JSON.stringify(info.host)}`);
  return [
    '-p', String(info.port),
    // Flotilla's own key, beside whatever keys the user's ssh offers (unless a caller names one)
    ...(info.identityFile && opts.ownKey !== false ? ['-i', info.identityFile] : []),
    '-o', `HostKeyAlias=${info.hostKeyAlias}`,
    '-o', `UserKnownHostsFile=${sshOptionValue(info.knownHostsFile)}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    ...(info.jump ? ['-o', `ProxyCommand=${jumpProxyCommand(info.jump)}`] : []),
    `${info.user}@${info.host}`,
  ];
}

/**
 * ssh's ProxyCommand that opens the guest's port 22 from the libvirt host (`ssh -W %h:%p` there),
 * the host's key checked strictly as the host connection checks it. ssh hands this line to
 * /bin/sh, so every word is quoted; a '%' of ours is doubled, leaving only ssh's %h and %p (the
 * guest's address, checked to be an IPv4 address in sshCheckedArgs, and 22). The words are the
 * user's own host settings, never anything the host or the guest sent. Why not ProxyJump (-J),
 * which avoids writing this line: ssh builds the same kind of shell line for it, passing the jump
 * only -F, so the host's key, known_hosts and ControlPath would have to sit in a config file
 * whose path ssh pastes into that line unquoted.
 */
export function jumpProxyCommand(j: SshJump): string {
  const words = [
    'ssh', '-p', String(j.port), '-l', j.user,
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${sshOptionValue(j.knownHostsFile)}`,
    ...(j.identityFile ? ['-o', 'IdentitiesOnly=yes', '-i', j.identityFile] : []),
    // the engine's connection to the host while it is up; without it ssh connects by itself
    ...(j.controlPath ? ['-o', `ControlPath=${sshOptionValue(j.controlPath)}`, '-o', 'ControlMaster=no'] : []),
  ];
  return [...words.map((w) => shellQuote(w).replace(/%/g, '%%')), '-W', '%h:%p', '--', shellQuote(j.host).replace(/%/g, '%%')].join(' ');
}

/**
 * A path as the value of `ssh -o KEY=VALUE`: ssh splits option values into words (a known_hosts
 * option takes several files), so a path with a space, quote, backslash or '#' is double-quoted
 * with ssh's own escapes.
 */
export function sshOptionValue(path: string): string {
  return /[\s"'\\#]/.test(path) ? `"${path.replace(/["\\]/g, (c) => `\\${c}`)}"` : path;
}

/** POSIX shell quoting: words of safe characters stay bare, anything else is single-quoted. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `ssh -p 40022 -o HostKeyAlias=… … root@127.0.0.1`, ready to paste into a shell. */
export function sshCommandLine(info: SshInfo): string {
  return ['ssh', ...sshCheckedArgs(info)].map(shellQuote).join(' ');
}

/** QEMU's user networking gives every guest this address, which no one outside the guest reaches. */
export const USER_NET_GUEST_ADDRESS = '10.0.2.15';

/**
 * A guest's address that its host can reach: an IPv4 address on a real network (a libvirt
 * network's DHCP lease), never user networking's fixed one or loopback. Null when there is none.
 */
export function reachableAddress(ips: readonly string[]): string | null {
  return ips.find((a) => IPV4_RE.test(a) && a !== USER_NET_GUEST_ADDRESS && !a.startsWith('127.')) ?? null;
}


/** Whether a libvirt URI is this computer's libvirt (where `flotilla ssh` reaches a guest's address). */
export function isLocalLibvirtUri(uri: string | undefined): boolean {
  return uri === 'qemu:///system' || uri === 'qemu:///session';
}

/** An ssh host key's fingerprint as `ssh-keygen -l` prints it. */
export const SSH_FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** The command that shows, on the host itself, its key of this type (ED25519, ECDSA or RSA). */
export function hostKeyCheckCommand(type: string): string {
  const file = type === 'RSA' ? 'rsa' : type === 'ECDSA' ? 'ecdsa' : 'ed25519';
  return `ssh-keygen -lf /etc/ssh/ssh_host_${file}_key.pub`;
}
