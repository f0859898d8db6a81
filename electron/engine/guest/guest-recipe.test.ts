// The recipe fingerprint must move with every input a guest is built from, and only with them.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findGuestAssetsDir } from './guest-assets';
import { recipeFingerprint, type RecipeInputs } from './guest-recipe';

const inputs: RecipeInputs = { kernelMembers: ['./boot/vmlinuz-*'], moduleGroups: [{ group: 'pci', modules: ['virtio_pci'] }], compression: 'none' };
let assets = '';

beforeAll(async () => {
  assets = join(await mkdtemp(join(tmpdir(), 'recipe-')), 'guest');
  await cp(findGuestAssetsDir(), assets, { recursive: true });
});
afterAll(async () => {
  await rm(join(assets, '..'), { recursive: true, force: true });
});

describe('guest recipe fingerprint', () => {
  it('is stable for the same inputs', () => {
    expect(recipeFingerprint(inputs, assets)).toBe(recipeFingerprint({ ...inputs }, assets));
    expect(recipeFingerprint(inputs, assets)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when an init script changes', async () => {
    const before = recipeFingerprint(inputs, assets);
    const init = join(assets, 'init');
    const text = await readFile(init, 'utf8');
    await writeFile(init, `${text}\n# changed\n`);
    expect(recipeFingerprint(inputs, assets)).not.toBe(before);
    await writeFile(init, text);
    expect(recipeFingerprint(inputs, assets)).toBe(before);
  });

  it('changes when the console relay\'s source changes', async () => {
    const before = recipeFingerprint(inputs, assets);
    const relay = join(assets, 'relay.c');
    const text = await readFile(relay, 'utf8');
    await writeFile(relay, `${text}\n/* changed */\n`);
    expect(recipeFingerprint(inputs, assets)).not.toBe(before);
    await writeFile(relay, text);
    expect(recipeFingerprint(inputs, assets)).toBe(before);
  });

  it('changes with the modules, kernel members and compression the build picks', () => {
    const base = recipeFingerprint(inputs, assets);
    expect(recipeFingerprint({ ...inputs, moduleGroups: [{ group: 'pci', modules: ['virtio_pci', 'fuse'] }] }, assets)).not.toBe(base);
    expect(recipeFingerprint({ ...inputs, kernelMembers: [...inputs.kernelMembers, './lib/modules/*/kernel/fs/*'] }, assets)).not.toBe(base);
    expect(recipeFingerprint({ ...inputs, compression: 'gzip' }, assets)).not.toBe(base);
  });
});
