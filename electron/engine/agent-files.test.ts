// The agent file logic against a stand-in agent that answers guest-file-* as qemu-ga does (a file
// in memory, a cursor per handle), and against answers qemu-ga would never give: those are
// refused in words. Real agents: engine-cli.itest (local), libvirt-cli.itest (through virsh).
import { describe, expect, it } from 'vitest';
import { agentReadFile, agentWriteFile, type AgentRequest } from './agent-files';

function agent(file: Buffer, log: string[] = [], over: Partial<Record<string, unknown>> = {}): { request: AgentRequest; file: () => Buffer } {
  let data = Buffer.from(file);
  let pos = 0;
  const request: AgentRequest = async (command, args) => {
    log.push(command === 'guest-file-read' ? `read ${String(args.count)}` : command.replace('guest-file-', ''));
    if (command in over) return over[command];
    switch (command) {
      case 'guest-file-open':
        pos = args.mode === 'a' ? data.length : 0;
        if (args.mode === 'w') data = Buffer.alloc(0);
        return 7;
      case 'guest-file-seek':
        pos = args.offset as number;
        return { position: pos, eof: false };
      case 'guest-file-read': {
        const chunk = data.subarray(pos, pos + (args.count as number));
        pos += chunk.length;
        return { count: chunk.length, 'buf-b64': chunk.toString('base64'), eof: pos >= data.length };
      }
      case 'guest-file-write': {
        const chunk = Buffer.from(args['buf-b64'] as string, 'base64');
        data = Buffer.concat([data.subarray(0, pos), chunk]);
        pos += chunk.length;
        return { count: chunk.length, eof: false };
      }
      default:
        return {};
    }
  };
  return { request, file: () => data };
}

const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

describe('agentReadFile', () => {
  it('reads a range from an offset in chunks, and stops at the range', async () => {
    const log: string[] = [];
    const got = await agentReadFile(agent(bytes, log).request, '/f', { offset: 100, length: 250 }, { chunkBytes: 100 });
    expect(got.equals(bytes.subarray(100, 350))).toBe(true);
    expect(log).toEqual(['open', 'seek', 'read 100', 'read 100', 'read 50', 'close']);
  });

  it('a range past the end comes back short', async () => {
    const got = await agentReadFile(agent(bytes).request, '/f', { offset: 900, length: 400 }, { chunkBytes: 256 });
    expect(got.equals(bytes.subarray(900))).toBe(true);
  });

  it('reads all of a file without a range', async () => {
    expect((await agentReadFile(agent(bytes).request, '/f', undefined, { chunkBytes: 64 })).equals(bytes)).toBe(true);
  });

  it('refuses answers without a handle or data, and closes what it opened', async () => {
    await expect(agentReadFile(agent(bytes, [], { 'guest-file-open': { handle: 1 } }).request, '/f', undefined, { chunkBytes: 64 })).rejects.toThrow('guest-file-open answered without a file handle');
    const log: string[] = [];
    await expect(agentReadFile(agent(bytes, log, { 'guest-file-read': { count: 3 } }).request, '/f', undefined, { chunkBytes: 64 })).rejects.toThrow('guest-file-read answered without data');
    expect(log.at(-1)).toBe('close');
    await expect(agentReadFile(agent(bytes, [], { 'guest-file-read': { 'buf-b64': bytes.toString('base64') } }).request, '/f', { offset: 0, length: 10 }, { chunkBytes: 10 })).rejects.toThrow('guest-file-read answered 1000 bytes for 10');
  });
});

describe('agentWriteFile', () => {
  it('replaces, or appends after the end', async () => {
    const a = agent(Buffer.from('old contents'));
    expect(await agentWriteFile(a.request, '/f', bytes.subarray(0, 300), {}, { chunkBytes: 128 })).toBe(300);
    expect(a.file().equals(bytes.subarray(0, 300))).toBe(true);
    expect(await agentWriteFile(a.request, '/f', bytes.subarray(300), { append: true }, { chunkBytes: 128 })).toBe(700);
    expect(a.file().equals(bytes)).toBe(true);
  });

  it('a short write is an error naming the file', async () => {
    const log: string[] = [];
    await expect(agentWriteFile(agent(bytes, log, { 'guest-file-write': { count: 5 } }).request, '/root/f', bytes, {}, { chunkBytes: 128 })).rejects.toThrow('the guest agent wrote 5 of 128 bytes to /root/f');
    expect(log).toEqual(['open', 'write', 'close']);
  });

  it('stops at the next chunk once its caller has gone, closing the file with what was written', async () => {
    const log: string[] = [];
    const a = agent(Buffer.alloc(0), log);
    const ctl = new AbortController();
    const request: AgentRequest = async (command, args) => {
      const r = await a.request(command, args);
      if (command === 'guest-file-write') ctl.abort();
      return r;
    };
    await expect(agentWriteFile(request, '/root/f', bytes, { signal: ctl.signal }, { chunkBytes: 128 })).rejects.toMatchObject({
      code: 'CANCELLED',
      message: 'writing /root/f stopped after 128 bytes: its caller went away',
    });
    expect(log).toEqual(['open', 'write', 'close']);
    expect(a.file().equals(bytes.subarray(0, 128))).toBe(true);
  });
});
