// Files of any size into and out of a running VM through its guest agent, for `flotilla cp` and
// the UI's Files tab alike. Out: ranges of FETCH_CHUNK_BYTES (vm.readFile with offset and length)
// until the guest says the file ended; the caller writes them aside and renames (CLI) or makes a
// download of them (UI). In: One vm.writeFile carries at most WRITE_FILE_MAX_BYTES, so a bigger file
// goes in chunks, the first opening and the rest appending, into `PATH.flotilla-part` beside the
// destination, and `mv` (an argument list, never a shell line) renames that over it at the end. A
// transfer cut short never leaves half a file under the destination's name.
//
// Cut short by the engine going away (killed, restarted, the connection lost), the part file stays
// in the guest, and a send picks it up: at the start of every try the guest's `sha256sum` of the
// part is compared with the same prefix of the source, and a match carries on from there (a part of
// some other file, or of an older version of this one, starts afresh). With `reconnect`, a send or
// a fetch waits for the engine itself and carries on in the same call; without it, the next send of
// the same file resumes. Any other failure, and a cancel, removes the part. Before the rename the
// guest's SHA-256 of the whole part must equal the source's (rsync checks a whole file the same
// way): a part something else wrote to meanwhile is refused, never renamed into place.
import type { Method, MethodRequest, MethodResult, VmRef } from './contract';
import { READ_FILE_MAX_BYTES, WRITE_FILE_MAX_BYTES } from './contract-names';
import { sha256 } from '@noble/hashes/sha2';
import { FlotillaError, isEngineLost } from './errors';

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
  /**
   * The engine was lost mid-transfer (`err`): resolve once `invoke` reaches an engine again, and
   * the transfer carries on from what the guest holds; reject (with the reason) to give up.
   */
  reconnect?(err: FlotillaError): Promise<void>;
  /** a part left by an earlier try matched the source: sending carries on from `offset` */
  onResume?(offset: number, size: number): void;
  /** a SHA-256 to hash the source's prefix with (the CLI passes Node's; the default works in a browser) */
  hash?(): Hasher;
}

export interface Hasher {
  update(bytes: Uint8Array): unknown;
  /** lowercase hex of what was fed so far; more may be fed after */
  hex(): string;
}

/** SHA-256 in plain JS (@noble/hashes), for a browser. */
export function jsSha256(): Hasher {
  const h = sha256.create();
  return {
    update: (b) => h.update(b),
    hex: () => Array.from(h.clone().digest(), (x) => x.toString(16).padStart(2, '0')).join(''),
  };
}


/** Reconnects in a row without a byte moving, before a transfer gives up. */
const MAX_IDLE_RECONNECTS = 3;

/**
 * Runs `attempt` until it settles; each time the engine is lost, waits for `reconnect` and runs it
 * again. A lost engine with no `reconnect` (or one that gives up) is thrown as it came.
 */
async function withReconnect<T>(reconnect: ((err: FlotillaError) => Promise<void>) | undefined, progress: () => number, attempt: () => Promise<T>): Promise<T> {
  let idle = 0;
  for (;;) {
    const before = progress();
    try {
      return await attempt();
    } catch (err) {
      if (!isEngineLost(err) || !reconnect) throw err;
      idle = progress() > before ? 0 : idle + 1;
      if (idle >= MAX_IDLE_RECONNECTS) throw err;
      await reconnect(err);
    }
  }
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

/** Sends the file; resolves with the bytes written. */
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
  const once = async (): Promise<number> => {
    const before = sent;
    const resumed = await resumablePart(o, part, chunk, readExactly);
    sent = resumed.have;
    const hash = resumed.hash;
    if (sent > 0) o.onResume?.(sent, o.size);
    if (sent !== before) o.onProgress?.(sent, o.size);
    // an empty file is one empty write; a part that already holds everything, none
    for (let first = sent === 0; first || sent < o.size; first = false) {
      cancelled();
      const length = Math.min(chunk, o.size - sent);
      const bytes = await readExactly(sent, length);
      hash.update(bytes);
      const r = await o.invoke('vm.writeFile', { ...ref, path: part, dataBase64: encode(bytes), append: sent > 0 });
      if (r.bytes !== length) throw new FlotillaError('AGENT_ERROR', `the guest agent wrote ${sent + r.bytes} of ${o.size} bytes to ${part}`);
      sent += length;
      o.onProgress?.(sent, o.size);
    }
    // the whole part, checked before it takes the file's name: anything else that wrote to it
    // meanwhile (a second copy to the same path) shows here, not later in the file; a part found
    // whole by the probe a moment ago was checked by it
    const theirs = resumed.have > 0 && resumed.have === o.size ? null : await guestSha256(o, part, o.size);
    if (theirs !== null && theirs !== hash.hex()) {
      throw new FlotillaError('AGENT_ERROR', `${part} in the VM does not hold what was sent (its SHA-256 differs): was something else writing it, such as a second copy to ${o.path}? Nothing was renamed; send the file again`);
    }
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
  };
  try {
    return await withReconnect(o.reconnect, () => sent, once);
  } catch (err) {
    // with the engine gone the part stays for the next try to resume; otherwise it goes
    if (!isEngineLost(err)) await o.invoke('vm.exec', { ...ref, command: ['rm', '-f', '--', part] }).catch(() => undefined);
    throw err;
  }
}

