// A VM's long job (clone, export, import, snapshot…) as a progress strip with Cancel: on its
// tile, in its view and on an import's placeholder tile. Cancel is offered only when the engine
// says the job can be cancelled (Progress.cancellable) and asks vm.cancelJob.
import { useState, type ReactElement } from 'react';
import type { Progress } from '../../../shared/contract';
import { cancelJob } from '../store/lifecycle-actions';
import { ProgressBar } from './progress-bar';

/** `host`: where a VM not listed yet (an import's placeholder) is being made; a listed VM's is its own */
export function JobProgress({ id, progress, host }: { id: string; progress: Progress; host?: string }): ReactElement {
  const [asked, setAsked] = useState(false);
  return (
    <div className="job-progress">
      <ProgressBar progress={progress} />
      {progress.cancellable && (
        <button
          type="button"
          className="btn btn-sm btn-ghost"
          disabled={asked}
          onClick={() => {
            setAsked(true);
            void cancelJob(id, host).finally(() => setAsked(false));
          }}
        >
          {asked ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
    </div>
  );
}
