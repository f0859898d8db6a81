// Which host a new VM goes to (New VM, Import), once libvirt hosts were added: the host the tiles
// are filtered by when it is connected, else this computer. Hosts that are not connected are
// listed but cannot be chosen.
import { useState, type ReactElement } from 'react';
import type { HostInfo } from '../../../shared/contract';
import { LOCAL_HOST } from '../../../shared/contract-names';
import { useStore } from '../store/store';
import { Field } from './fields';

/** The chosen host's id and its setter, and the hosts to choose from. */
export function useHostChoice(): { hostId: string; setHostId: (id: string) => void; hosts: HostInfo[]; host: HostInfo | undefined } {
  const hosts = useStore((s) => s.vms.hosts);
  const hostFilter = useStore((s) => s.ui.hostFilter);
  const [hostId, setHostId] = useState<string>(() => (hostFilter && hosts.some((h) => h.id === hostFilter && h.state === 'connected') ? hostFilter : LOCAL_HOST));
  return { hostId, setHostId, hosts, host: hosts.find((h) => h.id === hostId) };
}

/** The Host select; nothing while this computer is the only host. */
export function HostField({ hosts, value, onChange, hint }: { hosts: readonly HostInfo[]; value: string; onChange: (id: string) => void; hint?: string }): ReactElement | null {
  if (hosts.length <= 1) return null;
  return (
    <Field label="Host" {...(hint ? { hint } : {})}>
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange(e.target.value)}>
          {hosts.map((h) => (
            <option key={h.id} value={h.id} disabled={h.state !== 'connected'}>
              {h.name}
              {h.state !== 'connected' ? ` (${h.state})` : ''}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
