// `flotilla cp SRC DEST`: one file into or out of a running VM through its guest agent
// (vm.writeFile / vm.readFile), any size, in chunks (shared/file-transfer.ts). A shared folder is
// the way for directories and for a lot of data (the agent moves a few MB/s under TCG). Exactly
// one side is `VM:/absolute/path`. A copy survives its engine: if the engine is lost mid-copy, the
// command waits for it (or becomes it) and carries on where the VM's part file, or its own
// received bytes, left off; a copy in that was cut short any other way (the command killed) resumes
// on the next `flotilla cp` of the same file.
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import { fetchFile, PART_SUFFIX, sendFile } from '../../shared/file-transfer';
import { produceFileAtomic } from '../engine/atomic-file';
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

/** A terminal's progress text: `name: 45% (112.0 of 250.0 MB, 2.4 MB/s)`; without a size, the bytes so far. */
export function progressText(name: string, done: number, size: number | null, movedSinceStart: number, elapsedMs: number): string {
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  const rate = elapsedMs >= 1000 ? `, ${mb((movedSinceStart * 1000) / elapsedMs)} MB/s` : '';
  return size ? `${name}: ${Math.floor((100 * done) / size)}% (${mb(done)} of ${mb(size)} MB${rate})` : `${name}: ${mb(done)} MB${rate}`;
}

/**
 * The copy's progress, kept on the terminal's last line (redrawn with \r at most 4 times a second)
 * when stderr is a terminal; nothing at all otherwise. Lines of their own go above it (`say`).
 */
export class TerminalProgress {
  private shown = false;
  private lastDraw = -Infinity;
  private start: number;
  private startDone = 0;

  constructor(
    private readonly io: CliIo,
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {
    this.start = now();
  }

  update(done: number, size: number | null): void {
    if (!this.io.errIsTty) return;
    const t = this.now();
    if (t - this.lastDraw < 250 && done !== size) return;
    this.lastDraw = t;
    this.io.err(`\r\x1b[K${progressText(this.name, done, size, done - this.startDone, t - this.start)}`);
    this.shown = true;
  }

  /** the rate counts from here (a resumed send: what is moved now, not what the part held) */
  restartFrom(done: number): void {
    this.startDone = done;
    this.start = this.now();
  }

  /** `text` (ending in a newline) on a line of its own, in place of the progress line */
  say(text: string): void {
    this.io.err(this.shown ? `\r\x1b[K${text}` : text);
    this.shown = false;
  }

  /** the command's io, with what goes to stderr said above the progress line */
  get lines(): CliIo {
    return { ...this.io, err: (t) => this.say(t) };
  }
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
    const vm = await session.find(dest.vm, hostId, io);
    const file = await open(src.local, 'r');
    const progress = new TerminalProgress(io, basename(src.local));
    try {
      const bytes = await sendFile({
        invoke: (method, req) => session.call(method, req),
        vm,
        path: dest.path,
        size: st.size,
        read: async (offset, length) => {
          const buf = Buffer.alloc(length);
          const { bytesRead } = await file.read(buf, 0, length, offset);
          return buf.subarray(0, bytesRead);
        },
        encode: (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'),
        hash: () => {
          const h = createHash('sha256');
          return { update: (b) => h.update(b), hex: () => h.copy().digest('hex') };
        },
        reconnect: (err) => session.reconnect(err, progress.lines),
        onResume: (at, size) => {
          progress.restartFrom(at);
          progress.say(`resuming: ${at} of ${size} bytes are in ${vm.name}:${dest.path}${PART_SUFFIX} already\n`);
        },
        onProgress: (sent, size) => progress.update(sent, size),
      });
      progress.say(`copied ${bytes} bytes to ${vm.name}:${dest.path}\n`);
    } catch (err) {
      progress.say(''); // the error goes on a clean line
      throw err;
    } finally {
      await file.close();
    }
    return 0;
  }
  if ('vm' in src && 'local' in dest) {
    const vm = await session.find(src.vm, hostId, io);
    // into an existing directory under the guest file's name; written aside and renamed
    // (atomic-file.ts), so an interrupted copy never leaves half a file under the destination's name
    const isDir = (await stat(dest.local).catch(() => null))?.isDirectory() === true;
    const target = isDir ? join(dest.local, basename(src.path)) : dest.local;
    let bytes = 0;
    const progress = new TerminalProgress(io, basename(src.path));
    await produceFileAtomic(
      target,
      async (tmp) => {
        const out = await open(tmp, 'w', 0o644);
        try {
          bytes = await fetchFile({
            invoke: (method, req) => session.call(method, req),
            vm,
            path: src.path,
            write: async (b) => void (await out.write(b)),
            decode: (s) => Buffer.from(s, 'base64'),
            reconnect: (err) => session.reconnect(err, progress.lines),
            onProgress: (received) => progress.update(received, null),
          });
        } finally {
          await out.close();
        }
      },
      { replace: true },
    ).catch((err: unknown) => {
      progress.say(''); // the error goes on a clean line
      if (err instanceof FlotillaError) throw err;
      throw new FlotillaError('BAD_REQUEST', `cannot write ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { path: target });
    });
    progress.say(`copied ${bytes} bytes to ${target}\n`);
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', CP_USAGE);
}
