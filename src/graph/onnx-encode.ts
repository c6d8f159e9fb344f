/**
 * Writes ONNX ModelProto bytes from a plain object, with a field table for the subset of
 * onnx/onnx.proto (IR version 8) that Impasto's graphs use, and no code generation.
 *
 * protobufjs (onnx-proto.ts) builds its encoders with `new Function`, which a page's Content
 * Security Policy rightly forbids (no 'unsafe-eval'); the browser runs this encoder instead, and so
 * does Node, so that both engines load the same bytes. onnx-proto.ts keeps the schema text for
 * decoding (the ONNX weight loader) and for the test that checks this encoder against it.
 *
 * Wire format (protobuf encoding spec): each field is a key `(number << 3) | wireType` as a varint,
 * then its value: varint (0) for int32/int64/enum, 64-bit little-endian (1) for double, length-
 * delimited (2) for string, bytes, messages and packed repeated numbers, 32-bit little-endian (5)
 * for float. Negative integers are sign-extended to 64 bits (10 bytes), as protobuf requires.
 * Repeated fields are written in order; proto2 scalars are unpacked unless the schema says
 * `packed`. Fields are written in field-number order; absent (undefined or null) fields are skipped.
 *
 * Sizes are computed first, so the model is written into one buffer of the exact length.
 */

