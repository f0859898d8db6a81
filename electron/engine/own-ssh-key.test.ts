import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureOwnKey, OWN_KEY_FILE, readOwnKey } from './own-ssh-key';

describe("Flotilla's own SSH key", () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'flt-ownkey-'));
  });
  afterEach(() => rm(home, { recursive: true, force: true }));

  it('is made once with ssh-keygen, private to the user, and kept', async () => {
    expect(await readOwnKey(home)).toBeNull();
    const made = await ensureOwnKey(home);
    expect(made).toEqual({ file: join(home, OWN_KEY_FILE), publicKey: expect.stringMatching(/^ssh-ed25519 [A-Za-z0-9+/]+=* flotilla$/) });
    expect((await stat(made!.file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'ssh'))).mode & 0o777).toBe(0o700);
    expect(await ensureOwnKey(home)).toEqual(made);
  });

  it('is made again when half of it is missing (a pair that reads whole is whole)', async () => {
    const made = await ensureOwnKey(home);
    await rm(`${made!.file}.pub`);
    expect(await readOwnKey(home)).toBeNull();
    const again = await ensureOwnKey(home);
    expect(again?.publicKey).not.toBe(made!.publicKey);
  });

  it('is left out, saying why, when ssh-keygen cannot run', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    const said: string[] = [];
    try {
      expect(await ensureOwnKey(home, (t) => said.push(t))).toBeNull();
    } finally {
      process.env.PATH = path;
    }
    expect(said[0]).toMatch(/^could not make Flotilla's SSH key \(.*ENOENT.*\); built-in VMs get the user's own keys only$/);
  });
});
