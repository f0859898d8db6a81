import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tryEngineLock } from './engine-lock';
import { openEngine, type OpenedEngine } from './open-engine';

describe('openEngine', () => {
  let home: string;
  const opened: OpenedEngine[] = [];

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'oe-'));
  });

  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
    await rm(home, { recursive: true, force: true });
  });

  it('elects exactly one engine among many that open at once; the rest are its clients', async () => {
    const all = await Promise.all(Array.from({ length: 6 }, () => openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } })));
    opened.push(...all);
    expect(all.filter((o) => o.role === 'engine')).toHaveLength(1);
    const ctx = { clientId: 'x', emit: () => undefined, onClose: () => undefined };
    for (const o of all) expect(await o.handler.handle('vm.list', {}, ctx)).toEqual([]);
  });

  it('takes over a stale socket file left by a dead engine', async () => {
    await mkdir(join(home, 'run'), { recursive: true });
    await writeFile(join(home, 'run', 'engine.sock'), '');
    const o = await openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } });
    opened.push(o);
    expect(o.role).toBe('engine');
  });

  it('holds the engine lock while it runs and lets go on close', async () => {
    const o = await openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } });
    expect(await tryEngineLock(home)).toBeNull();
    await o.close();
    const lock = await tryEngineLock(home);
    expect(lock).not.toBeNull();
    await lock!.release();
  });
});
