// `flotilla export`, `import` and `clone`: the long jobs, with their progress on stderr (one line
// per 10 %). Each survives its engine. A killed engine leaves nothing half-made: the next engine
// sweeps an export's journaled partial archive and an import's or clone's staging directory
// (check 19). So when the engine goes away mid-job, the command waits for the next one (or
// becomes it, CliSession.reconnect), asks whether the job had finished before the engine went
// (the archive is in place, the new VM is listed), and otherwise runs it again from the start.
import { stat } from 'node:fs/promises';
import type { SnapshotInfo, VmInfo } from '../../shared/contract';
import { FlotillaError, isEngineLost } from '../../shared/errors';
import { absPath, type ParsedArgs } from './args';
import type { CliIo, CliSession } from './run-cli';

/** Engines lost during one job before the command gives up (each loss starts the job again). */
export const JOB_MAX_ENGINE_LOSSES = 3;

/**
 * Runs `job`; when the engine is lost during it, reconnects and returns what `finished` finds
 * (the job's effect, in place before the engine went), or runs `job` again.
 */
export async function outlastEngine<T>(s: CliSession, io: CliIo, what: string, job: () => Promise<T>, finished: () => Promise<T | null>): Promise<T> {
  for (let lost = 0; ; ) {
    try {
      return await job();
    } catch (err) {
      if (!isEngineLost(err) || ++lost > JOB_MAX_ENGINE_LOSSES) throw err;
      await s.reconnect(err, io);
      const done = await finished();
      if (done !== null) {
        io.err(`flotilla: the ${what} is complete (the engine went before it could say so)\n`);
        return done;
      }
      io.err(`flotilla: the ${what} had not finished (the engine left nothing of it behind); starting it again\n`);
    }
  }
}

