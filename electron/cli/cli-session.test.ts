// CliSession's lookups across a lost engine: the interleaving reliability check 21 met once (the
// engine killed while `flotilla cp` looked its VM up), here with stand-in engines.
import { describe, expect, it } from 'vitest';
import type { ContractHandler, VmInfo } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import type { OpenedEngine } from '../engine/open-engine';
import { CliSession, type CliIo } from './run-cli';

/** An engine reached as a client whose vm.find answers with `answer` (or throws what it gives). */
function engine(answer: () => VmInfo): OpenedEngine & { calls: string[] } {
  const calls: string[] = [];
  const handler = {
    handle: async (method: string) => {
      calls.push(method);
      return answer();
    },
  } as unknown as ContractHandler;
  return { handler, role: 'client', close: async () => undefined, calls };
}

const lost = () => {
  throw new FlotillaError('DISCONNECTED', 'connection to the engine was lost');
};
const vm = { id: 'abc', name: 'files', host: 'local' } as VmInfo;

describe('CliSession lookups', () => {
  it('find with io asks the next engine when this one is lost meanwhile, and says so', async () => {
    const first = engine(lost);
    const next = engine(() => vm);
    const said: string[] = [];
    const io: CliIo = { out: () => undefined, err: (t) => said.push(t) };
    const s = new CliSession(first, async () => next);
    expect(await s.find('files', undefined, io)).toBe(vm);
    expect([first.calls, next.calls]).toEqual([['vm.find'], ['vm.find']]);
    expect(said).toEqual(['flotilla: connection to the engine was lost; waiting for the engine to come back\n', 'flotilla: connected to the engine again\n']);
  });

  it('other errors, and a lookup without io, are the caller\'s as they came', async () => {
    const notFound = engine(() => {
      throw new FlotillaError('NOT_FOUND', 'no VM named "x"');
    });
    const io: CliIo = { out: () => undefined, err: () => undefined };
    await expect(new CliSession(notFound, async () => engine(() => vm)).find('x', undefined, io)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(new CliSession(engine(lost), async () => engine(() => vm)).find('files')).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });
});
