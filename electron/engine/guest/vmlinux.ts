// Turns Debian's compressed kernel (bzImage, LZ4 payload) into the plain ELF vmlinux inside it.
// QEMU boots such an ELF directly through its PVH entry point, which skips the guest-side
// decompressor — under TCG that decompression is emulated instruction by instruction and costs
// a large share of boot time (see bench/README.md).

const LZ4_LEGACY_MAGIC = 0x184c2102;

/** Decodes one LZ4 block (raw format, no frame) into out at outPos; returns the new outPos. */
function lz4Block(src: Buffer, start: number, end: number, out: Buffer, outPos: number): number {
  let ip = start;
  let op = outPos;
  while (ip < end) {
    const token = src[ip++]!;
    let lit = token >> 4;
    if (lit === 15) {
      let b: number;
      do {
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    src.copy(out, op, ip, ip + lit);
    ip += lit;
    op += lit;
    if (ip >= end) break; // the last sequence has literals only
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Error('corrupt LZ4 data: bad match offset');
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    // a match may overlap its own output (offset < len): it then repeats the last `offset`
    // bytes, so copy it in period-sized chunks, each of which reads only finished bytes
    if (offset < 8) {
      for (let i = 0; i < len; i++, op++) out[op] = out[op - offset]!;
      continue;
    }
    while (len > 0) {
      const n = Math.min(offset, len);
      out.copy(out, op, op - offset, op - offset + n);
      op += n;
      len -= n;
    }
  }
  return op;
}

/** Decompresses the LZ4 "legacy" stream the kernel build uses (lz4 -l), sized by the kernel's appended length. */
export function lz4LegacyDecompress(src: Buffer, expectedSize: number): Buffer {
  if (src.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) throw new Error('not an LZ4 legacy stream');
  const out = Buffer.alloc(expectedSize);
  let ip = 4;
  let op = 0;
  while (ip + 4 <= src.length && op < expectedSize) {
    const size = src.readUInt32LE(ip);
    if (size === LZ4_LEGACY_MAGIC) {
      ip += 4; // concatenated stream
      continue;
    }
    ip += 4;
    if (ip + size > src.length) break; // trailing appended size, not a block
    op = lz4Block(src, ip, ip + size, out, op);
    ip += size;
  }
  if (op !== expectedSize) throw new Error(`LZ4 stream gave ${op} bytes, expected ${expectedSize}`);
  return out;
}

/**
 * Extracts the ELF vmlinux from an x86 bzImage whose payload is LZ4-compressed (Debian's
 * CONFIG_KERNEL_LZ4). Returns null for any other format, so callers can keep the bzImage.
 */
export function extractVmlinux(bzImage: Buffer): Buffer | null {
  if (bzImage.length < 0x260 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS') return null;
  const setupSects = bzImage[0x1f1] || 4;
  const pmStart = (setupSects + 1) * 512;
  const payloadOffset = bzImage.readUInt32LE(0x248);
  const payloadLength = bzImage.readUInt32LE(0x24c);
  const payload = bzImage.subarray(pmStart + payloadOffset, pmStart + payloadOffset + payloadLength);
  if (payload.length < 8 || payload.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) return null;
  // the kernel build appends the decompressed size (little-endian u32) to every payload
  const size = payload.readUInt32LE(payload.length - 4);
  const elf = lz4LegacyDecompress(payload.subarray(0, payload.length - 4), size);
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error('bzImage payload is not an ELF vmlinux');
  return elf;
}

/** Whether an ELF vmlinux carries the Xen PVH entry note QEMU needs to boot it directly. */
export function hasPvhNote(elf: Buffer): boolean {
  // XEN_ELFNOTE_PHYS32_ENTRY = 18 in a note named "Xen"; look for it in PT_NOTE segments
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (elf.readUInt32LE(p) !== 4) continue;
    let off = Number(elf.readBigUInt64LE(p + 0x08));
    const end = off + Number(elf.readBigUInt64LE(p + 0x20));
    while (off + 12 <= end) {
      const namesz = elf.readUInt32LE(off);
      const descsz = elf.readUInt32LE(off + 4);
      const type = elf.readUInt32LE(off + 8);
      const name = elf.toString('latin1', off + 12, off + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && type === 18) return true;
      off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
    }
  }
  return false;
}
