/**
 * A minimal ZIP reader over a whole-file buffer: the end-of-central-directory record (with ZIP64),
 * the central directory, and each entry's data (stored, or deflated through node:zlib). PyTorch
 * writes its zip checkpoints stored and 64-byte aligned, so reading is a view, not a copy.
 */
import { inflateRawSync } from 'node:zlib';
import { WeightFormatError } from './safetensors.js';
import { MAX_DEFLATE_RATIO, MAX_WEIGHT_FILE_BYTES } from './limits.js';

export interface ZipEntry {
  readonly name: string;
  /** The entry's bytes (a view into the buffer when stored). */
  data(): Uint8Array;
}

/** Lists a ZIP archive's entries. @throws WeightFormatError for a truncated or malformed archive. */
export function readZip(buf: Uint8Array, what: string): Map<string, ZipEntry> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65557); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new WeightFormatError(`${what}: the zip archive has no central directory; the file is truncated or corrupt`);
  let count = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw new WeightFormatError(`${what}: malformed ZIP64 archive`);
    const z64 = Number(dv.getBigUint64(loc + 8, true));
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOffset = Number(dv.getBigUint64(z64 + 48, true));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  let declared = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== 0x02014b50) throw new WeightFormatError(`${what}: malformed zip central directory`);
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true);
    let usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true);
    const xlen = dv.getUint16(p + 30, true);
    const clen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nlen));
    // ZIP64 extra field: replaces the 0xffffffff values in order usize, csize, local offset.
    for (let x = p + 46 + nlen; x < p + 46 + nlen + xlen;) {
      const id = dv.getUint16(x, true);
      const size = dv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (local === 0xffffffff) { local = Number(dv.getBigUint64(q, true)); }
      }
      x += 4 + size;
    }
    if (method === 8 && usize > csize * MAX_DEFLATE_RATIO + 1024) {
      throw new WeightFormatError(`${what}: zip entry ${name} declares ${usize} bytes from ${csize} compressed, more than deflate can expand (${MAX_DEFLATE_RATIO}:1); the file is corrupt or crafted`);
    }
    if (method === 0 && usize !== csize) throw new WeightFormatError(`${what}: stored zip entry ${name} declares ${usize} bytes but holds ${csize}; the file is corrupt`);
    declared += usize;
    if (declared > MAX_WEIGHT_FILE_BYTES) {
      throw new WeightFormatError(`${what}: the zip entries declare ${declared} bytes in all, more than the ${MAX_WEIGHT_FILE_BYTES} a VGG weight file can hold; the file is corrupt or crafted`);
    }
    p += 46 + nlen + xlen + clen;
    entries.set(name, {
      name,
      data: () => {
        if (local + 30 > buf.length || dv.getUint32(local, true) !== 0x04034b50) throw new WeightFormatError(`${what}: zip entry ${name} is missing; the file is truncated`);
        const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
        if (start + csize > buf.length) throw new WeightFormatError(`${what}: zip entry ${name} runs past the end of the file; the file is truncated`);
        const raw = buf.subarray(start, start + csize);
        if (method === 0) return raw;
        if (method === 8) {
          // Inflation stops one byte past the declared size: a zip bomb costs no more memory than
          // its honest declaration, which the caller has already checked against the file.
          let out: Uint8Array;
          try {
            out = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, usize + 1) }));
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ERR_BUFFER_TOO_LARGE') throw new WeightFormatError(`${what}: zip entry ${name} inflates past its declared ${usize} bytes; the file is corrupt or crafted`);
            throw new WeightFormatError(`${what}: zip entry ${name} does not inflate (${(err as Error).message}); the file is corrupt`);
          }
          if (out.length !== usize) throw new WeightFormatError(`${what}: zip entry ${name} inflates to ${out.length} bytes, expected ${usize}; the file is corrupt`);
          return out;
        }
        throw new WeightFormatError(`${what}: zip entry ${name} uses compression method ${method}; expected stored or deflate`);
      },
    });
  }
  return entries;
}
