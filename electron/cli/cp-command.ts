// `flotilla cp SRC DEST`: one file into or out of a running VM through its guest agent
// (vm.writeFile / vm.readFile), for a config file or a script; a shared folder is the way for
// big files and directories. Exactly one side is `VM:/absolute/path`.
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { WRITE_FILE_MAX_BYTES } from '../../shared/contract-names';
import { FlotillaError } from '../../shared/errors';
import { writeFileAtomic } from '../engine/atomic-file';
import { absPath } from './args';
import type { CliIo, CliSession } from './run-cli';

export const CP_USAGE = 'usage: flotilla cp HOSTFILE VM:/PATH | flotilla cp VM:/PATH HOSTPATH';

export type CpEnd = { vm: string; path: string } | { local: string };

/**
 * `NAME:/path` is a VM's file (NAME a VM name or id, the path absolute); anything else is a path
 * on this computer, relative to `cwd` (one holding a `:` before a `/` is written `./a:b`).
 */
export function parseCpEnd(text: string, cwd = process.cwd()): CpEnd {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(\/.*)$/.exec(text);
  if (m) return { vm: m[1]!, path: m[2]! };
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*:/.test(text)) throw new FlotillaError('BAD_REQUEST', `${JSON.stringify(text)}: a path in the VM must be absolute (VM:/path); for a file here whose name holds a colon, write ./${text}`);
  return { local: absPath(text, cwd) };
}

export async function cpCommand(positionals: string[], hostId: string | undefined, session: CliSession, io: CliIo): Promise<number> {
  if (positionals.length !== 2) throw new FlotillaError('BAD_REQUEST', CP_USAGE);
  const src = parseCpEnd(positionals[0]!);
  const dest = parseCpEnd(positionals[1]!);
  if (('vm' in src) === ('vm' in dest)) throw new FlotillaError('BAD_REQUEST', `one side must be a VM's file and the other a file here: ${CP_USAGE}`);
  if ('local' in src && 'vm' in dest) {
    const st = await stat(src.local).catch(() => null);
    if (!st) throw new FlotillaError('FILE_NOT_FOUND', `no such file: ${src.local}`, { path: src.local });
    if (!st.isFile()) throw new FlotillaError('BAD_REQUEST', `${src.local} is not a file (a directory goes through a shared folder: flotilla share)`);
    if (st.size > WRITE_FILE_MAX_BYTES) throw new FlotillaError('BAD_REQUEST', `${src.local} is ${(st.size / 1024 / 1024).toFixed(1)} MiB; cp takes at most ${WRITE_FILE_MAX_BYTES >> 20} MiB through the guest agent: use a shared folder (flotilla share) or scp through flotilla ssh`);
    const vm = await session.find(dest.vm, hostId);
    const data = await readFile(src.local);
    const r = await session.call('vm.writeFile', { host: vm.host, id: vm.id, path: dest.path, dataBase64: data.toString('base64') });
    io.err(`copied ${r.bytes} bytes to ${vm.name}:${dest.path}\n`);
    return 0;
  }
  if ('vm' in src && 'local' in dest) {
    const vm = await session.find(src.vm, hostId);
    const r = await session.call('vm.readFile', { host: vm.host, id: vm.id, path: src.path });
    const data = Buffer.from(r.dataBase64, 'base64');
    // into an existing directory under the guest file's name; written aside and renamed
    // (atomic-file.ts), so an interrupted copy never leaves half a file under the destination's name
    const isDir = (await stat(dest.local).catch(() => null))?.isDirectory() === true;
    const target = isDir ? join(dest.local, basename(src.path)) : dest.local;
    await writeFileAtomic(target, data, 0o644).catch((err: unknown) => {
      if (err instanceof FlotillaError) throw err;
      throw new FlotillaError('BAD_REQUEST', `cannot write ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path: target });
    });
    io.err(`copied ${data.length} bytes to ${target}\n`);
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', CP_USAGE);
}
