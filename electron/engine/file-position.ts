// How far a child process has got through a file it streams: the offset of its descriptor on
// that file, read from /proc/PID/fdinfo. virsh's vol-upload and vol-download print no progress,
// but each reads or writes its local file front to back, so the kernel's file position is the
// count of bytes done (a sparse download seeks over a hole, which counts it as done: it is).
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The position of `pid`'s descriptor open on `path` (an absolute path without symlinks), or null if it has none. */
export async function filePosition(pid: number, path: string): Promise<number | null> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null)) !== path) continue;
    const pos = /^pos:\s*(\d+)$/m.exec(await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => ''));
    if (pos) return Number(pos[1]);
  }
  return null;
}

/**
 * Calls `onBytes` with `pid`'s position in `path` every `everyMs` while it changes, until the
 * returned function is called. One read at a time: a slow /proc read is not stacked. `path` may
 * not exist yet (a download's target); its folder does.
 */
export function watchFilePosition(pid: number, path: string, onBytes: (bytes: number) => void, everyMs = 500): () => void {
  let last = -1;
  let busy = false;
  let stopped = false;
  // /proc names the file by its real path
  const real = realpath(dirname(path)).then((d) => join(d, basename(path)), () => path);
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void real
      .then((p) => filePosition(pid, p))
      .then((n) => {
        if (!stopped && n !== null && n !== last) onBytes((last = n));
      })
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
