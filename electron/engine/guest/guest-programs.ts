// The ELF programs the default guest runs besides busybox, taken from their Debian packages with
// every shared library they need (found by ELF DT_NEEDED in the unpacked library packages, never
// on the build host). One closure for all of them, so a library two programs share is copied once.
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isElf, readElfDynamic } from './elf';

export interface GuestProgram {
  /** the Debian package that ships it */
  pkg: string;
  /** its path inside the package */
  from: string;
  /** its path in the initramfs */
  to: string;
}

export const GUEST_PROGRAMS: readonly GuestProgram[] = [
  { pkg: 'qemu-guest-agent', from: 'usr/sbin/qemu-ga', to: 'usr/sbin/qemu-ga' },
  // the persistent /root: ext4 (journalled, so a killed VM keeps a consistent disk) on the VM's own
  // disk, made on first boot; busybox's mke2fs makes only ext2
  { pkg: 'e2fsprogs', from: 'sbin/mke2fs', to: 'usr/sbin/mke2fs' },
  // the SSH server and the tool that makes its per-VM host key on first boot
  { pkg: 'dropbear-bin', from: 'usr/sbin/dropbear', to: 'usr/sbin/dropbear' },
  { pkg: 'dropbear-bin', from: 'usr/bin/dropbearkey', to: 'usr/bin/dropbearkey' },
];

export const GUEST_LOADER = 'ld-linux-x86-64.so.2';
const LIB_SEARCH = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu', 'lib', 'usr/lib'];

/** Follows symlinks inside an unpacked package tree (targets resolved against the tree, not the host). */
export async function readInTree(root: string, path: string, depth = 0): Promise<{ path: string; data: Buffer } | null> {
  if (depth > 16) return null;
  const full = join(root, path);
  const st = await lstat(full).catch(() => null);
  if (!st) return null;
  if (st.isSymbolicLink()) {
    const target = await readlink(full);
    const next = target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(path), target);
    return readInTree(root, posix.normalize(next), depth + 1);
  }
  return { path, data: await readFile(full) };
}

/** Reads each program from the unpacked tree and resolves the shared objects they need, loader first. */
export async function collectPrograms(root: string, programs: readonly GuestProgram[]): Promise<{ programs: Map<string, Buffer>; libs: Map<string, Buffer> }> {
  const out = new Map<string, Buffer>();
  const libs = new Map<string, Buffer>();
  const queue: { what: string; data: Buffer }[] = [];
  const wanted: string[] = [];
  for (const p of programs) {
    const f = await readInTree(root, p.from);
    if (!f) throw new Error(`package ${p.pkg} has no ${p.from}`);
    out.set(p.to, f.data);
    const info = readElfDynamic(f.data, p.from);
    wanted.push(posix.basename(info.interp ?? `/lib64/${GUEST_LOADER}`));
    queue.push({ what: p.from, data: f.data });
  }
  while (queue.length || wanted.length) {
    const next = queue.shift();
    if (next) wanted.push(...readElfDynamic(next.data, next.what).needed);
    const soname = wanted.shift();
    if (!soname || libs.has(soname)) continue;
    let found: Buffer | null = null;
    for (const dir of LIB_SEARCH) {
      const f = await readInTree(root, `${dir}/${soname}`);
      if (f && isElf(f.data)) {
        found = f.data;
        break;
      }
    }
    if (!found) throw new Error(`${next?.what ?? 'a guest program'} needs ${soname}, which none of the unpacked packages provides`);
    libs.set(soname, found);
    queue.push({ what: soname, data: found });
  }
  return { programs: out, libs };
}
