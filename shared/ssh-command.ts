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
