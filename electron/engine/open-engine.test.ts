import { chmod, chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tryEngineLock } from './engine-lock';
import { openEngine, type OpenedEngine } from './open-engine';
import { assertSafeHome, HomeLayout } from './paths';

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

describe('a data directory that is not safely ours', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'oe-own-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('is refused when others can write to it, saying to chmod 700, and nothing is created in it', async () => {
    await chmod(home, 0o777);
    await expect(openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: `the data directory ${home} is writable by other users (mode 777); run \`chmod 700 ${home}\``,
    });
    expect(await readdir(home)).toEqual([]);
  });

  it('is refused when its run directory is group-writable', async () => {
    await mkdir(join(home, 'run'), { mode: 0o700 });
    await chmod(join(home, 'run'), 0o770);
    await expect(openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } })).rejects.toMatchObject({ message: expect.stringContaining(`chmod 700 ${join(home, 'run')}`) });
  });

  it('is refused when another user owns it', async () => {
    const me = process.getuid!();
    await expect(assertSafeHome(new HomeLayout(home), me + 1)).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(new RegExp(`belongs to another user \\(uid ${me}, you are uid ${me + 1}\\)`)),
    });
    // a real foreign owner, where this test may chown (root)
    if (me === 0) {
      await chown(home, 65534, 65534);
      await expect(openEngine({ home, shell: 'cli', engine: { accel: 'tcg' } })).rejects.toMatchObject({ message: expect.stringContaining('belongs to another user (uid 65534') });
    }
  });

  it('a 0700 home of ours is accepted', async () => {
    await chmod(home, 0o700);
    await expect(assertSafeHome(new HomeLayout(home))).resolves.toBeUndefined();
  });
});
