// The Files tab's transfers: files sent into a running VM and files fetched from it, any size, in
// chunks through its guest agent (shared/file-transfer.ts), each with its progress, its error and,
// while it runs, a Cancel. A transfer whose connection to the engine drops waits for it to come
// back and carries on; a send cut short for good leaves its part file, and sending the same file
// again resumes it.
import { LOCAL_HOST } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import { fetchFile, guestBaseName, guestPathIn, sendFile } from '../../../shared/file-transfer';
import { getApi } from '../api/current';
import { toUiError } from './errors';
import { untilReconnected } from './reconnect';
import { useStore, type FileTransfer } from './store';
import { vmRef } from './vm-ref';

let seq = 1;
const controllers = new Map<number, AbortController>();

/** The VM's host and id, the host spelled out (the transfer helpers name it on every call). */
function fullRef(id: string): { host: string; id: string } {
  return { host: vmRef(id).host ?? LOCAL_HOST, id };
}

function put(id: string, t: FileTransfer): void {
  useStore.setState((s) => {
    const list = s.consoles.files[id] ?? [];
    const next = list.some((x) => x.n === t.n) ? list.map((x) => (x.n === t.n ? t : x)) : [...list, t].slice(-50);
    return { consoles: { ...s.consoles, files: { ...s.consoles.files, [id]: next } } };
  });
}

/** Sends each file into `folder` in the guest, one after the other; a file that fails does not stop the next. */
export async function sendFilesToVm(id: string, folder: string, files: readonly File[]): Promise<void> {
  const ref = fullRef(id);
  for (const file of files) {
    const base: FileTransfer = { n: seq++, direction: 'send', name: file.name, guestPath: '', size: file.size, done: 0, state: 'active', error: null, resumedAt: null, waiting: false };
    let t = base;
    try {
      t = { ...base, guestPath: guestPathIn(folder.trim(), file.name) };
      // two sends to one path would write one part file at once
      const busy = (useStore.getState().consoles.files[id] ?? []).some((x) => x.direction === 'send' && x.state === 'active' && x.guestPath === t.guestPath);
      put(id, t);
      if (busy) throw new FlotillaError('INVALID_STATE', `${t.guestPath} is being sent already: wait for it, or cancel it first`);
      const ctl = new AbortController();
      controllers.set(t.n, ctl);
      let last = 0;
      await sendFile({
        invoke: (method, req) => getApi().invoke(method, req),
        vm: ref,
        path: t.guestPath,
        size: file.size,
        read: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()),
        signal: ctl.signal,
        onProgress: (sent) => {
          // a store update per chunk, not per byte
          if (sent !== last) put(id, (t = { ...t, done: (last = sent) }));
        },
        onResume: (at) => put(id, (t = { ...t, resumedAt: at })),
        reconnect: (lost) => waitForEngine(id, () => t, (next) => (t = next), lost, ctl.signal),
      });
      put(id, { ...t, done: file.size, state: 'done' });
    } catch (err) {
      const error = toUiError(err, `Send ${file.name}`);
      put(id, { ...t, state: error.code === 'CANCELLED' ? 'cancelled' : 'failed', error: error.code === 'CANCELLED' ? null : error });
    } finally {
      controllers.delete(t.n);
    }
  }
}

/** Waits for the engine to come back, the row saying so meanwhile. */
async function waitForEngine(id: string, get: () => FileTransfer, set: (t: FileTransfer) => void, lost: FlotillaError, signal: AbortSignal): Promise<void> {
  const mark = (waiting: boolean): void => {
    const t = { ...get(), waiting };
    set(t);
    put(id, t);
  };
  mark(true);
  try {
    await untilReconnected(lost, signal);
  } finally {
    mark(false);
  }
}

export function cancelTransfer(n: number): void {
  controllers.get(n)?.abort();
}

/** Reads a file of the guest, range by range, and hands it to the browser as a download under its own name. */
export async function fetchFileFromVm(id: string, guestPath: string): Promise<void> {
  const path = guestPath.trim();
  const name = guestBaseName(path);
  let t: FileTransfer = { n: seq++, direction: 'fetch', name: name || path, guestPath: path, size: null, done: 0, state: 'active', error: null, resumedAt: null, waiting: false };
  put(id, t);
  const ctl = new AbortController();
  controllers.set(t.n, ctl);
  try {
    // each range joins a Blob as it arrives: the browser keeps a Blob's bytes in its own store
    // (Chromium pages it to disk when big), so the page holds one range at a time, not the whole file
    let blob = new Blob([], { type: 'application/octet-stream' });
    const size = await fetchFile({
      invoke: (method, req) => getApi().invoke(method, req),
      vm: fullRef(id),
      path,
      write: (bytes) => void (blob = new Blob([blob, bytes as Uint8Array<ArrayBuffer>], { type: blob.type })),
      onProgress: (received) => put(id, (t = { ...t, done: received })),
      signal: ctl.signal,
      reconnect: (lost) => waitForEngine(id, () => t, (next) => (t = next), lost, ctl.signal),
    });
    saveDownload(blob, t.name);
    put(id, { ...t, size, done: size, state: 'done' });
  } catch (err) {
    const error = toUiError(err, `Get ${t.name}`);
    put(id, { ...t, state: error.code === 'CANCELLED' ? 'cancelled' : 'failed', error: error.code === 'CANCELLED' ? null : error });
  } finally {
    controllers.delete(t.n);
  }
}

function saveDownload(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Drops the finished transfers from the list. */
export function clearFinishedTransfers(id: string): void {
  useStore.setState((s) => ({ consoles: { ...s.consoles, files: { ...s.consoles.files, [id]: (s.consoles.files[id] ?? []).filter((t) => t.state === 'active') } } }));
}
