// Progress of a long engine operation (disk creation, import, image build).
import type { ReactElement } from 'react';
import type { Progress } from '../../../shared/contract';

const OP_TEXT: Record<Progress['op'], string> = {
  'disk-create': 'Creating disk',
  'disk-import': 'Importing disk',
  'image-build': 'Building image',
  export: 'Exporting',
  import: 'Importing',
  clone: 'Cloning',
  snapshot: 'Snapshot',
  settle: 'Finishing earlier disk work',
};

export function ProgressBar({ progress }: { progress: Progress }): ReactElement {
  return <Meter label={progress.message ?? OP_TEXT[progress.op]} percent={progress.percent} />;
}

/** A labelled bar; `percent` null = indeterminate. */
export function Meter({ label, percent: pct }: { label: string; percent: number | null }): ReactElement {
  return (
    <div className="progress">
      <div className="progress-head">
        <span>{label}</span>
        {pct !== null && <span>{Math.round(pct)}%</span>}
      </div>
      <div
        className={`progress-track${pct === null ? ' indeterminate' : ''}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        {...(pct === null ? {} : { 'aria-valuenow': Math.round(pct) })}
      >
        <div className="progress-fill" style={pct === null ? undefined : { width: `${Math.max(2, Math.min(100, pct))}%` }} />
      </div>
    </div>
  );
}
