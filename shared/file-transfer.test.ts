// The chunking, clean-up and resume rules of sendFile, against a stand-in guest (a map of paths to
// bytes that answers vm.writeFile and the commands sendFile runs) and a stand-in engine that can be
// lost and come back. The real agent path is covered by
// engine-cli.itest (flotilla cp of 9 MiB into a built-in VM) and the UI's Files tab e2e test.
import { describe, expect, it } from 'vitest';
import type { Method, MethodRequest, MethodResult } from './contract';
import { FlotillaError, isEngineLost } from './errors';
import { base64ToBytes, bytesToBase64, fetchFile, guestBaseName, guestPathIn, jsSha256, PART_SUFFIX, sendFile, type Invoke } from './file-transfer';

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
  /** the engine is gone: every call fails DISCONNECTED until `revive` */
  lose(): void;
  revive(): void;
}

const hex = (b: Uint8Array): string => {
  const h = jsSha256();
  h.update(b);
  return h.hex();
};
const ok = (stdout = '') => ({ exitCode: 0, signal: null, stdout, stderr: '', truncated: false });
const failed = (stderr: string) => ({ exitCode: 1, signal: null, stdout: '', stderr, truncated: false });

/** `loseAtWrite`: the engine goes away as the n-th write is sent (the write never lands). */
function guest(opts: { failWriteAt?: number; mvExit?: number; noExec?: boolean; loseAtWrite?: number; hostLostAtWrite?: number } = {}): Guest {
  const files = new Map<string, Uint8Array>();
  const calls: string[] = [];
  let writes = 0;
  let lost = false;
  const handle = async (method: Method, req: Record<string, unknown>): Promise<unknown> => {
    if (lost) throw new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
    if (method === 'vm.writeFile') {
      const path = req.path as string;
      calls.push(`write ${path}${req.append ? ' +' : ''}`);
      if (++writes === opts.failWriteAt) throw new FlotillaError('AGENT_ERROR', 'No space left on device');
      if (writes === opts.hostLostAtWrite) throw new FlotillaError('DISCONNECTED', 'lost the connection to host far', { host: 'far' });
      if (writes === opts.loseAtWrite) {
        lost = true;
        throw new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
      }
      const data = fromBase64(req.dataBase64 as string);
      files.set(path, req.append ? concat(files.get(path) ?? new Uint8Array(0), data) : data);
      return { bytes: data.length };
    }
    if (method === 'vm.exec') {
      const argv = req.command as string[];
      calls.push(argv.join(' '));
      if (opts.noExec) throw new FlotillaError('AGENT_ERROR', 'guest agent: command guest-exec has been disabled');
      const file = files.get(argv.at(-1)!);
      if (argv[0] === 'stat') return file ? ok(`${file.length}\n`) : failed(`stat: can't stat '${argv.at(-1)}': No such file or directory\n`);
      if (argv[0] === 'sha256sum') return file ? ok(`${hex(file)}  ${argv.at(-1)}\n`) : failed('sha256sum: no such file\n');
      if (argv[0] === 'mv') {
        if (opts.mvExit) return { exitCode: opts.mvExit, signal: null, stdout: '', stderr: 'mv: cannot move: Permission denied\n', truncated: false };
        files.set(argv[4]!, files.get(argv[3]!)!);
        files.delete(argv[3]!);
      } else if (argv[0] === 'rm') files.delete(argv[3]!);
      return ok();
    }
    throw new Error(`unexpected ${method}`);
  };
  return {
    files,
    calls,
    invoke: (<M extends Method>(m: M, r: MethodRequest<M>) => handle(m, r as Record<string, unknown>) as Promise<MethodResult<M>>) as Invoke,
    lose: () => void (lost = true),
    revive: () => void (lost = false),
  };
}

const source = (bytes: Uint8Array) => ({ size: bytes.length, read: async (off: number, len: number) => bytes.subarray(off, off + len) });
const vm = { host: 'local', id: 'abcdefgh1234' };
const stat = (path: string): string => `stat -c %s -- ${path}${PART_SUFFIX}`;

