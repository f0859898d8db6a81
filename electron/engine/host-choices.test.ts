// Host-dependent choices the engine makes at start: the accelerator and where the default guest is.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectAccel } from './engine';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { readDefaultGuest } from './guest/build-default';

describe('detectAccel', () => {
  it('honours FLOTILLA_ACCEL', async () => {
    expect(await detectAccel({ FLOTILLA_ACCEL: 'tcg' })).toBe('tcg');
    expect(await detectAccel({ FLOTILLA_ACCEL: 'kvm' })).toBe('kvm:tcg');
  });
  it('stays on TCG when the CPU advertises no vmx/svm, even if /dev/kvm exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'accel-'));
    const cpuinfo = join(dir, 'cpuinfo');
    await writeFile(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse sse2\n');
    expect(await detectAccel({}, cpuinfo)).toBe('tcg');
  });
});

describe('readDefaultGuest', () => {
  async function fakeGuest(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'vmlinuz'), 'k');
    await writeFile(join(dir, 'initrd.img'), 'ii');
  }
  it('reports a missing guest as not ready, and falls back to the bundled copy of a packaged app', async () => {
    const home = await mkdtemp(join(tmpdir(), 'home-'));
    expect((await readDefaultGuest(home, {})).ready).toBe(false);
    const bundled = await mkdtemp(join(tmpdir(), 'bundled-'));
    await fakeGuest(bundled);
    // no manifest: still not ready, and the user's own dir is what gets reported
    const r = await readDefaultGuest(home, { FLOTILLA_BUNDLED_GUEST: bundled });
    expect(r.ready).toBe(false);
    expect(r.dir).toBe(join(home, 'images', 'default'));
  });

  const built = '/tmp/flotilla-test-guest/images/default';
  it.skipIf(!existsSync(join(built, 'manifest.json')))('uses a complete bundled guest when the home has none', async () => {
    const home = await mkdtemp(join(tmpdir(), 'home-'));
    const bundled = join(await mkdtemp(join(tmpdir(), 'bundled-')), 'default-guest');
    await cp(built, bundled, { recursive: true });
    const r = await readDefaultGuest(home, { FLOTILLA_BUNDLED_GUEST: bundled });
    expect(r).toMatchObject({ ready: true, dir: bundled });
    expect(r.manifest?.kernelVersion).toMatch(/cloud-amd64/);
  });
});
