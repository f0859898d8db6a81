// `flotilla export`, `import` and `clone`: the long jobs, with their progress on stderr (one line
// per 10 %). Each survives its engine. A killed engine leaves nothing half-made: the next engine
// sweeps an export's journaled partial archive and an import's or clone's staging directory
// (check 19). So when the engine goes away mid-job, the command waits for the next one (or
// becomes it, CliSession.reconnect), asks whether the job had finished before the engine went
// (the archive is in place, the new VM is listed), and otherwise runs it again from the start.
import { stat } from 'node:fs/promises';
import type { DiskInfo, ImportResult, SnapshotInfo, VmInfo } from '../../shared/contract';
import { LOCAL_HOST } from '../../shared/contract-names';
import { FlotillaError } from '../../shared/errors';
import { createSnapshotOutlasting, deleteSnapshotOutlasting, outlastEngine, resizeDiskOutlasting, revertSnapshotOutlasting, type JobClient } from '../../shared/outlast-engine';
import { absPath, type ParsedArgs } from './args';
import { formatJson } from './format';
import type { CliIo, CliSession } from './run-cli';

/** This command's side of a job across lost engines (shared/outlast-engine.ts): it says on stderr what became of `what`. */
function jobClient(s: CliSession, io: CliIo, what: string): JobClient {
  return {
    invoke: (method, req) => s.call(method, req),
    reconnect: (lost) => s.reconnect(lost, io),
    onResumed: (complete) => {
      if (complete === null) io.err(`flotilla: doing the ${what} again (twice is the same as once)\n`);
      else if (complete) io.err(`flotilla: the ${what} is complete (the engine went before it could say so)\n`);
      else io.err(`flotilla: the ${what} had not finished (the engine left nothing of it behind); starting it again\n`);
    },
  };
}

function outlast<T>(s: CliSession, io: CliIo, what: string, job: () => Promise<T>, finished: () => Promise<T | null>): Promise<T> {
  return outlastEngine({ ...jobClient(s, io, what), job, finished });
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
async function vmNamed(s: CliSession, io: CliIo, name: string, host: string | undefined): Promise<VmInfo | null> {
  try {
    return await s.read('vm.find', { nameOrId: name, ...(host !== undefined ? { host } : {}) }, io);
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
    const vm = await s.find(first, o.host, io);
    const path = absPath(second!);
    // with --force the destination may exist already: the export's is the file that replaced it
    const before = await fileId(path);
    const r = await outlast(
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
    const host = o.host as string | undefined;
    // an archive it cannot read is the engine's to refuse, in its words
    const n = await importName(path, name).catch(() => null);
    const on = host ?? LOCAL_HOST;
    const before = n === null ? null : await vmNamed(s, io, n, on);
    made = await outlast(
      s,
      io,
      'import',
      () => s.call('vm.import', { ...(host !== undefined ? { host } : {}), path, ...(name !== undefined ? { name } : {}), start }),
      async () => (n === null ? null : startedIfAsked(s, newVm(await vmNamed(s, io, n, on), before), start)),
    );
  } else {
    const src = await s.find(first, o.host, io);
    const before = await vmNamed(s, io, second!, src.host);
    made = await outlast(
      s,
      io,
      'clone',
      () => s.call('vm.clone', { host: src.host, id: src.id, name: second!, linked: o.linked === true, start }),
      async () => startedIfAsked(s, newVm(await vmNamed(s, io, second!, src.host), before), start),
    );
  }
  // on stderr, also with --json (whose stdout is the DTO, warnings included)
  for (const w of (made as Partial<ImportResult>).warnings ?? []) io.err(`flotilla: warning: ${w}\n`);
  if (json) io.out(formatJson(made));
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

/** `flotilla snapshot create`, across a lost engine (shared/outlast-engine.ts), with its progress line. */
export function snapshotOutlastingEngine(s: CliSession, io: CliIo, vm: VmInfo, name: string | undefined, diskOnly: boolean, json: boolean): Promise<SnapshotInfo> {
  printProgress(s, io, json);
  return createSnapshotOutlasting(jobClient(s, io, 'snapshot'), { host: vm.host, id: vm.id }, name, diskOnly);
}

/** `flotilla snapshot revert`, across a lost engine. */
export function revertOutlastingEngine(s: CliSession, io: CliIo, vm: VmInfo, name: string): Promise<VmInfo> {
  return revertSnapshotOutlasting(jobClient(s, io, 'revert'), { host: vm.host, id: vm.id }, name);
}

/** `flotilla snapshot rm`, across a lost engine. */
export function deleteOutlastingEngine(s: CliSession, io: CliIo, vm: VmInfo, name: string): Promise<{ name: string }> {
  return deleteSnapshotOutlasting(jobClient(s, io, 'delete'), { host: vm.host, id: vm.id }, name);
}

/** `flotilla disk resize`, across a lost engine. */
export function resizeOutlastingEngine(s: CliSession, io: CliIo, vm: VmInfo, disk: string | undefined, sizeGiB: number): Promise<DiskInfo> {
  return resizeDiskOutlasting(jobClient(s, io, 'resize'), { host: vm.host, id: vm.id }, disk, sizeGiB);
}