/** ONNX TensorProto.DataType codes used by Impasto. */
export const TensorDataType = { FLOAT: 1, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** ONNX AttributeProto.AttributeType codes. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

type Scalar = 'int64' | 'int32' | 'enum' | 'float' | 'double' | 'string' | 'bytes';

interface Field {
  readonly n: number;
  /** A scalar type, or the name of a message in {@link MESSAGES}. */
  readonly type: Scalar | string;
  readonly repeated?: boolean;
  readonly packed?: boolean;
}

type Message = Readonly<Record<string, Field>>;

/** A message's fields in field-number order (the order protobuf writers use, protobufjs included). */
function ordered(m: Message): [string, Field][] {
  return Object.entries(m).sort((a, b) => a[1].n - b[1].n);
}

/** The messages, field numbers and types as in onnx.proto (and onnx-proto.ts's SCHEMA). */
const MESSAGES: Readonly<Record<string, Message>> = {
  ModelProto: {
    ir_version: { n: 1, type: 'int64' }, opset_import: { n: 8, type: 'OperatorSetIdProto', repeated: true },
    producer_name: { n: 2, type: 'string' }, producer_version: { n: 3, type: 'string' }, domain: { n: 4, type: 'string' },
    model_version: { n: 5, type: 'int64' }, doc_string: { n: 6, type: 'string' }, graph: { n: 7, type: 'GraphProto' },
  },
  OperatorSetIdProto: { domain: { n: 1, type: 'string' }, version: { n: 2, type: 'int64' } },
  GraphProto: {
    node: { n: 1, type: 'NodeProto', repeated: true }, name: { n: 2, type: 'string' }, initializer: { n: 5, type: 'TensorProto', repeated: true },
    doc_string: { n: 10, type: 'string' }, input: { n: 11, type: 'ValueInfoProto', repeated: true },
    output: { n: 12, type: 'ValueInfoProto', repeated: true }, value_info: { n: 13, type: 'ValueInfoProto', repeated: true },
  },
  NodeProto: {
    input: { n: 1, type: 'string', repeated: true }, output: { n: 2, type: 'string', repeated: true }, name: { n: 3, type: 'string' },
    op_type: { n: 4, type: 'string' }, domain: { n: 7, type: 'string' }, attribute: { n: 5, type: 'AttributeProto', repeated: true },
    doc_string: { n: 6, type: 'string' },
  },
  AttributeProto: {
    name: { n: 1, type: 'string' }, f: { n: 2, type: 'float' }, i: { n: 3, type: 'int64' }, s: { n: 4, type: 'bytes' },
    t: { n: 5, type: 'TensorProto' }, floats: { n: 7, type: 'float', repeated: true }, ints: { n: 8, type: 'int64', repeated: true },
    strings: { n: 9, type: 'bytes', repeated: true }, type: { n: 20, type: 'enum' },
  },
  TensorProto: {
    dims: { n: 1, type: 'int64', repeated: true }, data_type: { n: 2, type: 'int32' }, float_data: { n: 4, type: 'float', repeated: true, packed: true },
    int64_data: { n: 7, type: 'int64', repeated: true, packed: true }, name: { n: 8, type: 'string' }, raw_data: { n: 9, type: 'bytes' },
    double_data: { n: 10, type: 'double', repeated: true, packed: true }, doc_string: { n: 12, type: 'string' },
    external_data: { n: 13, type: 'StringStringEntryProto', repeated: true }, data_location: { n: 14, type: 'int32' },
  },
  StringStringEntryProto: { key: { n: 1, type: 'string' }, value: { n: 2, type: 'string' } },
  ValueInfoProto: { name: { n: 1, type: 'string' }, type: { n: 2, type: 'TypeProto' }, doc_string: { n: 3, type: 'string' } },
  TypeProto: { tensor_type: { n: 1, type: 'TypeProto.Tensor' } },
  'TypeProto.Tensor': { elem_type: { n: 1, type: 'int32' }, shape: { n: 2, type: 'TensorShapeProto' } },
  TensorShapeProto: { dim: { n: 1, type: 'TensorShapeProto.Dimension', repeated: true } },
  'TensorShapeProto.Dimension': { dim_value: { n: 1, type: 'int64' }, dim_param: { n: 2, type: 'string' } },
};

const ORDERED: Readonly<Record<string, [string, Field][]>> = Object.fromEntries(Object.entries(MESSAGES).map(([k, m]) => [k, ordered(m)]));

const WIRE: Readonly<Record<Scalar, number>> = { int64: 0, int32: 0, enum: 0, float: 5, double: 1, string: 2, bytes: 2 };
const utf8 = new TextEncoder();

function fail(path: string, expected: string, v: unknown): never {
  throw new Error(`internal error: built ONNX model does not fit the schema: ${path}: expected ${expected}, received ${typeof v === 'object' ? Object.prototype.toString.call(v) : JSON.stringify(v)}`);
}

/** An integer field's value as a 64-bit two's-complement bigint. */
function int64Of(v: unknown, path: string): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt.asUintN(64, BigInt(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt.asUintN(64, BigInt(v));
  return fail(path, 'an integer', v);
}

function varintSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

/** Sizes of the length-delimited parts, in the order they are written (a queue shared by both passes). */
type Lengths = number[];

/** Bytes of a scalar's value (without the key); strings are encoded once and kept for the write pass. */
function scalarSize(type: Scalar, v: unknown, path: string, strings: Uint8Array[]): number {
  switch (type) {
    case 'int64': case 'int32': case 'enum':
      return varintSize(int64Of(v, path));
    case 'float':
      if (typeof v !== 'number') fail(path, 'a number', v);
      return 4;
    case 'double':
      if (typeof v !== 'number') fail(path, 'a number', v);
      return 8;
    case 'string': {
      if (typeof v !== 'string') fail(path, 'a string', v);
      const b = utf8.encode(v);
      strings.push(b);
      return varintSize(BigInt(b.length)) + b.length;
    }
    case 'bytes':
      if (!(v instanceof Uint8Array)) fail(path, 'a Uint8Array', v);
      return varintSize(BigInt(v.length)) + v.length;
  }
}

function isScalar(type: string): type is Scalar {
  return type in WIRE;
}

/** The size of a message's body; pushes each nested message's and packed field's length to `lengths`. */
function messageSize(name: string, obj: unknown, path: string, lengths: Lengths, strings: Uint8Array[]): number {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) fail(path, `a ${name} object`, obj);
  const fields = MESSAGES[name]!;
  for (const key of Object.keys(obj)) if (!(key in fields)) fail(`${path}.${key}`, `a field of ${name}`, key);
  let size = 0;
  for (const [key, f] of ORDERED[name]!) {
    const v = (obj as Record<string, unknown>)[key];
    if (v === undefined || v === null) continue;
    const at = `${path}.${key}`;
    const values = f.repeated ? (Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>) : fail(at, 'an array', v)) : [v];
    const keySize = varintSize(BigInt((f.n << 3) | 2));
    if (f.packed) {
      if (!values.length) continue;
      const slot = lengths.length;
      lengths.push(0);
      let body = 0;
      values.forEach((x, i) => { body += scalarSize(f.type as Scalar, x, `${at}[${i}]`, strings); });
      lengths[slot] = body;
      size += keySize + varintSize(BigInt(body)) + body;
      continue;
    }
    values.forEach((x, i) => {
      const p = f.repeated ? `${at}[${i}]` : at;
      if (isScalar(f.type)) {
        size += varintSize(BigInt((f.n << 3) | WIRE[f.type])) + scalarSize(f.type, x, p, strings);
      } else {
        const slot = lengths.length;
        lengths.push(0);
        const body = messageSize(f.type, x, p, lengths, strings);
        lengths[slot] = body;
        size += keySize + varintSize(BigInt(body)) + body;
      }
    });
  }
  return size;
}

