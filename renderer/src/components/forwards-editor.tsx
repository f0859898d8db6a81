// Edit port forwards: guest port → host port (blank = any free port, chosen by the engine).
import type { ReactElement } from 'react';
import { Icon } from './icons';

export interface ForwardDraft {
  proto: 'tcp' | 'udp';
  guestPort: string;
  hostPort: string;
}

export function forwardsFromDraft(rows: readonly ForwardDraft[]): { proto: 'tcp' | 'udp'; guestPort: number; hostPort?: number }[] {
  return rows.map((r) => ({
    proto: r.proto,
    guestPort: r.guestPort.trim() === '' ? NaN : Number(r.guestPort),
    ...(r.hostPort.trim() === '' ? {} : { hostPort: Number(r.hostPort) }),
  }));
}

export function ForwardsEditor({
  rows,
  onChange,
  errors,
  disabled,
}: {
  rows: ForwardDraft[];
  onChange: (rows: ForwardDraft[]) => void;
  errors: Record<string, string>;
  disabled?: boolean;
}): ReactElement {
  const set = (i: number, patch: Partial<ForwardDraft>): void => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const general = errors['forwards'];
  return (
    <fieldset className="forwards" disabled={disabled}>
      <legend>Port forwards</legend>
      {rows.length === 0 && <p className="field-hint">No ports forwarded. The VM can still reach the network.</p>}
      {rows.map((r, i) => {
        const gErr = errors[`forwards.${i}.guestPort`];
        const hErr = errors[`forwards.${i}.hostPort`] ?? errors[`forwards.${i}`];
        return (
          <div className="forward-row" key={i}>
            <select aria-label={`Protocol of forward ${i + 1}`} value={r.proto} onChange={(e) => set(i, { proto: e.target.value as 'tcp' | 'udp' })}>
              <option value="tcp">TCP</option>
              <option value="udp">UDP</option>
            </select>
            <input
              type="number"
              inputMode="numeric"
              min={1}
              max={65535}
              aria-label={`Guest port of forward ${i + 1}`}
              aria-invalid={!!gErr}
              placeholder="Guest port"
              value={r.guestPort}
              onChange={(e) => set(i, { guestPort: e.target.value })}
            />
            <span className="arrow" aria-hidden="true">
              ←
            </span>
            <input
              type="number"
              inputMode="numeric"
              min={1024}
              max={65535}
              aria-label={`Host port of forward ${i + 1}`}
              aria-invalid={!!hErr}
              placeholder="Host port (auto)"
              value={r.hostPort}
              onChange={(e) => set(i, { hostPort: e.target.value })}
            />
            <button type="button" className="icon-btn" aria-label={`Remove forward ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              <Icon name="close" size={14} />
            </button>
            {(gErr || hErr) && (
              <p className="field-error forward-error" role="alert">
                {gErr ?? hErr}
              </p>
            )}
          </div>
        );
      })}
      {general && (
        <p className="field-error" role="alert">
          {general}
        </p>
      )}
      <button type="button" className="btn btn-ghost btn-sm" onClick={() => onChange([...rows, { proto: 'tcp', guestPort: '', hostPort: '' }])}>
        <Icon name="plus" size={14} /> Add forward
      </button>
    </fieldset>
  );
}
