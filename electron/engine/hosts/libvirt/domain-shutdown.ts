// A graceful stop of a libvirt domain, as the local stop ladder (stop-ladder.ts) does it: libvirt's
// shutdown (through the guest agent when it answers, else the ACPI button) asked again every few
// seconds and at once when the agent comes up, until the domain is off; destroy at the deadline.
// Asked once, as before, a shutdown that landed while the guest booted (no acpid, no agent yet)
// was lost, and the domain was destroyed at the deadline: 30 s later, and not cleanly.
import { POWERDOWN_REPEAT_MS } from '../../stop-ladder';
import type { LibvirtDomain } from './domain-info';

export interface ShutdownTarget {
  uuid: string;
  name: string;
  virsh: { run(args: readonly string[]): Promise<unknown> };
  /** true once `pred` holds for the domain's record (undefined: it is gone), false after `ms` */
  waitFor(uuid: string, pred: (d: LibvirtDomain | undefined) => boolean, ms: number): Promise<boolean>;
  /** the domain's record now */
  current(): LibvirtDomain | undefined;
  note(line: string): void;
  now(): number;
  /** when the domain will be destroyed, while the stop waits (the tile's countdown); null after */
  deadline?(at: string | null): void;
}

const isOff = (d: LibvirtDomain | undefined): boolean => !d || d.state === 'stopped' || d.state === 'crashed';

/** Resolves once the domain is off (or destroyed after `deadlineMs`); a failed first request throws. */
export async function shutdownDomain(t: ShutdownTarget, deadlineMs: number, repeatMs = POWERDOWN_REPEAT_MS): Promise<void> {
  const end = t.now() + deadlineMs;
  t.deadline?.(new Date(end).toISOString());
  try {
    await askUntilOff(t, end, deadlineMs, repeatMs);
  } finally {
    t.deadline?.(null);
  }
}

async function askUntilOff(t: ShutdownTarget, end: number, deadlineMs: number, repeatMs: number): Promise<void> {
  // a paused guest takes no request: it runs again first, as a local VM's stop does
  if (t.current()?.state === 'paused') await t.virsh.run(['resume', '--domain', t.uuid]);
  for (let first = true; ; first = false) {
    const agentWasReady = t.current()?.agent === 'ready';
    // a repeat that fails is one that came as the domain went off (libvirt: "domain is not running")
    const asked = t.virsh.run(['shutdown', '--domain', t.uuid]);
    if (first) await asked;
    else await asked.catch(() => undefined);
    const left = end - t.now();
    if (left > 0) await t.waitFor(t.uuid, (d) => isOff(d) || (!agentWasReady && d?.agent === 'ready'), Math.min(repeatMs, left));
    if (isOff(t.current())) return;
    if (end - t.now() <= 0) break;
  }
  t.note(`domain ${t.name}: no shutdown within ${deadlineMs} ms, destroying`);
  await t.virsh.run(['destroy', '--domain', t.uuid]).catch(() => undefined);
}
