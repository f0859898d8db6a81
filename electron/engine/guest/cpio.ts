// Writes a "newc" cpio archive (the format the kernel unpacks as initramfs) deterministically:
// entries sorted by path, fixed inode numbers, owner root, one fixed mtime. The same input
// files therefore always give byte-identical archives, whatever the build host's clock or umask.

export type CpioEntry =
  | { path: string; type: 'dir'; mode: number }
  | { path: string; type: 'file'; mode: number; data: Buffer }
  | { path: string; type: 'symlink'; target: string }
  | { path: string; type: 'char'; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
/** 2000-01-01T00:00:00Z: any fixed instant will do; zero confuses some tools. */
export const CPIO_MTIME = 946684800;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function header(f: { ino: number; mode: number; nlink: number; size: number; rdevMajor: number; rdevMinor: number; nameSize: number }): Buffer {
  const fields = [f.ino, f.mode, 0, 0, f.nlink, CPIO_MTIME, f.size, 0, 0, f.rdevMajor, f.rdevMinor, f.nameSize, 0];
  return Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1');
}

/** Archive paths are relative ("bin/sh"), never absolute and never with "." or ".." parts. */
function checkPath(p: string): void {
  if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`bad archive path ${JSON.stringify(p)}`);
  }
}

export function writeCpio(entries: CpioEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const emit = (name: string, ino: number, mode: number, nlink: number, data: Buffer, rdevMajor = 0, rdevMinor = 0) => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8');
    push(header({ ino, mode, nlink, size: data.length, rdevMajor, rdevMinor, nameSize: nameBuf.length }));
    push(nameBuf);
    push(pad4(offset));
    push(data);
    push(pad4(offset));
  };
  let ino = 1;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    checkPath(e.path);
    if (i > 0 && sorted[i - 1]!.path === e.path) throw new Error(`duplicate archive path ${e.path}`);
    switch (e.type) {
      case 'dir':
        emit(e.path, ino++, S_IFDIR | (e.mode & 0o7777), 2, Buffer.alloc(0));
        break;
      case 'file':
        emit(e.path, ino++, S_IFREG | (e.mode & 0o7777), 1, e.data);
        break;
      case 'symlink':
        emit(e.path, ino++, S_IFLNK | 0o777, 1, Buffer.from(e.target, 'utf8'));
        break;
      case 'char':
        emit(e.path, ino++, S_IFCHR | (e.mode & 0o7777), 1, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  emit('TRAILER!!!', 0, 0, 1, Buffer.alloc(0));
  return Buffer.concat(parts);
}
