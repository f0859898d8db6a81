// Reading and writing a guest file through qemu-guest-agent (guest-file-open/seek/read/write/
// flush/close), over whatever carries one agent command: the engine's own agent socket for a
// local VM (agent-client.ts), `virsh qemu-agent-command` for a libvirt domain. The agent's answers
// are untrusted: each is checked before it is used.
import { READ_FILE_MAX_BYTES } from '../../shared/contract-names';
import { FlotillaError } from '../../shared/errors';

/** One agent command and its `return` value. */
export type AgentRequest = (command: string, args: Record<string, unknown>) => Promise<unknown>;

export interface AgentFileOptions {
  /** bytes per guest-file-read / guest-file-write */
  chunkBytes: number;
}

function handleOf(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new FlotillaError('AGENT_ERROR', 'guest-file-open answered without a file handle');
  return v;
}

async function withHandle<T>(request: AgentRequest, path: string, mode: string, use: (handle: number) => Promise<T>): Promise<T> {
  const handle = handleOf(await request('guest-file-open', { path, mode }));
  try {
    return await use(handle);
  } finally {
    await request('guest-file-close', { handle }).catch(() => undefined);
  }
}

/** All of a file (at most READ_FILE_MAX_BYTES), or `range.length` bytes from `range.offset` (fewer at its end). */
export function agentReadFile(request: AgentRequest, path: string, range: { offset: number; length: number } | undefined, o: AgentFileOptions): Promise<Buffer> {
  return withHandle(request, path, 'r', async (handle) => {
    if (range && range.offset > 0) await request('guest-file-seek', { handle, offset: range.offset, whence: 'set' });
    const limit = range ? range.length : READ_FILE_MAX_BYTES;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const count = range ? Math.min(o.chunkBytes, limit - total) : o.chunkBytes;
      if (count <= 0) break;
      const r = (await request('guest-file-read', { handle, count })) as { 'buf-b64'?: unknown; eof?: unknown } | null;
      if (typeof r?.['buf-b64'] !== 'string') throw new FlotillaError('AGENT_ERROR', 'guest-file-read answered without data');
      const chunk = Buffer.from(r['buf-b64'], 'base64');
      if (chunk.length > count) throw new FlotillaError('AGENT_ERROR', `guest-file-read answered ${chunk.length} bytes for ${count}`);
      total += chunk.length;
      if (!range && total > limit) throw new FlotillaError('AGENT_ERROR', `${path} is larger than ${limit / 1024 / 1024} MiB, the most one read through the guest agent brings: read it in ranges (flotilla cp does)`);
      chunks.push(chunk);
      if (r.eof === true || chunk.length === 0) break;
    }
    return Buffer.concat(chunks);
  });
}

export interface WriteFileOptions {
  /** after the file's end instead of replacing it */
  append?: boolean;
  /** stops between chunks (the caller went away): CANCELLED, the file closed with what was written */
  signal?: AbortSignal;
}

/** Writes `data` to the file (replacing it, or after its end with `append`); resolves with the bytes written. */
export function agentWriteFile(request: AgentRequest, path: string, data: Buffer, opts: WriteFileOptions, o: AgentFileOptions): Promise<number> {
  return withHandle(request, path, opts.append ? 'a' : 'w', async (handle) => {
    let written = 0;
    for (let off = 0; off < data.length; off += o.chunkBytes) {
      if (opts.signal?.aborted) throw new FlotillaError('CANCELLED', `writing ${path} stopped after ${written} bytes: its caller went away`);
      const chunk = data.subarray(off, off + o.chunkBytes);
      const r = (await request('guest-file-write', { handle, 'buf-b64': chunk.toString('base64') })) as { count?: unknown } | null;
      if (r?.count !== chunk.length) throw new FlotillaError('AGENT_ERROR', `the guest agent wrote ${String(r?.count)} of ${chunk.length} bytes to ${path}`);
      written += chunk.length;
    }
    await request('guest-file-flush', { handle });
    return written;
  });
}
