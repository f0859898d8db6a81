// A graceful stop of a guest that ignores ACPI used to show "Stopping…" for half a minute with
// no hint (issue 14 #8). While the engine waits, this says when it will force the VM off and
// offers "Force now" (no confirmation: the user already asked for the stop).
import { useEffect, useState, type ReactElement } from 'react';
import { confirmForceStop } from '../store/actions';
import { useStore } from '../store/store';

/** Whole seconds left until the deadline (never negative); null without a deadline. */
export function secondsLeft(deadline: string | null | undefined, now: number): number | null {
  if (!deadline) return null;
  const at = Date.parse(deadline);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function StopCountdown({ id }: { id: string }): ReactElement | null {
  const deadline = useStore((s) => (s.vms.byId[id]?.state === 'stopping' ? (s.vms.byId[id]?.stopDeadline ?? null) : null));
  const name = useStore((s) => s.vms.byId[id]?.name ?? '');
  // mounted per deadline, so its clock starts when the countdown does
  return deadline ? <Countdown key={deadline} id={id} name={name} deadline={deadline} /> : null;
}

function Countdown({ id, name, deadline }: { id: string; name: string; deadline: string }): ReactElement | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const left = secondsLeft(deadline, now);
  if (left === null) return null;
  return (
    <div className="countdown" role="group" aria-label={`Stopping ${name}`}>
      <span className="countdown-text" data-testid={`vm-${name}-countdown`}>
        {left > 0 ? `Waiting for the guest to shut down · forcing off in ${left} s` : 'Forcing off…'}
      </span>
      <button type="button" className="btn btn-sm btn-danger" onClick={() => confirmForceStop(id)}>
        Force now
      </button>
    </div>
  );
}
