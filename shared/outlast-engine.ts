// Long jobs that outlast their engine, for every front (the CLI's job-command.ts, the UI's
// lifecycle-actions.ts). A killed engine leaves nothing of a job half-made: the next one sweeps an
// export's partial archive and an import's or clone's staging directory, and QEMU finishes a
// snapshot save whose engine went (the next engine waits for it). So a client whose engine is
// lost mid-job waits for the next one, looks for what the job makes, and otherwise runs the job
// again. What "the job's effect" is, is the caller's: it must not take something that was there
// before the job for the job's (a first try can be lost before the engine looked at anything).
import type { DiskInfo, MethodResult, SnapshotInfo } from './contract';
import { FlotillaError, isEngineLost } from './errors';
import type { Invoke } from './file-transfer';
import { defaultSnapshotName } from './snapshot-names';

/** Engines lost during one job before the client gives up on it (each loss starts the job again). */
export const JOB_MAX_ENGINE_LOSSES = 3;

/** A front's side of a job across lost engines: how it waits for the next engine and what it says then. */
export interface Resumer {
  /** waits for the next engine; throws (`lost`, say) when there will be none */
  reconnect: (lost: FlotillaError) => Promise<void>;
  /**
   * told after each reconnect whether the job was found complete (true) or runs again (false);
   * null: a job that is the same done twice (a revert) runs again whatever became of it
   */
  onResumed?: (complete: boolean | null) => void;
}

/** A Resumer with the front's calls to the engine, for the jobs below. */
export interface JobClient extends Resumer {
  invoke: Invoke;
}

export interface OutlastOptions<T> extends Resumer {
  job: () => Promise<T>;
  /** what the job made, looked for once the engine is back; null when it is not there. Absent: the job runs again */
  finished?: () => Promise<T | null>;
}

/**
 * Runs `job`; when the engine is lost during it, reconnects and returns what `finished` finds, or
 * runs `job` again. A second try that fails is checked once more against `finished`: the killed
 * engine's work may have completed in the meantime (the next engine runs a VM's jobs only after
 * the qemu-img or QEMU job it left has finished), and then the second try is refused (a snapshot
 * name taken, a snapshot gone, a disk already that big) although the job is done.
 */
export async function outlastEngine<T>(o: OutlastOptions<T>): Promise<T> {
  for (let lost = 0; ; ) {
    try {
      return await o.job();
    } catch (err) {
      if (!isEngineLost(err) && lost > 0 && o.finished) {
        const done = await o.finished();
        if (done !== null) return done;
      }
      if (!isEngineLost(err) || ++lost > JOB_MAX_ENGINE_LOSSES) throw err;
      await o.reconnect(err);
      const done = o.finished ? await o.finished() : null;
      o.onResumed?.(o.finished ? done !== null : null);
      if (done !== null) return done;
    }
  }
}

/** A look at what is there before a job begins, asked again of the next engine if the engine is lost meanwhile. */
async function beforeTheJob<T>(c: Resumer, look: () => Promise<T>): Promise<T> {
  for (let lost = 0; ; ) {
    try {
      return await look();
    } catch (err) {
      if (!isEngineLost(err) || ++lost > JOB_MAX_ENGINE_LOSSES) throw err;
      await c.reconnect(err);
    }
  }
}

/**
 * snapshot.create across a lost engine. After the engine is back, the snapshot is listed, or a
 * second try under its name is refused as taken: where the name was free before, either is this
 * save. An unnamed snapshot is named here the way the engine would name it, so every try asks
 * for the same one.
 */
export async function createSnapshotOutlasting(c: JobClient, ref: { host?: string; id: string }, asked: string | undefined, diskOnly: boolean): Promise<SnapshotInfo> {
  const name = asked ?? defaultSnapshotName(new Date());
  const list = () => c.invoke('snapshot.list', ref);
  const before = new Set((await beforeTheJob(c, list)).map((x) => x.name));
  const fresh = async (): Promise<SnapshotInfo | null> => (before.has(name) ? null : ((await list()).find((x) => x.name === name) ?? null));
  return outlastEngine({ ...c, job: () => c.invoke('snapshot.create', { ...ref, name, diskOnly }), finished: fresh });
}

/**
 * snapshot.revert across a lost engine: a revert done twice is the same as once, and the next
 * engine waits for a load QEMU is still doing, so it simply runs again.
 */
export function revertSnapshotOutlasting(c: JobClient, ref: { host?: string; id: string }, name: string): Promise<MethodResult<'snapshot.revert'>> {
  return outlastEngine({ ...c, job: () => c.invoke('snapshot.revert', { ...ref, name }) });
}

/**
 * snapshot.delete across a lost engine: a snapshot that was listed when the delete began and is
 * gone once the engine is back was deleted by it; otherwise the delete runs again.
 */
export async function deleteSnapshotOutlasting(c: JobClient, ref: { host?: string; id: string }, name: string): Promise<MethodResult<'snapshot.delete'>> {
  const listed = async (): Promise<boolean> => (await c.invoke('snapshot.list', ref)).some((x) => x.name === name);
  const was = await beforeTheJob(c, listed);
  return outlastEngine({
    ...c,
    job: () => c.invoke('snapshot.delete', { ...ref, name }),
    finished: async () => (was && !(await listed()) ? { name } : null),
  });
}

/**
 * disk.resize across a lost engine. Disks only grow, so a disk that was smaller than asked when
 * the resize began and is at least that big once the engine is back was grown by it (asking
 * again would be refused as not larger); otherwise the resize runs again.
 */
export async function resizeDiskOutlasting(c: JobClient, ref: { host?: string; id: string }, disk: string | undefined, sizeGiB: number): Promise<DiskInfo> {
  const target = async (): Promise<DiskInfo | null> => {
    const list = await c.invoke('disk.list', ref);
    return (disk === undefined ? list[0] : list.find((d) => d.name === disk)) ?? null;
  };
  const wanted = sizeGiB * 2 ** 30;
  const before = await beforeTheJob(c, target);
  return outlastEngine({
    ...c,
    job: () => c.invoke('disk.resize', { ...ref, ...(disk !== undefined ? { disk } : {}), sizeGiB }),
    finished: async () => {
      if (!before || before.virtualSize >= wanted) return null;
      const now = await target();
      return now && now.virtualSize >= wanted ? now : null;
    },
  });
}
