// The console relay is compiled from assets/guest/relay.c with the host's gcc when the default
// guest is built: a static binary (the initramfs carries no libc for it), the same bytes each
// time, and a build host without a compiler is told what to install.
import { describe, expect, it } from 'vitest';
import { isElf, readElfDynamic } from './elf';
import { findGuestAssetsDir } from './guest-assets';
import { buildRelay, relayToolchain } from './guest-relay';

describe('console relay build', () => {
  it('compiles relay.c into a static x86-64 program, the same bytes every time', async () => {
    const assets = findGuestAssetsDir();
    const bin = await buildRelay(assets);
    expect(isElf(bin)).toBe(true);
    const info = readElfDynamic(bin, 'flotilla-relay');
    expect(info.interp).toBeNull();
    expect(info.needed).toEqual([]);
    expect(bin.length).toBeLessThan(2 * 1024 * 1024);
    expect((await buildRelay(assets)).equals(bin)).toBe(true);
  }, 60_000);

  it('names the compiler and C library it was built with, for the manifest', async () => {
    expect(await relayToolchain()).toMatch(/^gcc \d+\.\d+\.\d+, glibc \d+\.\d+/);
    expect(await relayToolchain('flotilla-no-such-gcc')).toMatch(/^flotilla-no-such-gcc version unknown, /);
  });

  it('without a compiler, says to install gcc and libc6-dev', async () => {
    await expect(buildRelay(findGuestAssetsDir(), 'flotilla-no-such-gcc')).rejects.toThrow(/`flotilla-no-such-gcc` was not found: install gcc and libc6-dev/);
  });
});
