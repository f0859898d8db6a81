// Files of any size into and out of a running VM through its guest agent, for `flotilla cp` and
// the UI's Files tab alike. Out: ranges of FETCH_CHUNK_BYTES (vm.readFile with offset and length)
// until the guest says the file ended; the caller writes them aside and renames (CLI) or makes a
// download of them (UI). In: One vm.writeFile carries at most WRITE_FILE_MAX_BYTES, so a bigger file
// goes in chunks, the first opening and the rest appending, into `PATH.flotilla-part` beside the
// destination, and `mv` (an argument list, never a shell line) renames that over it at the end. A
// transfer cut short (the client closed, the engine killed, the guest's disk full) thus never
// leaves half a file under the destination's name, and the next try starts the part afresh. A guest
// that cannot run `mv` still takes a file of one chunk, written in place.
import type { Method, MethodRequest, MethodResult, VmRef } from './contract';
import { READ_FILE_MAX_BYTES, WRITE_FILE_MAX_BYTES } from './contract-names';
import { FlotillaError } from './errors';

/** Bytes per vm.writeFile: well under its limit, and its base64 (5.3 MB) well under a frame's 16 MiB. */
export const SEND_CHUNK_BYTES = 4 << 20;
export const PART_SUFFIX = '.flotilla-part';
/** Bytes per vm.readFile of a fetch. */
export const FETCH_CHUNK_BYTES = 4 << 20;

export type Invoke = <M extends Method>(method: M, req: MethodRequest<M>) => Promise<MethodResult<M>>;

export interface SendFileOptions {
  invoke: Invoke;
  vm: VmRef;
  /** the destination, an absolute path in the guest */
  path: string;
  size: number;
  /** `length` bytes from `offset` of the source (fewer only at its end) */
  read(offset: number, length: number): Promise<Uint8Array>;
  onProgress?(sent: number, size: number): void;
  signal?: AbortSignal;
  /** base64 of bytes (the CLI passes Buffer's; the default works in a browser) */
  encode?(bytes: Uint8Array): string;
  chunkBytes?: number;
}

/** base64 without Node's Buffer. */
export function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** The file name of a guest path (what follows its last `/`). */
export function guestBaseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `dir` joined with a file's own name, refusing names that would leave the directory. */
export function guestPathIn(dir: string, fileName: string): string {
  if (!dir.startsWith('/')) {
    const message = `the folder in the VM must be an absolute path (it was ${JSON.stringify(dir)})`;
    throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'folder', message }] });
  }
  if (!fileName || fileName === '.' || fileName === '..' || fileName.includes('/') || fileName.includes('\0')) {
    const message = `${JSON.stringify(fileName)} cannot be a file name in the VM`;
    throw new FlotillaError('INVALID_ARGUMENT', message, { fields: [{ path: 'file', message }] });
  }
  return `${dir.replace(/\/+$/, '')}/${fileName}`;
}

/** Sends the file; resolves with the bytes written. On any failure the part file is removed. */
export async function sendFile(o: SendFileOptions): Promise<number> {
  const chunk = Math.min(o.chunkBytes ?? SEND_CHUNK_BYTES, WRITE_FILE_MAX_BYTES);
  const encode = o.encode ?? bytesToBase64;
  const ref = { host: o.vm.host, id: o.vm.id };
  const cancelled = (): void => {
    if (o.signal?.aborted) throw new FlotillaError('CANCELLED', `sending ${o.path} was cancelled`);
  };
  const readExactly = async (offset: number, length: number): Promise<Uint8Array> => {
    const bytes = await o.read(offset, length);
    if (bytes.length !== length) throw new FlotillaError('FILE_NOT_FOUND', `the file to send changed while it was read (${offset + bytes.length} of ${o.size} bytes were there)`, { path: o.path });
    return bytes;
  };
  cancelled();
  o.onProgress?.(0, o.size);
  const part = o.path + PART_SUFFIX;
  let sent = 0;
  try {
    for (let off = 0; off < o.size; off += chunk) {
      cancelled();
      const bytes = await readExactly(off, Math.min(chunk, o.size - off));
      const r = await o.invoke('vm.writeFile', { ...ref, path: part, dataBase64: encode(bytes), append: off > 0 });
      sent += r.bytes;
      o.onProgress?.(sent, o.size);
    }
    if (sent !== o.size) throw new FlotillaError('AGENT_ERROR', `the guest agent wrote ${sent} of ${o.size} bytes to ${part}`);
    cancelled();
    let mv: MethodResult<'vm.exec'>;
    try {
      mv = await o.invoke('vm.exec', { ...ref, command: ['mv', '-f', '--', part, o.path] });
    } catch (err) {
      // a guest that cannot run mv at all (no such program, guest-exec disabled): a file of one
      // chunk is written in place instead; its part file stays, for want of a way to remove it
      if (!(err instanceof FlotillaError && err.code === 'AGENT_ERROR') || o.size > chunk) throw err;
      const { bytes } = await o.invoke('vm.writeFile', { ...ref, path: o.path, dataBase64: encode(await readExactly(0, o.size)) });
      return bytes;
    }
    if (mv.exitCode !== 0) throw new FlotillaError('AGENT_ERROR', `the file arrived as ${part} but could not be renamed to ${o.path}: ${mv.stderr.trim() || `mv exited with ${String(mv.exitCode ?? mv.signal)}`}`);
    return sent;
  } catch (err) {
    await o.invoke('vm.exec', { ...ref, command: ['rm', '-f', '--', part] }).catch(() => undefined);
    throw err;
  }
}

export interface FetchFileOptions {
  invoke: Invoke;
  vm: VmRef;
  /** the file, an absolute path in the guest */
  path: string;
  /** each range in order, as it arrives */
  write(bytes: Uint8Array): Promise<void> | void;
  onProgress?(received: number): void;
  signal?: AbortSignal;
  /** bytes of base64 (the CLI passes Buffer's; the default works in a browser) */
  decode?(base64: string): Uint8Array;
  chunkBytes?: number;
}

/** bytes of base64, without Node's Buffer. */
export function base64ToBytes(base64: string): Uint8Array {
  const s = atob(base64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Reads the guest file range by range into `write`; resolves with its size. */
export async function fetchFile(o: FetchFileOptions): Promise<number> {
  const length = Math.min(o.chunkBytes ?? FETCH_CHUNK_BYTES, READ_FILE_MAX_BYTES);
  const decode = o.decode ?? base64ToBytes;
  let offset = 0;
  for (;;) {
    if (o.signal?.aborted) throw new FlotillaError('CANCELLED', `getting ${o.path} was cancelled`);
    const r = await o.invoke('vm.readFile', { host: o.vm.host, id: o.vm.id, path: o.path, offset, length });
    const bytes = decode(r.dataBase64);
    if (bytes.length > 0) await o.write(bytes);
    offset += bytes.length;
    o.onProgress?.(offset);
    if (r.eof || bytes.length === 0) return offset;
  }
}
