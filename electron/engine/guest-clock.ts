// Setting a guest's clock to the host's through its agent. A guest's clock stops with the VM:
// QEMU stops the guest's time sources while it is paused, and a RAM snapshot brings back the
// clock of the moment it was taken, so after a resume or a revert the guest runs behind by as
// long as it was paused (measured here: 8 s behind after an 8 s pause, and still 8 s behind
// minutes later). OpenStack's libvirt driver sets the time after a resume for the same reason.
import type { AgentClient } from './agent-client';

/** How long one attempt may take: a guest whose agent does not answer must not hold a resume. */
const CLOCK_TIMEOUT_MS = 3000;

export type ClockAgent = Pick<AgentClient, 'request' | 'exec'>;

/**
 * Sets the guest's clock to `now()`. First qemu-ga's guest-set-time (nanoseconds; any guest OS);
 * a guest whose agent refuses it (the built-in Linux has no hwclock, and qemu-ga then reports
 * the command unsupported) gets `date -u -s` instead (setClockByDate). Returns how the clock was
 * set, or null when neither worked (an agent that is gone, a guest with no date).
 */
export async function syncGuestClock(agent: ClockAgent, now: () => number = Date.now): Promise<'guest-set-time' | 'date' | null> {
  try {
    await agent.request('guest-set-time', { time: now() * 1e6 }, CLOCK_TIMEOUT_MS);
    return 'guest-set-time';
  } catch {
    /* refused or unsupported: try date */
  }
  return setClockByDate(agent.exec.bind(agent), now);
}

/** `date -u -s` through the agent's guest-exec, to the nearest second; null when it fails. */
export async function setClockByDate(exec: ClockAgent['exec'], now: () => number = Date.now): Promise<'date' | null> {
  const stamp = new Date(Math.round(now() / 1000) * 1000).toISOString().replace('T', ' ').slice(0, 19);
  try {
    const r = await exec(['/bin/date', '-u', '-s', stamp], { timeoutMs: CLOCK_TIMEOUT_MS });
    return r.exitCode === 0 ? 'date' : null;
  } catch {
    return null;
  }
}
