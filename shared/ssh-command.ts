// The ssh(1) options that reach a built-in VM on its port-22 forward and check its host key
// strictly against the VM's own known_hosts file. One list for both users: the CLI spawns ssh
// with it as an argument array; the UI copies it as a command line for the user's shell.
import type { SshInfo } from './contract';

export function sshCheckedArgs(info: SshInfo, opts: { ownKey?: boolean } = {}): string[] {
  return [
    '-p', String(info.port),
    // Flotilla's own key, beside whatever keys the user's ssh offers (unless a caller names one)
    ...(info.identityFile && opts.ownKey !== false ? ['-i', info.identityFile] : []),
    '-o', `HostKeyAlias=${info.hostKeyAlias}`,
    '-o', `UserKnownHostsFile=${info.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    `${info.user}@${info.host}`,
  ];
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
  return ips.find((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a) && a !== USER_NET_GUEST_ADDRESS && !a.startsWith('127.')) ?? null;
}

/** Whether a libvirt URI is this computer's libvirt (where `flotilla ssh` reaches a guest's address). */
export function isLocalLibvirtUri(uri: string | undefined): boolean {
  return uri === 'qemu:///system' || uri === 'qemu:///session';
}
