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
    // clients first: a CLI's engine serves its clients until they leave (it drains before closing)
    const all = opened.splice(0);
    for (const o of all.filter((x) => x.role === 'client')) await o.close();
    for (const o of all.filter((x) => x.role === 'engine')) await o.close();
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

  it("a CLI's engine answers its clients before it lets go", async () => {
    const engine = await openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } });
    const client = await openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } });
    expect([engine.role, client.role]).toEqual(['engine', 'client']);
    let closed = false;
    const closing = engine.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    const ctx = { clientId: 'x', emit: () => undefined, onClose: () => undefined };
    expect(await client.handler.handle('vm.list', {}, ctx)).toEqual([]);
    await client.close();
    await closing;
    expect(closed).toBe(true);
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
