// libvirt's screenshot API hands back QEMU's screendump: PNG from libvirt 9.0 with QEMU 7.2,
// PPM (P6) from older pairs; tiles show PNG. This turns a PPM into a PNG with Node's own zlib (deflate and CRC-32), the only PNG work needed here:
// no PNG library is a runtime dependency of the app. The PPM comes from a remote host and is
// parsed strictly (header shape, dimensions, exact length) before anything is encoded.
import { crc32, deflateSync } from 'node:zlib';

const MAX_PIXELS = 16_000_000;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

export function ppmToPng(ppm: Buffer): Buffer {
  // "P6" whitespace width whitespace height whitespace 255 one-whitespace, then RGB bytes
  const head = /^P6\s+(\d{1,5})\s+(\d{1,5})\s+(\d{1,3})\s/.exec(ppm.subarray(0, 64).toString('latin1'));
  if (!head) throw new Error('not a binary PPM screenshot');
  const [w, h, max] = [Number(head[1]), Number(head[2]), Number(head[3])];
  if (max !== 255 || w < 1 || h < 1 || w * h > MAX_PIXELS) throw new Error(`unsupported PPM ${w}x${h} max ${max}`);
  const off = head[0].length;
  if (ppm.length !== off + w * h * 3) throw new Error('PPM screenshot has the wrong length');
  // each PNG row: filter byte 0 then the RGB bytes
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) ppm.copy(raw, y * (w * 3 + 1) + 1, off + y * w * 3, off + (y + 1) * w * 3);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour RGB
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 3 })), chunk('IEND', Buffer.alloc(0))]);
}


/** A screenshot as PNG: PNG passes through (signature checked), PPM is converted, anything else refused. */
export function screenshotToPng(img: Buffer): Buffer {
  if (img.length > 8 && img.subarray(0, 8).equals(PNG_SIGNATURE)) return img;
  return ppmToPng(img);
}
