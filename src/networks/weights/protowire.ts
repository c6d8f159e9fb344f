/**
 * A streaming protobuf wire-format walker: visits the fields of a message without decoding it into
 * objects, so a 575 MB Caffe model is never turned into JS arrays of 143 M numbers. Packed float
 * payloads are returned as views; callers copy only what they keep.
 */
import { WeightFormatError } from './safetensors.js';

export interface Field {
  readonly number: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  readonly wire: number;
  /** Varint or fixed value (as a number; fine below 2^53). */
  readonly value: number;
  /** Payload of a length-delimited field. */
  readonly bytes: Uint8Array;
}

/** Visits the top-level fields of `buf`. @throws WeightFormatError on malformed or truncated data. */
export function* fields(buf: Uint8Array, what: string): Generator<Field> {
  let pos = 0;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new WeightFormatError(`${what}: protobuf data ends inside a number; the file is truncated`);
      const b = buf[pos++]!;
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new WeightFormatError(`${what}: malformed protobuf varint`);
  };
  const empty = new Uint8Array(0);
  while (pos < buf.length) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { number, wire, value: varint(), bytes: empty };
    else if (wire === 1) {
      if (pos + 8 > buf.length) throw new WeightFormatError(`${what}: protobuf data is truncated`);
      pos += 8;
      yield { number, wire, value: 0, bytes: buf.subarray(pos - 8, pos) };
    } else if (wire === 2) {
      const n = varint();
      if (pos + n > buf.length) throw new WeightFormatError(`${what}: a protobuf field of ${n} bytes runs past the end of the data; the file is truncated`);
      pos += n;
      yield { number, wire, value: n, bytes: buf.subarray(pos - n, pos) };
    } else if (wire === 5) {
      if (pos + 4 > buf.length) throw new WeightFormatError(`${what}: protobuf data is truncated`);
      pos += 4;
      yield { number, wire, value: 0, bytes: buf.subarray(pos - 4, pos) };
    } else throw new WeightFormatError(`${what}: not protobuf data (wire type ${wire} at byte ${pos})`);
  }
}

/** Decodes a packed repeated varint payload (e.g. BlobShape.dim). */
export function packedVarints(bytes: Uint8Array, what: string): number[] {
  const out: number[] = [];
  let v = 0;
  let mul = 1;
  for (const b of bytes) {
    v += (b & 0x7f) * mul;
    mul *= 128;
    if (!(b & 0x80)) {
      out.push(v);
      v = 0;
      mul = 1;
    }
  }
  if (mul !== 1) throw new WeightFormatError(`${what}: a packed number list ends inside a number; the file is truncated`);
  return out;
}

/** Copies a packed little-endian float32 payload into an aligned Float32Array. */
export function packedFloats(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}

export function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