/** A file's identity, to tell a file the job wrote from one that was there before; null when absent. */
async function fileId(path: string): Promise<{ ino: number; mtimeMs: number; size: number } | null> {
  try {
    const st = await stat(path);
    return { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The VM named `name` (on `host`, when given), or null when there is none. */
async function vmNamed(s: CliSession, name: string, host: string | undefined): Promise<VmInfo | null> {
  try {
    return await s.call('vm.find', { nameOrId: name, ...(host !== undefined ? { host } : {}) });
  } catch (err) {
    if (err instanceof FlotillaError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}

/** The name an import gives its VM: --name, else the one in the archive's vm.json (read from its head only). */
async function importName(path: string, name: string | undefined): Promise<string | null> {
  if (name !== undefined) return name;
  const { readArchive } = await import('../engine/lifecycle/archive');
  const spec = (await readArchive(path)).spec as { name?: unknown } | null;
  return typeof spec?.name === 'string' ? spec.name : null;
}

/** A long job's progress on stderr, one line per 10 % (none with --json). */
function printProgress(s: CliSession, io: CliIo, json: boolean): void {
  let last = '';
  s.on('vm.progress', (p) => {
    if (!p.progress || json) return;
    const pct = p.progress.percent;
    const line = `${p.progress.message ?? p.progress.op}${pct === null ? '' : ` ${Math.floor(pct / 10) * 10}%`}`;
    if (line !== last) io.err(`${line}\n`);
    last = line;
  });
}

export async function jobCommand(command: 'export' | 'import' | 'clone', first: string, second: string | undefined, o: ParsedArgs['options'], json: boolean, s: CliSession, io: CliIo): Promise<number> {
  printProgress(s, io, json);
  if (command === 'export') {
    const vm = await s.find(first);
    const path = absPath(second!);
    // with --force the destination may exist already: the export's is the file that replaced it
    const before = await fileId(path);
    const r = await outlastEngine(
      s,
      io,
      'export',
      () => s.call('vm.export', { host: vm.host, id: vm.id, path, force: o.force === true }),
      async () => {
        const now = await fileId(path);
        return now && (!before || now.ino !== before.ino || now.mtimeMs !== before.mtimeMs) ? { path, bytes: now.size } : null;
      },
    );
    io.out(`exported ${vm.name} to ${r.path} (${r.bytes} bytes)\n`);
    return 0;
  }
  const start = o.start === true;
  let made: VmInfo;
  if (command === 'import') {
    const path = absPath(first);
    const name = o.name as string | undefined;
    // an archive it cannot read is the engine's to refuse, in its words
    const n = await importName(path, name).catch(() => null);
    const before = n === null ? null : await vmNamed(s, n, undefined);
    made = await outlastEngine(
      s,
      io,
      'import',
      () => s.call('vm.import', { path, ...(name !== undefined ? { name } : {}), start }),
      async () => (n === null ? null : startedIfAsked(s, newVm(await vmNamed(s, n, undefined), before), start)),
    );
  } else {
    const src = await s.find(first);
    const before = await vmNamed(s, second!, src.host);
    made = await outlastEngine(
      s,
      io,
      'clone',
      () => s.call('vm.clone', { host: src.host, id: src.id, name: second!, linked: o.linked === true, start }),
      async () => startedIfAsked(s, newVm(await vmNamed(s, second!, src.host), before), start),
    );
  }
  if (json) printJson(io, made);
  else io.out(`${command === 'import' ? 'imported' : 'cloned'} ${made.name} (${made.id})${made.state === 'running' ? ', running' : ''}\n`);
  return 0;
}

/**
 * `now`, the VM of the job's name after the engine came back, if it is not the one that had the
 * name before the job (the engine refuses a taken name, but a first try can be lost before it
 * looked): the engine commits an import or clone whole or not at all, so a new one is the job's.
 */
function newVm(now: VmInfo | null, before: VmInfo | null): VmInfo | null {
  return now && now.id !== before?.id ? now : null;
}

/** A VM the job made before the engine went, started now if the job was to start it and had not. */
async function startedIfAsked(s: CliSession, vm: VmInfo | null, start: boolean): Promise<VmInfo | null> {
  if (!vm || !start || vm.state !== 'stopped') return vm;
  return s.call('vm.start', { host: vm.host, id: vm.id, waitAgent: false });
}

function printJson(io: CliIo, v: unknown): void {
  io.out(`${JSON.stringify(v, null, 2)}\n`);
}

/**
 * `flotilla snapshot create`, across a lost engine. QEMU finishes a snapshot save the killed
 * engine began, and the next engine waits for it before another (lifecycle/snapshots.ts): so
 * afterwards the snapshot is listed, or a second try of the same name is refused as taken, and
 * either way it is this command's (the name was free before it began). An unnamed snapshot gets
 * its name from the engine: the one new in the list is the command's, and if the save had not
 * finished, a second is taken.
 */
export async function snapshotOutlastingEngine(s: CliSession, io: CliIo, vm: VmInfo, name: string | undefined, diskOnly: boolean, json: boolean): Promise<SnapshotInfo> {
  printProgress(s, io, json);
  const ref = { host: vm.host, id: vm.id };
  const list = () => s.call('snapshot.list', ref);
  const before = new Set((await list()).map((x) => x.name));
  const fresh = async (): Promise<SnapshotInfo | null> => {
    const made = (await list()).filter((x) => !before.has(x.name) && (name === undefined || x.name === name));
    return made.length === 1 ? made[0]! : null;
  };
  let tries = 0;
  return outlastEngine(
    s,
    io,
    'snapshot',
    async () => {
      try {
        return await s.call('snapshot.create', { ...ref, ...(name !== undefined ? { name } : {}), diskOnly });
      } catch (err) {
        const ours = tries > 0 && name !== undefined && !before.has(name) && err instanceof FlotillaError && err.code === 'NAME_TAKEN' ? await fresh() : null;
        if (ours) return ours;
        throw err;
      } finally {
        tries++;
      }
    },
    fresh,
  );
}
