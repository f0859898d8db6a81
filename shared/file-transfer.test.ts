// The chunking and clean-up rules of sendFile, against a stand-in guest (a map of paths to bytes
// that answers vm.writeFile and the two commands sendFile runs). The real agent path is covered by
// engine-cli.itest (flotilla cp of 9 MiB into a built-in VM) and the UI's Files tab e2e test.
import { describe, expect, it } from 'vitest';
import type { Method, MethodRequest, MethodResult } from './contract';
import { FlotillaError } from './errors';
import { base64ToBytes, bytesToBase64, fetchFile, guestBaseName, guestPathIn, PART_SUFFIX, sendFile, type Invoke } from './file-transfer';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);
const fromBase64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

interface Guest {
  files: Map<string, Uint8Array>;
  calls: string[];
  invoke: Invoke;
}

function guest(opts: { failWriteAt?: number; mvExit?: number; noExec?: boolean } = {}): Guest {
  const files = new Map<string, Uint8Array>();
  const calls: string[] = [];
  let writes = 0;
  const handle = async (method: Method, req: Record<string, unknown>): Promise<unknown> => {
    if (method === 'vm.writeFile') {
      const path = req.path as string;
      calls.push(`write ${path}${req.append ? ' +' : ''}`);
      if (++writes === opts.failWriteAt) throw new FlotillaError('AGENT_ERROR', 'No space left on device');
      const data = fromBase64(req.dataBase64 as string);
      files.set(path, req.append ? concat(files.get(path) ?? new Uint8Array(0), data) : data);
      return { bytes: data.length };
    }
    if (method === 'vm.exec') {
      const argv = req.command as string[];
      calls.push(argv.join(' '));
      if (opts.noExec) throw new FlotillaError('AGENT_ERROR', 'guest agent: command guest-exec has been disabled');
      if (argv[0] === 'mv') {
        if (opts.mvExit) return { exitCode: opts.mvExit, signal: null, stdout: '', stderr: 'mv: cannot move: Permission denied\n', truncated: false };
        files.set(argv[4]!, files.get(argv[3]!)!);
        files.delete(argv[3]!);
      } else if (argv[0] === 'rm') files.delete(argv[3]!);
      return { exitCode: 0, signal: null, stdout: '', stderr: '', truncated: false };
    }
    throw new Error(`unexpected ${method}`);
  };
  return { files, calls, invoke: (<M extends Method>(m: M, r: MethodRequest<M>) => handle(m, r as Record<string, unknown>) as Promise<MethodResult<M>>) as Invoke };
}

const source = (bytes: Uint8Array) => ({ size: bytes.length, read: async (off: number, len: number) => bytes.subarray(off, off + len) });
const vm = { host: 'local', id: 'abcdefgh1234' };

