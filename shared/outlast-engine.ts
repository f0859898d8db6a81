// Long jobs that outlast their engine, for every front (the CLI's job-command.ts, the UI's
// lifecycle-actions.ts). A killed engine leaves nothing of a job half-made: the next one sweeps an
// export's partial archive and an import's or clone's staging directory, and QEMU finishes a
// snapshot save whose engine went (the next engine waits for it). So a client whose engine is
// lost mid-job waits for the next one, looks for what the job makes, and otherwise runs the job
// again. What "the job's effect" is, is the caller's: it must not take something that was there
// before the job for the job's (a first try can be lost before the engine looked at anything).
import type { SnapshotInfo } from './contract';
import { FlotillaError, isEngineLost } from './errors';
import type { Invoke } from './file-transfer';

/** Engines lost during one job before the client gives up on it (each loss starts the job again). */
export const JOB_MAX_ENGINE_LOSSES = 3;

export interface OutlastOptions<T> {
  job: () => Promise<T>;
  /** what the job made, looked for once the engine is back; null when it is not there */
  finished: () => Promise<T | null>;
  /** waits for the next engine; throws (`lost`, say) when there will be none */
  reconnect: (lost: FlotillaError) => Promise<void>;
  /** told after each reconnect whether the job was found complete or runs again */
  onResumed?: (complete: boolean) => void;
}

/** Runs `job`; when the engine is lost during it, reconnects and returns what `finished` finds, or runs `job` again. */
export async function outlastEngine<T>(o: OutlastOptions<T>): Promise<T> {
  for (let lost = 0; ; ) {
    try {
      return await o.job();
    } catch (err) {
      if (!isEngineLost(err) || ++lost > JOB_MAX_ENGINE_LOSSES) throw err;
      await o.reconnect(err);
      const done = await o.finished();
      o.onResumed?.(done !== null);
      if (done !== null) return done;
    }
  }
}

/**
 * snapshot.create across a lost engine. After the engine is back, the snapshot is listed, or a
 * second try under its name is refused as taken: where the name was free before, either is this
 * save. An unnamed snapshot gets its name from the engine: the one new in the list is this one
 * (and if QEMU had not finished it by then, a second one is taken).
 */
export async function createSnapshotOutlasting(
  invoke: Invoke,
  ref: { host?: string; id: string },
  name: string | undefined,
  diskOnly: boolean,
  reconnect: OutlastOptions<SnapshotInfo>['reconnect'],
  onResumed?: OutlastOptions<SnapshotInfo>['onResumed'],
): Promise<SnapshotInfo> {
  const list = () => invoke('snapshot.list', ref);
  const before = new Set((await list()).map((x) => x.name));
  const fresh = async (): Promise<SnapshotInfo | null> => {
    const made = (await list()).filter((x) => !before.has(x.name) && (name === undefined || x.name === name));
    return made.length === 1 ? made[0]! : null;
  };
  let again = false;
  return outlastEngine({
    job: async () => {
      try {
        return await invoke('snapshot.create', { ...ref, ...(name !== undefined ? { name } : {}), diskOnly });
      } catch (err) {
        const ours = again && name !== undefined && !before.has(name) && err instanceof FlotillaError && err.code === 'NAME_TAKEN' ? await fresh() : null;
        if (ours) return ours;
        throw err;
      } finally {
        again = true;
      }
    },
    finished: fresh,
    reconnect,
    ...(onResumed ? { onResumed } : {}),
  });
}
