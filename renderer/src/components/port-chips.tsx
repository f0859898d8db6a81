// Forwarded ports as chips: `127.0.0.1:40022 → 22`. Web-ish guest ports open in the browser;
// every chip has a copy button for the host address, and the port-22 chip one for the ssh
// command. On the built-in Linux that command is fetched when clicked: the engine reads the
// guest's host key and the copied command checks it (as `flotilla ssh NAME` does); elsewhere
// it is plain `ssh -p PORT 127.0.0.1`, as the user's own name.
import type { ReactElement } from 'react';
import type { PortEntry, VmRef } from '../../../shared/contract';
import { sshCommandLine } from '../../../shared/ssh-command';
import { getApi } from '../api/current';
import { CopyButton } from './copy-button';

const WEB_PORTS: Record<number, 'http' | 'https'> = { 80: 'http', 443: 'https', 3000: 'http', 5000: 'http', 8000: 'http', 8080: 'http', 8443: 'https', 8888: 'http' };

/** The built-in Linux's ssh command, with its host key pinned (the engine writes the VM's known_hosts). */
export async function checkedSshCommand(vm: VmRef): Promise<string> {
  return sshCommandLine(await getApi().invoke('vm.sshInfo', vm));
}

export function PortChips({ ports, vmName, builtinOf }: { ports: readonly PortEntry[]; vmName: string; builtinOf?: VmRef | undefined }): ReactElement | null {
  const forwards = ports.filter((p) => p.purpose === 'forward');
  if (forwards.length === 0) return null;
  return (
    <ul className="chips" aria-label={`Forwarded ports of ${vmName}`}>
      {forwards.map((p) => {
        const addr = `${p.host}:${p.hostPort}`;
        const text = `${addr} → ${p.guestPort ?? '?'}${p.proto === 'udp' ? '/udp' : ''}`;
        const scheme = p.proto === 'tcp' && p.guestPort !== undefined ? WEB_PORTS[p.guestPort] : undefined;
        return (
          <li key={`${p.proto}:${p.hostPort}`} className="chip">
            {scheme ? (
              <a className="chip-text" href={`${scheme}://${addr}/`} target="_blank" rel="noopener noreferrer" title={`Open ${scheme}://${addr}/`}>
                {text}
              </a>
            ) : (
              <span className="chip-text">{text}</span>
            )}
            <CopyButton text={addr} label={`Copy ${addr}`} className="chip-copy" />
            {p.proto === 'tcp' && p.guestPort === 22 && (
              <CopyButton text={builtinOf ? () => checkedSshCommand(builtinOf) : `ssh -p ${p.hostPort} ${p.host}`} label={`Copy ssh command for ${vmName}`} className="chip-copy chip-copy-ssh" icon="terminal" />
            )}
          </li>
        );
      })}
    </ul>
  );
}
