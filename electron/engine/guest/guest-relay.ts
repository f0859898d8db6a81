// The default guest's console relay (assets/guest/relay.c, run by assets/guest/console): compiled
// at image-build time with the build host's gcc, static (the initramfs has only the libraries of
// the Debian programs, and a static binary needs none) and small (-Os, stripped). It replaced
// socat, which pulled ~8 MB of libraries (libssl, libcrypto, krb5, …) into the initramfs.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './deb-cache';

export const RELAY_SOURCE = 'relay.c';
/** where the console script finds it in the guest */
export const RELAY_GUEST_PATH = 'sbin/flotilla-relay';
/** fixed flags: part of the recipe fingerprint (guest-recipe.ts) */
export const RELAY_CFLAGS = ['-static', '-Os', '-s', '-std=gnu11', '-Wall'] as const;

/**
 * Compiles assets/guest/relay.c; resolves with the binary. `cc` is the compiler to run (tests pass
 * a missing one). The source is compiled from a fresh directory under a fixed name, so nothing of
 * the checkout's path ends up in the binary.
 */
export async function buildRelay(assetsDir: string, cc = 'gcc'): Promise<Buffer> {
  const work = await mkdtemp(join(tmpdir(), 'flotilla-relay-'));
  try {
    await writeFile(join(work, RELAY_SOURCE), await readFile(join(assetsDir, RELAY_SOURCE)));
    const r = await run(cc, [...RELAY_CFLAGS, '-o', 'flotilla-relay', RELAY_SOURCE], { cwd: work });
    if (r.code === 127) {
      throw new Error(`building the default guest needs a C compiler to build its console relay (${RELAY_SOURCE}), and \`${cc}\` was not found: install gcc and libc6-dev (apt-get install gcc libc6-dev), then build again`);
    }
    if (r.code !== 0) {
      const missingLibc = /stdio\.h|cannot find -lc|No such file/.test(r.stderr);
      throw new Error(
        `compiling the default guest's console relay (${RELAY_SOURCE}) failed${missingLibc ? ' (the C library headers or static libc are missing: install libc6-dev)' : ''}; install gcc and libc6-dev (apt-get install gcc libc6-dev), then build again. ${cc} said: ${r.stderr.trim().slice(-800)}`,
      );
    }
    return await readFile(join(work, 'flotilla-relay'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The compiler and C library the relay is built with, for the manifest: the binary is static, so
 * its bytes (and the initrd's checksum) depend on both, beside the package versions the manifest
 * lists. Debian's libc6-dev (libc.a) always has the running glibc's version.
 */
export async function relayToolchain(cc = 'gcc'): Promise<string> {
  const compiler = await run(cc, ['-dumpfullversion']);
  const libc = await run('getconf', ['GNU_LIBC_VERSION']);
  return `${cc} ${compiler.code === 0 ? compiler.stdout.trim() : 'version unknown'}, ${libc.code === 0 ? libc.stdout.trim() : 'C library unknown'}`;
}