describe('sendFile', () => {
  it('a file of one chunk goes through the part file too', async () => {
    const g = guest();
    const data = enc('hello');
    expect(await sendFile({ invoke: g.invoke, vm, path: '/root/a.txt', ...source(data), chunkBytes: 8 })).toBe(5);
    expect(g.calls).toEqual([stat('/root/a.txt'), `write /root/a.txt${PART_SUFFIX}`, `sha256sum -- /root/a.txt${PART_SUFFIX}`, `mv -f -- /root/a.txt${PART_SUFFIX} /root/a.txt`]);
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
    expect(g.calls).toEqual([stat('/root/b.bin'), `write ${part}`, `write ${part} +`, `write ${part} +`, `sha256sum -- ${part}`, `mv -f -- ${part} /root/b.bin`]);
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
    expect(g.calls).toEqual([stat('/root/d'), `write /root/d${PART_SUFFIX}`, `rm -f -- /root/d${PART_SUFFIX}`]);
    expect(g.files.size).toBe(0);
  });

  it('a source that shrinks while read is an error, not a short file', async () => {
    const g = guest();
    const err = await sendFile({ invoke: g.invoke, vm, path: '/root/e', size: 10, read: async (off, len) => new Uint8Array(Math.max(0, Math.min(len, 6 - off))), chunkBytes: 4 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('the file to send changed while it was read (6 of 10 bytes were there)');
    expect(g.files.size).toBe(0);
  });
});

describe('sendFile after an earlier try', () => {
  const data = enc('0123456789');
  const part = `/r/f${PART_SUFFIX}`;

  it('carries on from a part that holds the start of this same file', async () => {
    const g = guest();
    g.files.set(part, data.subarray(0, 6));
    const resumed: number[] = [];
    const progress: number[] = [];
    expect(await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4, onResume: (at) => resumed.push(at), onProgress: (n) => progress.push(n) })).toBe(10);
    expect(g.calls).toEqual([stat('/r/f'), `sha256sum -- ${part}`, `write ${part} +`, `sha256sum -- ${part}`, `mv -f -- ${part} /r/f`]);
    expect(resumed).toEqual([6]);
    expect(progress).toEqual([0, 6, 10]);
    expect(dec(g.files.get('/r/f'))).toBe('0123456789');
  });

  it('a part that already holds all of it is renamed, nothing sent', async () => {
    const g = guest();
    g.files.set(part, data);
    await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4 });
    expect(g.calls).toEqual([stat('/r/f'), `sha256sum -- ${part}`, `mv -f -- ${part} /r/f`]);
    expect(dec(g.files.get('/r/f'))).toBe('0123456789');
  });

  it.each([
    ['of some other file', enc('01234X'), [`sha256sum -- ${part}`]],
    ['longer than the file', enc('0123456789AB'), []],
    ['empty', new Uint8Array(0), []],
  ])('a part %s is overwritten from the start', async (_, old, hashed) => {
    const g = guest();
    g.files.set(part, old);
    await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4 });
    expect(g.calls.slice(0, 2 + hashed.length)).toEqual([stat('/r/f'), ...hashed, `write ${part}`]);
    expect(dec(g.files.get('/r/f'))).toBe('0123456789');
  });

  it('a part that something else wrote to meanwhile is refused before the rename, and removed', async () => {
    const g = guest();
    g.files.set('/r/f', enc('old'));
    const invoke = (async (m: Method, r: never) => {
      const out = await g.invoke(m as 'vm.writeFile', r);
      // a second writer appends to the same part after this send's last chunk
      if (m === 'vm.writeFile' && (r as { append?: boolean }).append) g.files.set(part, concat(g.files.get(part)!, enc('!')));
      return out;
    }) as unknown as Invoke;
    const err = await sendFile({ invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AGENT_ERROR' });
    expect((err as Error).message).toBe(`${part} in the VM does not hold what was sent (its SHA-256 differs): was something else writing it, such as a second copy to /r/f? Nothing was renamed; send the file again`);
    expect(g.calls.some((c) => c.startsWith('mv'))).toBe(false);
    expect([...g.files.keys()]).toEqual(['/r/f']);
    expect(dec(g.files.get('/r/f'))).toBe('old');
  });

  it('an empty file is one empty write, then the rename', async () => {
    const g = guest();
    expect(await sendFile({ invoke: g.invoke, vm, path: '/r/e', ...source(new Uint8Array(0)) })).toBe(0);
    expect(g.calls).toEqual([stat('/r/e'), `write /r/e${PART_SUFFIX}`, `sha256sum -- /r/e${PART_SUFFIX}`, `mv -f -- /r/e${PART_SUFFIX} /r/e`]);
    expect(g.files.get('/r/e')).toEqual(new Uint8Array(0));
  });

  it('the engine lost mid-send: with reconnect it carries on in the same call from what the guest holds', async () => {
    const g = guest({ loseAtWrite: 2 });
    const reconnects: string[] = [];
    const n = await sendFile({
      invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4,
      reconnect: async (err) => {
        reconnects.push(err.message);
        g.revive();
      },
    });
    expect(n).toBe(10);
    expect(reconnects).toEqual(['connection to the engine was lost']);
    expect(g.calls).toEqual([stat('/r/f'), `write ${part}`, `write ${part} +`, stat('/r/f'), `sha256sum -- ${part}`, `write ${part} +`, `write ${part} +`, `sha256sum -- ${part}`, `mv -f -- ${part} /r/f`]);
    expect(dec(g.files.get('/r/f'))).toBe('0123456789');
    expect(g.files.has(part)).toBe(false);
  });

  it('the engine lost with no reconnect: DISCONNECTED, the part kept, and the next send resumes it', async () => {
    const g = guest({ loseAtWrite: 3 });
    const err = await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4 }).catch((e: unknown) => e);
    expect(isEngineLost(err)).toBe(true);
    expect(g.calls.some((c) => c.startsWith('rm'))).toBe(false);
    expect(dec(g.files.get(part))).toBe('01234567');
    g.revive();
    const resumed: number[] = [];
    await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4, onResume: (at) => resumed.push(at) });
    expect(resumed).toEqual([8]);
    expect(dec(g.files.get('/r/f'))).toBe('0123456789');
  });

  it('gives up when the engine is lost three times in a row with no byte moved', async () => {
    const g = guest({ loseAtWrite: 1 });
    let tries = 0;
    const err = await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4, reconnect: async () => void tries++ }).catch((e: unknown) => e);
    expect(isEngineLost(err)).toBe(true);
    expect(tries).toBe(2);
  });

  it('a lost remote host is not a lost engine: no reconnect, and the part goes', async () => {
    const g = guest({ hostLostAtWrite: 2 });
    let tries = 0;
    const err = await sendFile({ invoke: g.invoke, vm, path: '/r/f', ...source(data), chunkBytes: 4, reconnect: async () => void tries++ }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DISCONNECTED', details: { host: 'far' } });
    expect(isEngineLost(err)).toBe(false);
    expect(tries).toBe(0);
    expect(g.calls.at(-1)).toBe(`rm -f -- ${part}`);
    expect(g.files.has(part)).toBe(false);
  });

  it('the browser SHA-256 gives the standard digests, fed whole or in pieces', () => {
    expect(hex(enc('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const two = enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq');
    expect(hex(two)).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    const h = jsSha256();
    h.update(two.subarray(0, 5));
    h.update(two.subarray(5));
    expect(h.hex()).toBe(hex(two));
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

  it('the engine lost mid-fetch: with reconnect it carries on from the bytes it has', async () => {
    const file = Uint8Array.from({ length: 10 }, (_, i) => i);
    const calls: string[] = [];
    const inner = serving(file, calls);
    let lost = false;
    let reads = 0;
    const invoke = (async (m: Method, r: never) => {
      if (lost || ++reads === 2) {
        lost = true;
        throw new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
      }
      return inner(m as 'vm.readFile', r);
    }) as unknown as Invoke;
    const got: number[] = [];
    const n = await fetchFile({ invoke, vm, path: '/x', chunkBytes: 4, write: (b) => void got.push(...b), reconnect: async () => void (lost = false) });
    expect(n).toBe(10);
    expect(calls).toEqual(['0+4', '4+4', '8+4']);
    expect(got).toEqual([...file]);
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