/** Guest sha256sum speed assumed for its timeout: slow (TCG, a loaded box) with room to spare. */
const GUEST_HASH_BYTES_PER_SEC = 4 << 20;

/** A command's stdout in the guest, or null when it failed or the guest cannot run commands. */
async function guestOutput(o: SendFileOptions, command: string[], timeoutMs = 30_000): Promise<string | null> {
  try {
    const r = await o.invoke('vm.exec', { host: o.vm.host, id: o.vm.id, command, timeoutMs });
    return r.exitCode === 0 ? r.stdout : null;
  } catch (err) {
    if (err instanceof FlotillaError && err.code === 'AGENT_ERROR') return null;
    throw err;
  }
}

/** The guest's SHA-256 of a file of about `bytes`, or null when it cannot tell. */
async function guestSha256(o: SendFileOptions, path: string, bytes: number): Promise<string | null> {
  const timeoutMs = Math.min(600_000, 30_000 + Math.ceil((bytes / GUEST_HASH_BYTES_PER_SEC) * 1000));
  const sum = (await guestOutput(o, ['sha256sum', '--', path], timeoutMs))?.slice(0, 64);
  return sum && /^[0-9a-f]{64}$/.test(sum) ? sum : null;
}

/**
 * What an earlier try's part file lets this one keep: its size, and the source's hash so far, when
 * its SHA-256 equals the source's prefix of that size; else nothing, and a fresh hash (no part, a
 * part of something else, a guest that cannot run stat or sha256sum: the send starts afresh and
 * overwrites it).
 */
async function resumablePart(o: SendFileOptions, part: string, chunk: number, readExactly: (offset: number, length: number) => Promise<Uint8Array>): Promise<{ have: number; hash: Hasher }> {
  const fresh = (): Hasher => (o.hash ?? jsSha256)();
  const sizeText = await guestOutput(o, ['stat', '-c', '%s', '--', part]);
  const have = sizeText === null ? NaN : Number(sizeText.trim());
  if (!Number.isSafeInteger(have) || have <= 0 || have > o.size) return { have: 0, hash: fresh() };
  const theirs = await guestSha256(o, part, have);
  if (!theirs) return { have: 0, hash: fresh() };
  const h = fresh();
  for (let off = 0; off < have; off += chunk) h.update(await readExactly(off, Math.min(chunk, have - off)));
  return h.hex() === theirs ? { have, hash: h } : { have: 0, hash: fresh() };
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
  /** as SendFileOptions.reconnect: the fetch carries on from the bytes it has */
  reconnect?(err: FlotillaError): Promise<void>;
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
  return withReconnect(o.reconnect, () => offset, async () => {
    for (;;) {
      if (o.signal?.aborted) throw new FlotillaError('CANCELLED', `getting ${o.path} was cancelled`);
      const r = await o.invoke('vm.readFile', { host: o.vm.host, id: o.vm.id, path: o.path, offset, length });
      const bytes = decode(r.dataBase64);
      if (bytes.length > 0) await o.write(bytes);
      offset += bytes.length;
      o.onProgress?.(offset);
      if (r.eof || bytes.length === 0) return offset;
    }
  });
}
