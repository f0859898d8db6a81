// @vitest-environment jsdom
// The Files tab's store logic over a fake transport: a second send to a path still being sent is
// refused on its own row (two sends would write one part file at once), Cancel ends a send and
// leaves its row "cancelled", a bad folder is refused before anything is sent, and a send whose
// connection to the engine drops waits for a new one and carries on. The real transfer is the
// ui-lifecycle e2e test; a real engine killed under a copy is reliability check 21.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FlotillaError } from '../../../shared/errors';
import type { ConnectionStatus } from '../api/transport';
import { setApi } from '../api/current';
import { FakeTransport, makeVm } from '../test-support/fake-transport';
import { applyVm } from './events';
import { cancelTransfer, sendFilesToVm } from './file-actions';
import { resetStore, useStore } from './store';

const BIG = 5 << 20; // two chunks: a part file, then mv
// jsdom's File has no arrayBuffer(): a stand-in with what sendFilesToVm uses
const file = (name: string, size: number): File => ({ name, size, slice: (a: number, b: number) => ({ arrayBuffer: async () => new ArrayBuffer(Math.min(b, size) - a) }) }) as unknown as File;

describe('Files tab transfers', () => {
  let release: () => void = () => undefined;
  let transport: FakeTransport;
  beforeEach(() => {
    resetStore();
    const held = new Promise<void>((r) => (release = r));
    transport = new FakeTransport(async (method, req) => {
      if (method === 'vm.writeFile') {
        await held;
        return { bytes: atob((req as { dataBase64: string }).dataBase64).length };
      }
      return { exitCode: 0, signal: null, stdout: '', stderr: '', truncated: false };
    });
    setApi(transport);
    applyVm(makeVm('web', { id: 'abcdefgh1234', state: 'running', agent: 'ready' }));
  });
  afterEach(() => setApi(null));
  const rows = () => useStore.getState().consoles.files['abcdefgh1234'] ?? [];

  it('refuses a second send to a path still being sent, on its own row', async () => {
    const first = sendFilesToVm('abcdefgh1234', '/root', [file('a.bin', BIG)]);
    await sendFilesToVm('abcdefgh1234', '/root/', [file('a.bin', 10)]);
    expect(rows().map((t) => [t.guestPath, t.state])).toEqual([
      ['/root/a.bin', 'active'],
      ['/root/a.bin', 'failed'],
    ]);
    expect(rows()[1]!.error?.message).toContain('/root/a.bin is being sent already');
    release();
    await first;
    expect(rows()[0]!.error).toBeNull();
    expect(rows()[0]!.state).toBe('done');
  });

  it('Cancel ends a send between chunks, removing its part file', async () => {
    const sending = sendFilesToVm('abcdefgh1234', '/root', [file('b.bin', BIG)]);
    cancelTransfer(rows()[0]!.n);
    release();
    await sending;
    expect(rows()[0]).toMatchObject({ state: 'cancelled', error: null });
    expect(transport.calls.at(-1)).toMatchObject({ method: 'vm.exec', req: { command: ['rm', '-f', '--', '/root/b.bin.flotilla-part'] } });
  });

  it('a folder that is not absolute is refused before anything is sent', async () => {
    await sendFilesToVm('abcdefgh1234', 'root', [file('c.txt', 3)]);
    expect(rows()[0]).toMatchObject({ state: 'failed', error: { code: 'INVALID_ARGUMENT' } });
    expect(transport.calls).toEqual([]);
  });

  describe('the connection to the engine lost mid-send', () => {
    let drops = 0;
    const setConnection = (connection: ConnectionStatus): void => useStore.setState((st) => ({ ui: { ...st.ui, connection } }));
    beforeEach(() => {
      drops = 1;
      transport = new FakeTransport(async (method, req) => {
        if (method === 'vm.writeFile') {
          if (drops > 0) {
            drops--;
            throw new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
          }
          return { bytes: atob((req as { dataBase64: string }).dataBase64).length };
        }
        // no part file left by an earlier try
        const none = (req as { command: string[] }).command[0] === 'stat';
        return { exitCode: none ? 1 : 0, signal: null, stdout: '', stderr: none ? 'no such file' : '', truncated: false };
      });
      setApi(transport);
      setConnection({ kind: 'online', generation: 1 });
    });

    it('waits, saying so, for a new connection (not the one that failed), then carries on', async () => {
      const sending = sendFilesToVm('abcdefgh1234', '/root', [file('r.bin', BIG)]);
      await vi.waitFor(() => expect(rows()[0]!.waiting).toBe(true));
      setConnection({ kind: 'online', generation: 1 });
      setConnection({ kind: 'connecting', attempt: 1, reason: 'closed' });
      await new Promise((r) => setTimeout(r, 20));
      expect(rows()[0]).toMatchObject({ state: 'active', waiting: true });
      const writesBefore = transport.calls.filter((c) => c.method === 'vm.writeFile').length;
      expect(writesBefore).toBe(1);
      setConnection({ kind: 'online', generation: 2 });
      await sending;
      expect(rows()[0]).toMatchObject({ state: 'done', waiting: false, error: null, done: BIG });
      // the send starts over by asking the guest for the part again
      expect(transport.calls.filter((c) => c.method === 'vm.exec').map((c) => (c.req as { command: string[] }).command[0])).toEqual(['stat', 'stat', 'sha256sum', 'mv']);
    });

    it('Cancel while waiting ends it', async () => {
      const sending = sendFilesToVm('abcdefgh1234', '/root', [file('s.bin', BIG)]);
      await vi.waitFor(() => expect(rows()[0]!.waiting).toBe(true));
      cancelTransfer(rows()[0]!.n);
      await sending;
      expect(rows()[0]).toMatchObject({ state: 'cancelled', waiting: false, error: null });
    });

    it('an engine that refuses this window fails it with the lost connection', async () => {
      const sending = sendFilesToVm('abcdefgh1234', '/root', [file('u.bin', BIG)]);
      await vi.waitFor(() => expect(rows()[0]!.waiting).toBe(true));
      setConnection({ kind: 'unauthorized', reason: 'the token was refused' });
      await sending;
      expect(rows()[0]).toMatchObject({ state: 'failed', waiting: false, error: { code: 'DISCONNECTED' } });
    });
  });
});
