// The "before" of the boot-speed work, rebuilt and measured in the same run as the "after":
// the guest as first built (issue 7's hand-built baseline) — the distribution's compressed
// bzImage through SeaBIOS, a gzip initramfs, `quiet`, QEMU's default CPU model —
// with the same packages, init and agent. Only the boot path differs.
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDefaultGuest } from '../../electron/engine/guest/build-default';
import { DEFAULT_GUEST_PROFILE, GUEST_NAME_PARAM } from '../../electron/engine/guest/boot-profile';
import { bootOnce, stat, type Stat } from '../boot';

/** `dpkg-deb --fsys-tarfile deb | tar -x <members>` into dir, with argument arrays only. */
function extractMembers(deb: string, dir: string, pattern: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const dpkg = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tar = spawn('tar', ['-x', '-C', dir, '--wildcards', pattern], { stdio: ['pipe', 'inherit', 'inherit'] });
    dpkg.stdout!.pipe(tar.stdin!);
    dpkg.once('error', reject);
    tar.once('error', reject);
    tar.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code} extracting ${pattern} from ${deb}`))));
  });
}

export async function benchBootBefore(home: string, debCache: string, runs: number, log: (l: string) => void): Promise<Stat> {
  const dir = join(home, 'before-guest');
  await buildDefaultGuest({ home, cacheDir: debCache, outDir: dir, compression: 'gzip' });
  const kernelDeb = (await readdir(debCache)).find((f) => /^linux-image-\d.*-cloud-amd64_.*\.deb$/.test(f));
  if (!kernelDeb) throw new Error(`no linux-image-*-cloud-amd64 package in ${debCache}`);
  const x = join(home, 'before-kernel');
  await mkdir(x, { recursive: true });
  await extractMembers(join(debCache, kernelDeb), x, './boot/vmlinuz-*');
  const bz = (await readdir(join(x, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
  if (!bz) throw new Error(`${kernelDeb} has no /boot/vmlinuz-*`);
  await copyFile(join(x, 'boot', bz), join(dir, 'vmlinuz'));
  await rm(x, { recursive: true, force: true });
  const profile = { ...DEFAULT_GUEST_PROFILE, bios: null, cpu: null };
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ms = await bootOnce(dir, { profile, append: `console=hvc0 quiet ${GUEST_NAME_PARAM}=bench` });
    log(`before-boot run ${i + 1}: ${Math.round(ms)} ms`);
    out.push(Math.round(ms));
  }
  return stat(out);
}
