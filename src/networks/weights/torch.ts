/**
 * PyTorch checkpoints (`torch.save` of a state_dict), in both on-disk formats:
 *
 * - legacy (before PyTorch 1.6; torchvision's vgg16/vgg19 files): five pickles in a row (magic
 *   number, protocol version, sys_info, the state_dict, the sorted storage keys), then for each key
 *   an int64 element count and the storage's raw little-endian bytes;
 * - zip (PyTorch ≥ 1.6): `<prefix>/data.pkl` plus one `<prefix>/data/<key>` entry per storage.
 *
 * Tensors are returned as float32 copies (from Float or Half storages) with their shapes; views
 * must be contiguous, as every state_dict written by torch.save is.
 */
import { halfToFloat, NamedTensor, WeightFormatError } from './safetensors.js';
import { TorchStorageRef, TorchTensorRef, unpickle } from './pickle.js';
import { readZip } from './zip.js';

/** The legacy format's first 15 bytes: pickle of the magic number 0x1950a86a20f9469cfc6c. */
export const LEGACY_MAGIC = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);

export function isLegacyTorch(buf: Uint8Array): boolean {
  return buf.length >= 15 && LEGACY_MAGIC.every((b, i) => buf[i] === b);
}

const ELEMENT: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, DoubleStorage: 8 };

function materialise(name: string, ref: TorchTensorRef, bytes: Uint8Array, what: string): NamedTensor {
  const width = ELEMENT[ref.storage.type];
  if (!width) throw new WeightFormatError(`${what}: tensor '${name}' is a ${ref.storage.type}; expected FloatStorage, HalfStorage or DoubleStorage`);
  const count = ref.size.reduce((a, d) => a * d, 1);
  let expect = 1;
  for (let i = ref.size.length - 1; i >= 0; i--) {
    if (ref.size[i]! > 1 && ref.stride[i] !== expect) throw new WeightFormatError(`${what}: tensor '${name}' is not contiguous; re-save it with tensor.contiguous()`);
    expect *= ref.size[i]!;
  }
  const begin = ref.offset * width;
  if (begin + count * width > bytes.length) throw new WeightFormatError(`${what}: tensor '${name}' needs ${count * width} bytes at offset ${begin} but its storage has ${bytes.length}; the file is truncated`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + begin, count * width);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    data[i] = width === 4 ? dv.getFloat32(i * 4, true) : width === 8 ? dv.getFloat64(i * 8, true) : halfToFloat(dv.getUint16(i * 2, true));
  }
  return { data, shape: ref.size };
}

function stateDict(value: unknown, what: string): Map<string, TorchTensorRef> {
  let v = value;
  // Accept {'state_dict': {...}} and {'model': {...}} wrappers.
  if (v instanceof Map && !([...v.values()].some((x) => (x as TorchTensorRef)?.kind === 'tensor'))) {
    v = v.get('state_dict') ?? v.get('model') ?? v;
  }
  if (!(v instanceof Map)) throw new WeightFormatError(`${what}: expected a PyTorch state_dict (a dict of tensors), found another kind of object`);
  const out = new Map<string, TorchTensorRef>();
  for (const [k, t] of v) if ((t as TorchTensorRef)?.kind === 'tensor') out.set(String(k), t as TorchTensorRef);
  return out;
}

/** Reads a legacy-format checkpoint. */
export function readLegacyTorch(buf: Uint8Array, what: string): Map<string, NamedTensor> {
  let pos = LEGACY_MAGIC.length;
  pos = unpickle(buf, pos, what).end; // protocol version
  pos = unpickle(buf, pos, what).end; // sys_info
  const main = unpickle(buf, pos, what);
  const keysP = unpickle(buf, main.end, what);
  const refs = stateDict(main.value, what);
  const keys = (keysP.value as unknown[]).map(String);
  const storages = new Map<string, Uint8Array>();
  const types = new Map<string, TorchStorageRef>();
  for (const r of refs.values()) types.set(r.storage.key, r.storage);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = keysP.end;
  for (const key of keys) {
    if (p + 8 > buf.length) throw new WeightFormatError(`${what}: storage ${key} is missing; the file is truncated at byte ${buf.length}`);
    const count = Number(dv.getBigInt64(p, true));
    const width = ELEMENT[types.get(key)?.type ?? 'FloatStorage'] ?? 4;
    p += 8;
    if (p + count * width > buf.length) throw new WeightFormatError(`${what}: storage ${key} needs ${count * width} bytes but the file ends ${buf.length - p} bytes later; the file is truncated`);
    storages.set(key, buf.subarray(p, p + count * width));
    p += count * width;
  }
  const out = new Map<string, NamedTensor>();
  for (const [name, ref] of refs) out.set(name, materialise(name, ref, storages.get(ref.storage.key)!, what));
  return out;
}

/** Reads a zip-format checkpoint. */
export function readZipTorch(buf: Uint8Array, what: string): Map<string, NamedTensor> {
  const entries = readZip(buf, what);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new WeightFormatError(`${what}: a zip archive without data.pkl; expected a PyTorch checkpoint`);
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const refs = stateDict(unpickle(entries.get(pkl)!.data(), 0, what).value, what);
  const out = new Map<string, NamedTensor>();
  for (const [name, ref] of refs) {
    const entry = entries.get(`${prefix}data/${ref.storage.key}`);
    if (!entry) throw new WeightFormatError(`${what}: storage data/${ref.storage.key} of tensor '${name}' is missing from the archive`);
    out.set(name, materialise(name, ref, entry.data(), what));
  }
  return out;
}
