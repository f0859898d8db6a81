import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serveToken } from './serve-token';

describe('serveToken', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-token-'));
    file = join(dir, 'serve-token');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes one (0600, 256 bits in hex) and gives it back on the next start', async () => {
    const first = await serveToken(file);
    expect(first).toMatchObject({ made: 'none', token: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await serveToken(file)).toEqual({ token: first.token, made: null });
  });

  it('makes a new one when asked, and when the kept one is not a token or others could read it', async () => {
    const first = await serveToken(file);
    const asked = await serveToken(file, { renew: true });
    expect(asked.made).toBe('asked');
    expect(asked.token).not.toBe(first.token);
    expect((await readFile(file, 'utf8')).trim()).toBe(asked.token);

    await chmod(file, 0o644);
    const exposed = await serveToken(file);
    expect(exposed.made).toBe('exposed');
    expect(exposed.token).not.toBe(asked.token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    await writeFile(file, 'not a token\n', { mode: 0o600 });
    expect((await serveToken(file)).made).toBe('unreadable');
  });
});
