/**
 * safetensors (huggingface/safetensors format): an 8-byte little-endian header length n, n bytes of
 * JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the raw
 * little-endian tensor bytes; offsets are relative to the end of the header.
 *
 * Reader and writer work on whole buffers; the reader returns float32 copies of F32/F16/BF16/F64
 * tensors and checks every offset against the file's size, so a truncated file is reported, not
 * read past.
 */
import { EXIT_CODES } from '../../errors.js';

/** A tensor read from or written to a safetensors file, float32, row-major. */
export interface NamedTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A decoding failure: what was expected and what the file holds. */
export class WeightFormatError extends Error {
  override name = 'WeightFormatError';
  readonly exitCode: number = EXIT_CODES.input;
}

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** IEEE 754 half-precision bits → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** True when `buf` starts like a safetensors file (a plausible header length, then `{`). */
export function looksLikeSafetensors(buf: Uint8Array): boolean {
  if (buf.length < 10) return false;
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  return n > 1 && n < 100_000_000 && buf[8] === 0x7b;
}

/**
 * Parses a safetensors buffer.
 * @param what the file name, for messages.
 * @returns the tensors by name and the `__metadata__` strings.
 * @throws WeightFormatError on a bad header, an unsupported dtype, or data past the end of the file.
 */
export function readSafetensors(buf: Uint8Array, what: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new WeightFormatError(`${what}: expected a safetensors file, but it is only ${buf.length} bytes long`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > buf.length) {
    throw new WeightFormatError(`${what}: the safetensors header says ${n} bytes of JSON but the file has ${buf.length - 8} after the length; the file is truncated or not safetensors`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch {
    throw new WeightFormatError(`${what}: the safetensors header is not valid JSON; the file is corrupt or not safetensors`);
  }
  const base = 8 + n;
  const tensors = new Map<string, NamedTensor>();
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new WeightFormatError(`${what}: the safetensors header is not a JSON object; the file is corrupt or not safetensors`);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  if (typeof metadata !== 'object' || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) {
    throw new WeightFormatError(`${what}: the safetensors __metadata__ must map names to strings`);
  }
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (!info || typeof info !== 'object' || Array.isArray(info)) {
      throw new WeightFormatError(`${what}: header entry '${name}' is ${JSON.stringify(info)}; expected {dtype, shape, data_offsets}`);
    }
    const { dtype, shape, data_offsets } = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
    const width = typeof dtype === 'string' ? DTYPE_BYTES[dtype] : undefined;
    if (!width) throw new WeightFormatError(`${what}: tensor '${name}' has dtype ${JSON.stringify(dtype)}; expected F32, F16, BF16 or F64`);
    const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every(isCount)) {
      throw new WeightFormatError(`${what}: tensor '${name}' has shape ${JSON.stringify(shape)}; expected a list of at most 8 non-negative integers`);
    }
    if (!Array.isArray(data_offsets) || data_offsets.length !== 2 || !data_offsets.every(isCount) || data_offsets[0] > data_offsets[1]) {
      throw new WeightFormatError(`${what}: tensor '${name}' has data_offsets ${JSON.stringify(data_offsets)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const count = (shape as number[]).reduce((a, d) => a * d, 1);
    const [begin, end] = data_offsets as [number, number];
    if (end - begin !== count * width) {
      throw new WeightFormatError(`${what}: tensor '${name}' of shape [${shape}] ${dtype} needs ${count * width} bytes but its offsets span ${end - begin}`);
    }
    if (base + end > buf.length) {
      throw new WeightFormatError(`${what}: tensor '${name}' ends at byte ${base + end} but the file has ${buf.length} bytes; the file is truncated`);
    }
    const bytes = buf.subarray(base + begin, base + end);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = new Float32Array(count);
    if (dtype === 'F32') {
      new Uint8Array(data.buffer).set(bytes);
    } else {
      for (let i = 0; i < count; i++) {
        data[i] = dtype === 'F64' ? view.getFloat64(i * 8, true)
          : dtype === 'F16' ? halfToFloat(view.getUint16(i * 2, true))
            : new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!;
      }
    }
    tensors.set(name, { data, shape: shape as number[] });
  }
  return { tensors, metadata };
}

/** Serialises float32 tensors (in the given order) to a safetensors buffer. */
export function writeSafetensors(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // space-padded: data 8-byte aligned
  head.set(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}
