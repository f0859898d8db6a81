// Minimal ELF64 little-endian reader: just enough to learn what a guest binary needs
// (DT_NEEDED, PT_INTERP) and what a kernel module depends on (.modinfo `depends=`),
// without running host tools such as ldd or modinfo, whose answers would describe the host.

export interface ElfInfo {
  /** sonames from DT_NEEDED, in file order */
  needed: string[];
  /** the program interpreter (dynamic loader) path, if any */
  interp: string | null;
  /** this object's own DT_SONAME, if any */
  soname: string | null;
}

const PT_INTERP = 3;
const PT_DYNAMIC = 2;
const PT_LOAD = 1;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;

export function isElf(buf: Buffer): boolean {
  return buf.length > 64 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46;
}

function requireElf64(buf: Buffer, what: string): void {
  if (!isElf(buf)) throw new Error(`${what} is not an ELF file`);
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error(`${what} is not a 64-bit little-endian ELF file`);
}

function cstring(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end < 0 ? buf.length : end);
}

/** Reads the dynamic-linking facts of an executable or shared library. */
export function readElfDynamic(buf: Buffer, what = 'file'): ElfInfo {
  requireElf64(buf, what);
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  let interp: string | null = null;
  let dynOff = -1;
  let dynSize = 0;
  const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = buf.readUInt32LE(p);
    const offset = buf.readBigUInt64LE(p + 0x08);
    const vaddr = buf.readBigUInt64LE(p + 0x10);
    const filesz = buf.readBigUInt64LE(p + 0x20);
    if (type === PT_INTERP) interp = cstring(buf, Number(offset));
    if (type === PT_DYNAMIC) {
      dynOff = Number(offset);
      dynSize = Number(filesz);
    }
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
  }
  if (dynOff < 0) return { needed: [], interp, soname: null };
  // DT_STRTAB holds a virtual address; map it back to a file offset through the PT_LOAD segments.
  const toOffset = (addr: bigint): number => {
    for (const l of loads) if (addr >= l.vaddr && addr < l.vaddr + l.filesz) return Number(addr - l.vaddr + l.offset);
    throw new Error(`${what}: dynamic string table address is outside every loaded segment`);
  };
  const neededOffsets: bigint[] = [];
  let sonameOffset: bigint | null = null;
  let strtab: bigint | null = null;
  for (let d = dynOff; d + 16 <= dynOff + dynSize; d += 16) {
    const tag = buf.readBigInt64LE(d);
    const val = buf.readBigUInt64LE(d + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(val);
    else if (tag === DT_SONAME) sonameOffset = val;
    else if (tag === DT_STRTAB) strtab = val;
  }
  if (strtab === null) return { needed: [], interp, soname: null };
  const base = toOffset(strtab);
  return {
    needed: neededOffsets.map((o) => cstring(buf, base + Number(o))),
    interp,
    soname: sonameOffset === null ? null : cstring(buf, base + Number(sonameOffset)),
  };
}

/** Returns the raw bytes of the named section, or null when the file has none. */
export function readElfSection(buf: Buffer, name: string, what = 'file'): Buffer | null {
  requireElf64(buf, what);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  if (shoff === 0 || shnum === 0) return null;
  const header = (i: number) => {
    const s = shoff + i * shentsize;
    return { name: buf.readUInt32LE(s), offset: Number(buf.readBigUInt64LE(s + 0x18)), size: Number(buf.readBigUInt64LE(s + 0x20)) };
  };
  const names = header(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    if (cstring(buf, names.offset + h.name) === name) return buf.subarray(h.offset, h.offset + h.size);
  }
  return null;
}

/** Parses a kernel module's .modinfo section into key → values (keys such as `alias` repeat). */
export function readModinfo(ko: Buffer, what = 'module'): Map<string, string[]> {
  const section = readElfSection(ko, '.modinfo', what);
  const info = new Map<string, string[]>();
  if (!section) return info;
  for (const entry of section.toString('latin1').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const key = entry.slice(0, eq);
    const list = info.get(key) ?? [];
    list.push(entry.slice(eq + 1));
    info.set(key, list);
  }
  return info;
}
