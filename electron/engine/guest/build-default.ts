// Builds the embedded default guest (<home>/images/default: vmlinuz, initrd.img, manifest.json)
// from Debian packages: the cloud kernel, busybox-static, qemu-guest-agent, dropbear, mke2fs and their
// shared libraries, all from their .debs, never from the host's /lib; plus the console relay, compiled
// here from assets/guest/relay.c (guest-relay.ts). The initramfs is written here (cpio.ts) so that the
// same package versions (and the same host gcc) always give a byte-identical initrd.img.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import { writeCpio, type CpioEntry } from './cpio';
import { DebCache, debControl, debExtract, debExtractMatching, parseDependsField, run, type FetchedDeb } from './deb-cache';
import { findGuestAssetsDir } from './guest-assets';
import { GUEST_FEATURES, makeManifest, parseManifest, serializeManifest, type GuestManifest } from './guest-manifest';
import { recipeFingerprint } from './guest-recipe';
import { resolveModules } from './kernel-modules';
import { extractVmlinux, hasPvhNote } from './vmlinux';
import { collectPrograms, GUEST_LOADER, GUEST_PROGRAMS } from './guest-programs';
import { buildRelay, RELAY_GUEST_PATH, relayToolchain } from './guest-relay';
import { DEFAULT_GUEST_CMDLINE, DEFAULT_GUEST_PROFILE, GUEST_NAME_PARAM } from './boot-profile';

export type { GuestManifest } from './guest-manifest';

export interface BuildDefaultGuestOptions {
  home: string;
  cacheDir?: string;
  outDir?: string;
  onProgress?: (msg: string, percent: number | null) => void;
  /** initramfs compression; 'none' boots faster under TCG (see bench/README.md) */
  compression?: 'none' | 'gzip';
}

const KERNEL_META = 'linux-image-cloud-amd64';
const BUSYBOX = 'busybox-static';
const LIBDIR = 'lib/x86_64-linux-gnu';
/** The parts of the kernel package the guest can need (its modules' dependencies stay in these dirs). */
const KERNEL_MEMBERS = [
  './boot/vmlinuz-*',
  './lib/modules/*/modules.builtin',
  './lib/modules/*/kernel/drivers/virtio/*',
  './lib/modules/*/kernel/drivers/char/*',
  './lib/modules/*/kernel/drivers/net/*',
  './lib/modules/*/kernel/drivers/block/*',
  './lib/modules/*/kernel/drivers/acpi/*',
  './lib/modules/*/kernel/drivers/input/*',
  './lib/modules/*/kernel/net/core/*',
  './lib/modules/*/kernel/drivers/firmware/*',
  './lib/modules/*/kernel/fs/fuse/*',
];

/**
 * Module groups loaded by /init, in this order. "pci"/"mmio": the virtio transport (one of them is
 * loaded, by what the machine has); "agent": what qemu-ga needs; then the rest.
 */
export const MODULE_GROUPS: readonly { group: string; modules: string[] }[] = [
  { group: 'pci', modules: ['virtio_pci'] },
  { group: 'mmio', modules: ['virtio_mmio'] },
  { group: 'agent', modules: ['virtio_console'] },
  // the host's entropy through the engine's virtio-rng device: without it (no RDRAND, as under
  // QEMU's default CPU model, and no UART interrupts) the kernel's RNG can take seconds to be
  // ready, and reads of /dev/urandom wait for it
  { group: 'rng', modules: ['virtio_rng'] },
  { group: 'net', modules: ['virtio_net'] },
  { group: 'power', modules: ['button', 'evdev'] },
  { group: 'extra', modules: ['virtio_blk'] },
  // /sys/firmware/qemu_fw_cfg: how the engine passes per-VM files (the SSH authorized keys) at boot
  { group: 'fwcfg', modules: ['qemu_fw_cfg'] },
  // shared folders (virtio-fs): loaded only when the engine passes a list of shares
  { group: 'virtiofs', modules: ['fuse', 'virtiofs'] },
];

export function isLibraryPackage(name: string): boolean {
  return /^(lib|zlib)/.test(name);
}

export function defaultGuestDir(home: string): string {
  return join(home, 'images', 'default');
}

