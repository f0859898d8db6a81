// Forwarded ports as chips: `127.0.0.1:40022 → 22`. Web-ish guest ports open in the browser;
// every chip has a copy button for the host address, and the port-22 chip one for the ssh
// command (as root on the built-in Linux, whose SSH server takes the user's keys; as the
// user's own name elsewhere). `flotilla ssh NAME` is the variant that checks the host key.
import type { ReactElement } from 'react';
import type { PortEntry } from '../../../shared/contract';
import { CopyButton } from './copy-button';

const WEB_PORTS: Record<number, 'http' | 'https'> = { 80: 'http', 443: 'https', 3000: 'http', 5000: 'http', 8000: 'http', 8080: 'http', 8443: 'https', 8888: 'http' };

export function sshCommand(p: PortEntry, builtin: boolean): string {
  return `ssh -p ${p.hostPort} ${builtin ? 'root@' : ''}${p.host}`;
}

export function PortChips({ ports, vmName, builtin = false }: { ports: readonly PortEntry[]; vmName: string; builtin?: boolean }): ReactElement | null {
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
              <CopyButton text={sshCommand(p, builtin)} label={`Copy ssh command for ${vmName}`} className="chip-copy chip-copy-ssh" />
            )}
          </li>
        );
      })}
    </ul>
  );
}