describe('sendFile', () => {
  it('a file of one chunk goes through the part file too', async () => {
    const g = guest();
    const data = enc('hello');
    expect(await sendFile({ invoke: g.invoke, vm, path: '/root/a.txt', ...source(data), chunkBytes: 8 })).toBe(5);
    expect(g.calls).toEqual([`write /root/a.txt${PART_SUFFIX}`, `mv -f -- /root/a.txt${PART_SUFFIX} /root/a.txt`]);
    expect(dec(g.files.get('/root/a.txt'))).toBe('hello');
    expect(g.files.size).toBe(1);
  });

  it('a guest that cannot run mv still takes a file of one chunk, written in place; a bigger one is refused', async () => {
    const g = guest({ noExec: true });
    expect(await sendFile({ invoke: g.invoke, vm, path: '/c/a.txt', ...source(enc('hello')), chunkBytes: 8 })).toBe(5);
    expect(dec(g.files.get('/c/a.txt'))).toBe('hello');
    await expect(sendFile({ invoke: g.invoke, vm, path: '/c/b.bin', ...source(enc('0123456789')), chunkBytes: 4 })).rejects.toThrow('guest-exec has been disabled');
    expect(g.files.has('/c/b.bin')).toBe(false);
  });

  it('sends a bigger file in chunks into the part file, then renames it over the destination', async () => {
    const g = guest();
    g.files.set('/root/b.bin', enc('old'));
    const data = enc('0123456789');
    const progress: number[] = [];
    expect(await sendFile({ invoke: g.invoke, vm, path: '/root/b.bin', ...source(data), chunkBytes: 4, onProgress: (sent) => progress.push(sent) })).toBe(10);
    const part = `/root/b.bin${PART_SUFFIX}`;
    expect(g.calls).toEqual([`write ${part}`, `write ${part} +`, `write ${part} +`, `mv -f -- ${part} /root/b.bin`]);
    expect(progress).toEqual([0, 4, 8, 10]);
    expect(dec(g.files.get('/root/b.bin'))).toBe('0123456789');
    expect(g.files.has(part)).toBe(false);
  });

  it('a failed chunk removes the part file and leaves the destination as it was', async () => {
    const g = guest({ failWriteAt: 2 });
    g.files.set('/root/b.bin', enc('old'));
    await expect(sendFile({ invoke: g.invoke, vm, path: '/root/b.bin', ...source(enc('0123456789')), chunkBytes: 4 })).rejects.toThrow('No space left on device');
    expect(g.calls.at(-1)).toBe(`rm -f -- /root/b.bin${PART_SUFFIX}`);
    expect([...g.files.keys()]).toEqual(['/root/b.bin']);
    expect(dec(g.files.get('/root/b.bin'))).toBe('old');
  });

  it('a refused rename says where the file is and why, and removes the part', async () => {
    const g = guest({ mvExit: 1 });
    const err = await sendFile({ invoke: g.invoke, vm, path: '/etc/c', ...source(enc('0123456789')), chunkBytes: 4 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AGENT_ERROR', message: `the file arrived as /etc/c${PART_SUFFIX} but could not be renamed to /etc/c: mv: cannot move: Permission denied` });
    expect(g.files.size).toBe(0);
  });

  it('cancelled between chunks: CANCELLED, and the part is removed', async () => {
    const g = guest();
    const ctl = new AbortController();
    const err = await sendFile({ invoke: g.invoke, vm, path: '/root/d', ...source(new Uint8Array(12)), chunkBytes: 4, signal: ctl.signal, onProgress: (sent) => sent === 4 && ctl.abort() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(g.calls).toEqual([`write /root/d${PART_SUFFIX}`, `rm -f -- /root/d${PART_SUFFIX}`]);
    expect(g.files.size).toBe(0);
  });

  it('a source that shrinks while read is an error, not a short file', async () => {
    const g = guest();
    const err = await sendFile({ invoke: g.invoke, vm, path: '/root/e', size: 10, read: async (off, len) => new Uint8Array(Math.max(0, Math.min(len, 6 - off))), chunkBytes: 4 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('the file to send changed while it was read (6 of 10 bytes were there)');
    expect(g.files.size).toBe(0);
  });
});

describe('fetchFile', () => {
  /** A guest file served in ranges, as the engine answers vm.readFile with offset and length. */
  const serving = (file: Uint8Array, calls: string[]): Invoke =>
    (async (method: Method, req: { offset?: number; length?: number }) => {
      if (method !== 'vm.readFile') throw new Error(`unexpected ${method}`);
      const { offset = 0, length = file.length } = req;
      calls.push(`${offset}+${length}`);
      const bytes = file.subarray(offset, offset + length);
      return { dataBase64: bytesToBase64(bytes), eof: bytes.length < length };
    }) as unknown as Invoke;

  it.each([
    [10, ['0+4', '4+4', '8+4']],
    // a size that is a multiple of the range: one more read finds the end
    [8, ['0+4', '4+4', '8+4']],
    [0, ['0+4']],
  ])('reads a file of %i bytes range by range, in order', async (size, ranges) => {
    const file = Uint8Array.from({ length: size }, (_, i) => i);
    const calls: string[] = [];
    const got: number[] = [];
    const progress: number[] = [];
    const n = await fetchFile({ invoke: serving(file, calls), vm, path: '/x', chunkBytes: 4, write: (b) => void got.push(...b), onProgress: (r) => progress.push(r) });
    expect(n).toBe(size);
    expect(calls).toEqual(ranges);
    expect(got).toEqual([...file]);
    expect(progress.at(-1)).toBe(size);
  });

  it('stops with CANCELLED between ranges', async () => {
    const calls: string[] = [];
    const ctl = new AbortController();
    const err = await fetchFile({ invoke: serving(new Uint8Array(12), calls), vm, path: '/x', chunkBytes: 4, write: () => ctl.abort(), signal: ctl.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CANCELLED' });
    expect(calls).toEqual(['0+4']);
  });
});

describe('guest paths and base64', () => {
  it('joins a folder and a file name, refusing names that leave the folder', () => {
    expect(guestPathIn('/root/', 'a b.txt')).toBe('/root/a b.txt');
    expect(guestPathIn('/', 'x')).toBe('/x');
    for (const bad of ['..', '.', '', 'a/b', 'a\0']) expect(() => guestPathIn('/root', bad)).toThrow('cannot be a file name in the VM');
    expect(() => guestPathIn('root', 'x')).toThrow('the folder in the VM must be an absolute path');
    expect(guestBaseName('/var/log/x.log')).toBe('x.log');
    expect(guestBaseName('/x')).toBe('x');
  });

  it('encodes every byte value, across the 32 KiB steps', () => {
    expect(bytesToBase64(enc('hello'))).toBe('aGVsbG8=');
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    expect(fromBase64(bytesToBase64(bytes))).toEqual(bytes);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
    expect(bytesToBase64(new Uint8Array(0))).toBe('');
  });
});