class Writer {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  varint(v: bigint): void {
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }
  /** A small non-negative integer (keys, lengths) without bigint arithmetic. */
  uint(v: number): void {
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function writeScalar(w: Writer, type: Scalar, v: unknown, strings: Uint8Array[], next: { s: number }): void {
  switch (type) {
    case 'int64': case 'int32': case 'enum':
      w.varint(int64Of(v, ''));
      return;
    case 'float':
      w.view.setFloat32(w.pos, v as number, true);
      w.pos += 4;
      return;
    case 'double':
      w.view.setFloat64(w.pos, v as number, true);
      w.pos += 8;
      return;
    case 'string': {
      const b = strings[next.s++]!;
      w.uint(b.length);
      w.bytes(b);
      return;
    }
    case 'bytes':
      w.uint((v as Uint8Array).length);
      w.bytes(v as Uint8Array);
  }
}

function writeMessage(w: Writer, name: string, obj: Record<string, unknown>, lengths: Lengths, next: { l: number; s: number }, strings: Uint8Array[]): void {
  for (const [key, f] of ORDERED[name]!) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    const values = f.repeated ? Array.from(v as ArrayLike<unknown>) : [v];
    if (f.packed) {
      if (!values.length) continue;
      w.uint((f.n << 3) | 2);
      w.uint(lengths[next.l++]!);
      for (const x of values) writeScalar(w, f.type as Scalar, x, strings, next);
      continue;
    }
    for (const x of values) {
      if (isScalar(f.type)) {
        w.uint((f.n << 3) | WIRE[f.type]);
        writeScalar(w, f.type, x, strings, next);
      } else {
        w.uint((f.n << 3) | 2);
        w.uint(lengths[next.l++]!);
        writeMessage(w, f.type, x as Record<string, unknown>, lengths, next, strings);
      }
    }
  }
}

/**
 * Encodes a plain-object ModelProto (snake_case field names as in onnx.proto; int64 fields as
 * safe integers, bigints or decimal strings; bytes as Uint8Array) to its protobuf bytes.
 * @throws Error naming the offending field when the object does not fit the schema.
 */
export function encodeModel(model: Record<string, unknown>): Uint8Array {
  const lengths: Lengths = [];
  const strings: Uint8Array[] = [];
  const size = messageSize('ModelProto', model, 'ModelProto', lengths, strings);
  const w = new Writer(new Uint8Array(size));
  writeMessage(w, 'ModelProto', model, lengths, { l: 0, s: 0 }, strings);
  if (w.pos !== size) throw new Error(`internal error: ONNX encoder wrote ${w.pos} bytes of ${size}`);
  return w.buf;
}
