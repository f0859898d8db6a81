// The per-VM UEFI variable store, with the real qemu-img and OVMF's template.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureOvmfVars } from './firmware-vars';
import { qemuImgInfo } from './images';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-fwvars-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensureOvmfVars', () => {
  it('makes a qcow2 of the template once and leaves no temp file', async () => {
    const p = await ensureOvmfVars(dir);
    expect(p).toBe(join(dir, 'ovmf-vars.qcow2'));
    const info = await qemuImgInfo(p);
    expect(info.format).toBe('qcow2');
    expect(info.virtualSize).toBe(540672); // OVMF_VARS_4M.fd
    expect(await ensureOvmfVars(dir)).toBe(p);
    expect(await readdir(dir)).toEqual(['ovmf-vars.qcow2']);
  });

  it('converts a VM\'s legacy raw ovmf-vars.fd, keeping its contents, and removes it', async () => {
    const raw = Buffer.alloc(540672, 0);
    raw.write('written-by-the-guest', 4096);
    await writeFile(join(dir, 'ovmf-vars.fd'), raw);
    const p = await ensureOvmfVars(dir);
    expect(await readdir(dir)).toEqual(['ovmf-vars.qcow2']);
    const back = join(dir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', p, back]);
    expect((await readFile(back)).subarray(4096, 4116).toString()).toBe('written-by-the-guest');
  });

  it('names the template when it is missing', async () => {
    await expect(ensureOvmfVars(dir, join(dir, 'nope.fd'))).rejects.toThrow(/nope\.fd/);
    expect(await readdir(dir)).toEqual([]);
  });
});
