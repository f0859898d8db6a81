// Waiting for a libvirt domain's guest agent: after a start (start --wait-agent), and before a
// command or a file goes through it while the guest is still booting, as a local VM's exec waits
// for its agent (Supervisor.agentClient). Without the wait, an exec right after a start failed
// with virsh's "Guest agent is not connected".
import { FlotillaError } from '../../../../shared/errors';
import { pausedRefusal } from '../../../../shared/state';
import type { LibvirtDomain } from './domain-info';
import { agentPing } from './domain-ops';
import type { Virsh } from './virsh';

/** how long a command or file waits for an agent that is still connecting (as a local VM's) */
export const AGENT_USE_WAIT_MS = 30_000;

export interface AgentWaitHost {
  waitFor(uuid: string, pred: (d: LibvirtDomain | undefined) => boolean, ms: number): Promise<boolean>;
  refreshAgent(uuid: string, opts: { agentSeen?: boolean }): Promise<void>;
}

/**
 * Until the domain's agent answers: libvirt's agent-lifecycle event has the host ping it and mark
 * it ready (LibvirtHost.refreshAgent), which ends the wait within 100 ms; a ping of our own every
 * 2 s is the fallback for an event that never comes. Fails when the domain stops, or at `ms`.
 */
export async function waitDomainAgent(host: AgentWaitHost, virsh: Virsh, d: () => LibvirtDomain, ms: number): Promise<void> {
  const { uuid, name } = d();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (d().agent === 'ready') return;
    if (await agentPing(virsh, uuid)) {
      await host.refreshAgent(uuid, { agentSeen: true });
      return;
    }
    if (d().state !== 'running') throw new FlotillaError('INVALID_STATE', `${name} stopped before its guest agent answered`);
    await host.waitFor(uuid, (x) => !x || x.state !== 'running' || x.agent === 'ready', Math.min(2000, Math.max(0, deadline - Date.now())));
  }
  throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${name} did not answer within ${Math.round(ms / 1000)} s (qemu-guest-agent must run in the guest)`);
}

/** Before a command or a file: only a running domain has an agent to use; one still connecting is waited for. */
export async function agentForUse(host: AgentWaitHost, virsh: Virsh, d: () => LibvirtDomain, ms = AGENT_USE_WAIT_MS): Promise<void> {
  const now = d();
  if (now.state === 'paused') throw new FlotillaError('INVALID_STATE', pausedRefusal(now.name));
  if (now.state !== 'running') throw new FlotillaError('INVALID_STATE', `${now.name} is ${now.state}, not running`);
  if (now.agent !== 'ready') await waitDomainAgent(host, virsh, d, ms);
}