export function defaultDebCacheDir(home: string): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg ? join(xdg, 'flotilla', 'debs') : join(home, 'cache', 'debs');
}

/**
 * Whether a usable default guest is present and complete. Never throws for a missing or broken one.
 * The user's own build in `<home>/images/default` wins, unless an older recipe built it and a
 * packaged app's bundled copy (FLOTILLA_BUNDLED_GUEST, set by the Electron shell to
 * `<resources>/default-guest`) is current: an app update then brings its guest (boot-time
 * settings, relay fixes) to users who once built their own. Each VM's disk is its own, so the
 * switch loses nothing. With no usable own build, a complete bundled copy is used as is.
 */
export async function readDefaultGuest(home: string, env: NodeJS.ProcessEnv = process.env): Promise<DefaultGuestState> {
  const own = await readGuestDir(defaultGuestDir(home));
  if ((own.ready && !own.stale) || !env.FLOTILLA_BUNDLED_GUEST) return own;
  const bundled = await readGuestDir(env.FLOTILLA_BUNDLED_GUEST);
  return bundled.ready && (!own.ready || !bundled.stale) ? bundled : own;
}

/**
 * `ready`: complete and bootable. `stale`: built from another recipe than this checkout's
 * (guest-recipe.ts) — it boots as its manifest says, but a build replaces it and tests never use it.
 */
export interface DefaultGuestState {
  ready: boolean;
  stale: boolean;
  dir: string;
  manifest: GuestManifest | null;
}

/** This checkout's recipe fingerprint, for the default build settings. */
export function currentRecipe(compression: 'none' | 'gzip' = 'none'): string {
  return recipeFingerprint({ kernelMembers: KERNEL_MEMBERS, moduleGroups: MODULE_GROUPS, compression });
}

async function readGuestDir(dir: string): Promise<DefaultGuestState> {
  let manifest: GuestManifest;
  try {
    manifest = parseManifest(await readFile(join(dir, 'manifest.json'), 'utf8'), join(dir, 'manifest.json'));
  } catch {
    return { ready: false, stale: false, dir, manifest: null };
  }
  let stale: boolean;
  try {
    stale = manifest.recipe !== currentRecipe(manifest.initrdCompression);
  } catch {
    stale = false; // no recipe to compare with (assets not found): nothing says it is old
  }
  for (const [file, want] of Object.entries(manifest.files)) {
    const s = await stat(join(dir, file)).catch(() => null);
    if (!s || s.size !== want.size) return { ready: false, stale, dir, manifest };
  }
  return { ready: true, stale, dir, manifest };
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** All busybox applet names, asked from the guest's own busybox (static x86-64, runs on the build host). */
async function busyboxApplets(busybox: string): Promise<string[] | null> {
  const r = await run(busybox, ['--list']);
  if (r.code !== 0) return null;
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z0-9_.[\]-]+$/.test(s) && s !== 'busybox');
}

