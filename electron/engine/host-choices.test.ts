// Host-dependent choices the engine makes at start: the accelerator and where the default guest is.
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectAccel, noAccessReason } from './accel';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { currentRecipe, readDefaultGuest } from './guest/build-default';
import { makeManifest, serializeManifest } from './guest/guest-manifest';

describe('detectAccel', () => {
  it('honours FLOTILLA_ACCEL', async () => {
    expect(await detectAccel({ FLOTILLA_ACCEL: 'tcg' })).toEqual({ accel: 'tcg', why: 'FLOTILLA_ACCEL=tcg asks for emulation' });
    expect(await detectAccel({ FLOTILLA_ACCEL: 'kvm' })).toEqual({ accel: 'kvm:tcg', why: null });
  });
  it('says why it emulates: no device, or a CPU without vmx/svm even if /dev/kvm exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'accel-'));
    const cpuinfo = join(dir, 'cpuinfo');
    const device = join(dir, 'kvm');
    await writeFile(device, '');
    await writeFile(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse sse2\n');
    expect(await detectAccel({}, { kvmPath: join(dir, 'none'), cpuinfoPath: cpuinfo })).toMatchObject({ accel: 'tcg', why: expect.stringMatching(/none does not exist: turn on virtualization .* kvm module/) });
    expect(await detectAccel({}, { kvmPath: device, cpuinfoPath: cpuinfo })).toMatchObject({ accel: 'tcg', why: expect.stringMatching(/no hardware virtualization \(no vmx or svm/) });
    await writeFile(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse sse2 vmx\n');
    // root may open any file, so the refusal itself is checked as another user (shares-user.itest.ts)
    if (process.getuid?.() === 0) expect(await detectAccel({}, { kvmPath: device, cpuinfoPath: cpuinfo })).toEqual({ accel: 'kvm:tcg', why: null });
  });
  it('tells a user who may not open /dev/kvm to join its group, or that the device is root-only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'accel-'));
    const group = join(dir, 'group');
    await writeFile(group, 'root:x:0:\nkvm:x:104:\n');
    expect(await noAccessReason('/dev/kvm', { mode: 0o20660, gid: 104 }, group)).toBe('you may not open /dev/kvm: add yourself to the group kvm (sudo usermod -aG kvm $USER), then log out and in again');
    expect(await noAccessReason('/dev/kvm', { mode: 0o20600, gid: 0 }, group)).toMatch(/^\/dev\/kvm is for root only here \(mode 0600\): install your distribution's udev rule for KVM/);
    expect(await noAccessReason('/dev/kvm', { mode: 0o20600, gid: 104 }, group)).toMatch(/for root only here/);
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

  // a complete guest as far as readDefaultGuest looks (manifest, files of the listed sizes), built
  // by this checkout's recipe or by an older one
  async function completeGuest(dir: string, recipe: string): Promise<void> {
    await fakeGuest(dir);
    const m = makeManifest({
      kernelVersion: '6.1.0-1-cloud-amd64',
      cmdline: 'console=ttyS0',
      nameParam: 'flotilla.name',
      machine: 'q35',
      console: 'vport',
      bios: 'qboot.rom',
      initrdCompression: 'none',
      kernelFormat: 'pvh-elf',
      packages: [],
      recipe,
      modules: [],
      vmlinuz: { sha256: 'a'.repeat(64), size: 1 },
      initrd: { sha256: 'b'.repeat(64), size: 2 },
    });
    await writeFile(join(dir, 'manifest.json'), serializeManifest(m));
  }

  it("keeps the user's own build unless an older recipe made it and the bundled copy is current", async () => {
    const current = currentRecipe();
    const older = 'f'.repeat(64);
    const cases: [own: string, bundled: string, winner: 'own' | 'bundled'][] = [
      [current, current, 'own'],
      [current, older, 'own'],
      [older, current, 'bundled'],
      [older, older, 'own'],
    ];
    for (const [ownRecipe, bundledRecipe, winner] of cases) {
      const home = await mkdtemp(join(tmpdir(), 'home-'));
      const bundled = await mkdtemp(join(tmpdir(), 'bundled-'));
      await completeGuest(join(home, 'images', 'default'), ownRecipe);
      await completeGuest(bundled, bundledRecipe);
      const r = await readDefaultGuest(home, { FLOTILLA_BUNDLED_GUEST: bundled });
      expect({ ownRecipe, bundledRecipe, dir: r.dir, ready: r.ready }).toEqual({ ownRecipe, bundledRecipe, dir: winner === 'own' ? join(home, 'images', 'default') : bundled, ready: true });
    }
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
