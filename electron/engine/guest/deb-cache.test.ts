// The .deb cache's offline behaviour: with no apt on PATH it serves the newest cached .deb of
// each package, and without one it says what to install or how to bring your own kernel.
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DebCache } from './deb-cache';

describe('DebCache without apt', () => {
  let dir: string;
  let savedPath: string | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-debs-'));
    savedPath = process.env.PATH;
    process.env.PATH = join(dir, 'no-such-bin');
  });

  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it('uses the most recently fetched cached version', async () => {
    await writeFile(join(dir, 'busybox-static_1%3a1.35.0-4_amd64.deb'), 'old');
    await writeFile(join(dir, 'busybox-static_1%3a1.35.0-5_amd64.deb'), 'new');
    await utimes(join(dir, 'busybox-static_1%3a1.35.0-4_amd64.deb'), new Date(1000), new Date(1000));
    const logs: string[] = [];
    const [deb] = await new DebCache(dir, (m) => logs.push(m)).fetch(['busybox-static']);
    expect(deb!.version).toBe('1:1.35.0-5');
    expect(deb!.file).toBe(join(dir, 'busybox-static_1%3a1.35.0-5_amd64.deb'));
    expect(deb!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(logs.join('\n')).toMatch(/apt-get not found; using cached packages/);
  });

  it('names the missing package, what to install, and the bring-your-own-kernel way out', async () => {
    const err = await new DebCache(dir).fetch(['qemu-guest-agent']).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/qemu-guest-agent is not in the cache/);
    expect((err as Error).message).toMatch(/apt-get install apt dpkg/);
    expect((err as Error).message).toMatch(/source kind 'kernel'/);
  });
});