export async function buildDefaultGuest(opts: BuildDefaultGuestOptions): Promise<{ dir: string; manifest: GuestManifest }> {
  const progress = opts.onProgress ?? (() => {});
  const outDir = opts.outDir ?? defaultGuestDir(opts.home);
  const cache = new DebCache(opts.cacheDir ?? defaultDebCacheDir(opts.home), (m) => progress(m, null));
  const compression = opts.compression ?? 'none';

  // first, before any download: a host without gcc fails here, at once, saying what to install
  progress('compiling the console relay', 0);
  const relay = await buildRelay(findGuestAssetsDir());
  const toolchain = await relayToolchain();
  progress('resolving packages', 0);
  const programPkgs = [...new Set(GUEST_PROGRAMS.map((p) => p.pkg))];
  const [meta, busybox, ...programDebs] = await cache.fetch([KERNEL_META, BUSYBOX, ...programPkgs]);
  const kernelPkgName = parseDependsField((await debControl(meta!.file)).get('Depends') ?? '').find((d) => /^linux-image-.*-cloud-amd64$/.test(d));
  if (!kernelPkgName) throw new Error(`${KERNEL_META} does not depend on a linux-image-*-cloud-amd64 package`);

  await mkdir(dirname(outDir), { recursive: true });
  const work = await mkdtemp(join(dirname(outDir), '.build-default-'));
  try {
    const kroot = join(work, 'kernel');
    const broot = join(work, 'busybox');
    const aroot = join(work, 'agent');
    // the kernel (big download, big unpack) proceeds while the agent's library closure is resolved
    const kernelTask = (async () => {
      progress(`fetching ${kernelPkgName}`, 10);
      const [k] = await cache.fetch([kernelPkgName]);
      await mkdir(kroot);
      await debExtractMatching(k!.file, kroot, KERNEL_MEMBERS);
      return k!;
    })();
    const agentTask = (async () => {
      // the programs' library packages: Depends/Pre-Depends closure, one apt round trip per level
      const debs: FetchedDeb[] = [...programDebs];
      const seen = new Set<string>(programPkgs);
      let frontier: FetchedDeb[] = [...programDebs];
      while (frontier.length) {
        const next = new Set<string>();
        for (const deb of frontier) {
          const ctl = await debControl(deb.file);
          for (const dep of parseDependsField([ctl.get('Pre-Depends'), ctl.get('Depends')].filter(Boolean).join(','))) {
            // only shared-library packages (Debian names them lib*/zlib*); the rest (init-system-helpers,
            // usrmerge → perl …) are for installing on a full system, not for running the programs
            if (!seen.has(dep) && isLibraryPackage(dep)) next.add(dep);
          }
        }
        const names = [...next].sort();
        names.forEach((n) => seen.add(n));
        if (names.length) progress(`fetching ${names.join(', ')}`, 20);
        frontier = names.length ? await cache.fetch(names) : [];
        debs.push(...frontier);
      }
      for (const d of debs) await debExtract(d.file, aroot);
      return debs;
    })();
    const [kernelPkg, agentDebs] = await Promise.all([kernelTask, agentTask, debExtract(busybox!.file, broot)]);
    progress('packages unpacked', 40);

    const kernelVersions = await readdir(join(kroot, 'lib/modules')).catch(() => [] as string[]);
    if (kernelVersions.length !== 1) throw new Error(`${kernelPkg!.name} should hold exactly one lib/modules/<version>, found ${kernelVersions.join(', ') || 'none'}`);
    const kernelVersion = kernelVersions[0]!;
    const bzImage = await readFile(join(kroot, 'boot', `vmlinuz-${kernelVersion}`));
    // boot the plain ELF through PVH when we can: skips the guest-side decompressor (slow under TCG)
    progress('extracting vmlinux', 50);
    const elf = extractVmlinux(bzImage);
    const pvh = elf !== null && hasPvhNote(elf);
    const vmlinuz = pvh ? elf : bzImage;

    progress('collecting modules and libraries', 55);
    const moduleLines: string[] = [];
    const moduleFiles = new Map<string, Buffer>();
    const collectModules = async () => {
      moduleLines.length = 0;
      moduleFiles.clear();
      for (const g of MODULE_GROUPS) {
        for (const m of await resolveModules(kroot, kernelVersion, g.modules)) {
          moduleLines.push(`${g.group} ${m.name}`);
          if (!moduleFiles.has(m.name)) moduleFiles.set(m.name, await readFile(join(kroot, m.path)));
        }
      }
    };
    try {
      await collectModules();
    } catch {
      // a dependency outside the directories we unpacked (another kernel layout): unpack everything
      await debExtract(kernelPkg!.file, kroot);
      await collectModules();
    }
    const { programs, libs } = await collectPrograms(aroot, GUEST_PROGRAMS);
    const busyboxPath = join(broot, 'bin/busybox');
    const busyboxBin = await readFile(busyboxPath);
    const applets = await busyboxApplets(busyboxPath);

    progress('writing initramfs', 70);
    const assets = findGuestAssetsDir();
    const asset = (name: string) => readFile(join(assets, name));
    const entries: CpioEntry[] = [];
    const dir = (path: string, mode = 0o755) => entries.push({ path, type: 'dir', mode });
    const file = (path: string, data: Buffer, mode = 0o644) => entries.push({ path, type: 'file', mode, data });
    const link = (path: string, target: string) => entries.push({ path, type: 'symlink', target });
    for (const d of ['bin', 'dev', 'etc', 'etc/acpi', 'etc/acpi/PWRF', 'etc/flotilla', 'lib', 'lib/modules', LIBDIR, 'lib64', 'mnt', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'usr/bin', 'usr/sbin', 'var', 'var/log']) dir(d);
    dir('tmp', 0o1777);
    link('var/run', '../run');
    link('var/tmp', '../tmp');
    entries.push({ path: 'dev/console', type: 'char', mode: 0o600, major: 5, minor: 1 });
    file('init', await asset('init'), 0o755);
    file('bin/busybox', busyboxBin, 0o755);
    for (const a of applets ?? ['sh']) if (a !== 'init') link(`bin/${a}`, 'busybox');
    link('sbin/init', '../bin/busybox');
    file('sbin/shutdown', await asset('shutdown'), 0o755);
    file('sbin/flotilla-halt', await asset('halt'), 0o755);
    file('etc/inittab', await asset('inittab'));
    file('etc/profile', await asset('profile'));
    file('etc/acpi/PWRF/00000080', await asset('power-button'), 0o755);
    file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\n'));
    file('etc/group', Buffer.from('root:x:0:\ntty:x:5:\n'));
    file('etc/flotilla/modules', Buffer.from(`${moduleLines.join('\n')}\n`));
    for (const [name, data] of moduleFiles) file(`lib/modules/${name}.ko`, data);
    for (const [path, data] of programs) file(path, data, 0o755);
    file('sbin/flotilla-console', await asset('console'), 0o755);
    file('etc/flotilla/dhcp', await asset('dhcp'), 0o755);
    file(RELAY_GUEST_PATH, relay, 0o755);
    for (const [soname, data] of libs) file(`${LIBDIR}/${soname}`, data, 0o755);
    link(`lib64/${GUEST_LOADER}`, `../${LIBDIR}/${GUEST_LOADER}`);
    if (!applets) progress('could not list busybox applets on this host; the guest installs them at boot', null);

    const cpio = writeCpio(entries);
    // gzip with fixed settings; Node's zlib writes mtime 0 and a fixed OS byte, so output is stable
    const initrd = compression === 'gzip' ? gzipSync(cpio, { level: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY }) : cpio;

    const manifest = makeManifest({
      kernelVersion,
      cmdline: DEFAULT_GUEST_CMDLINE.join(' '),
      bios: DEFAULT_GUEST_PROFILE.bios,
      nameParam: GUEST_NAME_PARAM,
      machine: DEFAULT_GUEST_PROFILE.machine,
      console: DEFAULT_GUEST_PROFILE.console,
      dhcp: GUEST_FEATURES.dhcp,
      initrdCompression: compression,
      kernelFormat: pvh ? 'pvh-elf' : 'bzimage',
      packages: [meta!, kernelPkg!, busybox!, ...agentDebs],
      recipe: currentRecipe(compression),
      modules: [...moduleFiles.keys()],
      relayToolchain: toolchain,
      vmlinuz: { sha256: sha256(vmlinuz), size: vmlinuz.length },
      initrd: { sha256: sha256(initrd), size: initrd.length },
      ...(pvh ? { bzImage: { sha256: sha256(bzImage), size: bzImage.length } } : {}),
    });

    progress('installing', 90);
    const stage = join(work, 'out');
    await mkdir(stage);
    await writeFile(join(stage, 'vmlinuz'), vmlinuz);
    await writeFile(join(stage, 'initrd.img'), initrd);
    if (pvh) await writeFile(join(stage, 'bzImage'), bzImage);
    await writeFile(join(stage, 'manifest.json'), serializeManifest(manifest));
    await chmod(stage, 0o755);
    // swap in atomically-ish: the old guest (if any) moves aside, the new one takes its name
    const old = join(work, 'previous');
    const hadOld = await stat(outDir).then(() => true, () => false);
    if (hadOld) await rename(outDir, old);
    try {
      await rename(stage, outDir);
    } catch (e) {
      if (hadOld) await rename(old, outDir);
      throw e;
    }
    progress('done', 100);
    return { dir: outDir, manifest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
