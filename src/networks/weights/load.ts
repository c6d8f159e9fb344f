/**
 * Weight loading: sniffs a file's format from its first bytes (not its extension), maps its keys to
 * canonical VGG layer names (conv1_1 …) with OIHW float32 tensors, checks the shapes chain, and
 * records the preprocessing the weights imply.
 *
 * Formats: safetensors (torchvision/timm keys `features.N.weight`, or canonical `conv1_1.weight`
 * with an optional `impasto.preprocess` metadata key), Keras HDF5, PyTorch .pth (legacy and zip),
 * ONNX model-zoo files and Caffe .caffemodel. Preprocessing: torchvision keys and the MXNet ONNX
 * export imply torchvision's; Keras, Caffe, caffe2-ONNX and canonical keys imply Caffe's.
 */
import { readRegularFile } from '../../util/read-file.js';
import { MAX_WEIGHT_FILE_BYTES } from './limits.js';
import { OptionError } from '../../errors.js';
import {
  Architecture, CAFFE_PREPROCESS, ConvParams, Preprocess, TORCHVISION_PREPROCESS, VggWeights, vggLayers,
} from '../vgg.js';
import { NamedTensor, WeightFormatError, looksLikeSafetensors, readSafetensors } from './safetensors.js';
import { isHdf5, readKerasH5 } from './keras.js';
import { isLegacyTorch, readLegacyTorch, readZipTorch } from './torch.js';
import { readOnnxModel } from './onnx.js';
import { readCaffeModel } from './caffe.js';

export { WeightFormatError };

/** torchvision `features.N` index of each conv of an architecture (conv+ReLU = 2, pool = 1). */
export function torchvisionConvIndices(arch: Architecture): Map<string, number> {
  const out = new Map<string, number>();
  let i = 0;
  for (const l of vggLayers(arch)) {
    if (l.kind === 'conv') out.set(l.name, i);
    if (l.kind !== 'relu') i += l.kind === 'conv' ? 2 : 1;
  }
  return out;
}

const PREPROCESS_BY_NAME: Record<string, Preprocess> = { caffe: CAFFE_PREPROCESS, torchvision: TORCHVISION_PREPROCESS };

/**
 * Maps a flat tensor dictionary to canonical VGG conv parameters.
 * @throws WeightFormatError naming the missing layer or the wrong shape and what was expected.
 */
export function toVggWeights(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string>, source: string): VggWeights {
  const hasTv = [...tensors.keys()].some((k) => /^features\.\d+\.weight$/.test(k));
  const arch: Architecture = hasTv
    ? (tensors.has('features.34.weight') ? 'vgg19' : 'vgg16')
    : (tensors.has('conv5_4.weight') || tensors.has('conv3_4.weight') ? 'vgg19' : 'vgg16');
  const key = (name: string) => (hasTv ? `features.${torchvisionConvIndices(arch).get(name)}` : name);
  const convs = new Map<string, ConvParams>();
  let inC = 3;
  for (const l of vggLayers(arch)) {
    if (l.kind !== 'conv') continue;
    const w = tensors.get(`${key(l.name)}.weight`);
    const b = tensors.get(`${key(l.name)}.bias`);
    if (!w || !b) {
      if (convs.size === 0) {
        throw new WeightFormatError(
          `${source}: expected VGG conv weights ('${key(l.name)}.weight' for ${l.name}), but the file has none; ` +
          `it holds ${tensors.size} tensors such as ${[...tensors.keys()].slice(0, 4).join(', ') || 'none'}. Is it a VGG-16/19 weight file?`,
        );
      }
      throw new WeightFormatError(`${source}: '${key(l.name)}.weight' or '.bias' (layer ${l.name}) is missing; the file holds an incomplete ${arch}`);
    }
    const [o, i, kh, kw] = w.shape as number[];
    if (w.shape.length !== 4 || i !== inC || kh !== 3 || kw !== 3 || b.shape.length !== 1 || b.shape[0] !== o) {
      throw new WeightFormatError(
        `${source}: layer ${l.name} ('${key(l.name)}') has weight [${w.shape}] and bias [${b.shape}]; expected weight [out,${inC},3,3] and bias [out]`,
      );
    }
    let bad = 0;
    for (const arr of [w.data, b.data]) for (let k = 0; k < arr.length; k++) if (!Number.isFinite(arr[k]!)) bad++;
    if (bad) throw new WeightFormatError(`${source}: layer ${l.name} has ${bad} NaN or infinite values; expected finite weights. The file is corrupt; fetch or export it again`);
    convs.set(l.name, { weight: w.data, bias: b.data, shape: [o!, i!, kh!, kw!] });
    inC = o!;
  }
  const named = metadata['impasto.preprocess'];
  if (named !== undefined && !PREPROCESS_BY_NAME[named]) {
    throw new WeightFormatError(`${source}: metadata impasto.preprocess is '${named}'; expected caffe or torchvision`);
  }
  const preprocess = named ? PREPROCESS_BY_NAME[named]! : hasTv ? TORCHVISION_PREPROCESS : CAFFE_PREPROCESS;
  return { arch, convs, preprocess, source };
}

/** The formats Impasto reads, as sniffed from a file's first bytes. */
export type WeightFormat = 'safetensors' | 'keras-h5' | 'torch-legacy' | 'torch-zip' | 'onnx' | 'caffe';

/** Recognises a weight file's format by its first bytes (not its extension); null when unknown. */
export function sniffFormat(buf: Uint8Array): WeightFormat | null {
  if (looksLikeSafetensors(buf)) return 'safetensors';
  if (isHdf5(buf)) return 'keras-h5';
  if (isLegacyTorch(buf)) return 'torch-legacy';
  if (buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04) return 'torch-zip';
  // Protobuf: ONNX ModelProto begins with ir_version (field 1, varint: 0x08); a Caffe NetParameter
  // with its name (field 1, string: 0x0a), V1 layers (field 2: 0x12) or layer (field 100: 0xa2 0x06).
  if (buf[0] === 0x08 && buf.length > 16) return 'onnx';
  if ((buf[0] === 0x0a || buf[0] === 0x12 || (buf[0] === 0xa2 && buf[1] === 0x06)) && buf.length > 16) return 'caffe';
  return null;
}

export { MAX_WEIGHT_FILE_BYTES } from './limits.js';

/**
 * Reads a weight file from disk in any supported format (only a regular file of at most
 * {@link MAX_WEIGHT_FILE_BYTES}; a FIFO, device or directory is refused unread), choosing the parser by the file's first
 * bytes, and maps it to canonical VGG weights.
 * @throws WeightFormatError saying what was expected and what the file looks like; OptionError
 *         when `path` is not a non-empty string.
 */
export async function loadWeightsFile(path: string): Promise<VggWeights> {
  if (typeof path !== 'string' || path === '') throw new OptionError(`loadWeightsFile: expected a file path, received ${path === '' ? 'an empty string' : typeof path}`);
  const buf = await readRegularFile(path, MAX_WEIGHT_FILE_BYTES, (problem, detail) => new WeightFormatError(
    `cannot read weight file ${path}: ${detail}; ${problem === 'too-large' ? 'a VGG weight file is at most 1.25 GiB' : 'give --weights the path of a VGG weight file'}`,
  ));
  return parseWeights(buf, path);
}

/**
 * Parses a weight file already in memory (its bytes, `what` naming it in messages), choosing the
 * parser by its first bytes. Every failure is a WeightFormatError naming `what`; the fuzzer
 * (tools/fuzz/loaders.ts) holds it to that.
 */
export async function parseWeights(buf: Uint8Array, path: string): Promise<VggWeights> {
  const format = sniffFormat(buf);
  try {
    return await parseAs(format, buf, path);
  } catch (err) {
    if (err instanceof WeightFormatError) throw err;
    // A parser tripped on a structure it did not check (an index past the end, a wrong type):
    // still a bad file, reported as such. `internal` marks these for the fuzzer's report.
    const e = new WeightFormatError(
      `${path}: not a readable ${format} file: its structure is corrupt (the parser stopped at: ${String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 160)}); re-download it or check where it came from`,
      { cause: err },
    );
    (e as WeightFormatError & { internal?: boolean }).internal = true;
    throw e;
  }
}

async function parseAs(format: WeightFormat | null, buf: Uint8Array, path: string): Promise<VggWeights> {
  switch (format) {
    case 'safetensors': {
      const { tensors, metadata } = readSafetensors(buf, path);
      return toVggWeights(tensors, metadata, path);
    }
    case 'keras-h5':
      return toVggWeights(await readKerasH5(buf, path), { 'impasto.preprocess': 'caffe' }, path);
    case 'torch-legacy':
      return toVggWeights(readLegacyTorch(buf, path), {}, path);
    case 'torch-zip':
      return toVggWeights(readZipTorch(buf, path), {}, path);
    case 'onnx': {
      const { tensors, preprocess } = readOnnxModel(buf, path);
      return toVggWeights(tensors, { 'impasto.preprocess': preprocess }, path);
    }
    case 'caffe':
      return toVggWeights(readCaffeModel(buf, path), { 'impasto.preprocess': 'caffe' }, path);
    default: {
      const head = Array.from(buf.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
      throw new WeightFormatError(
        `${path}: unrecognised weight file (first bytes ${head || 'none'}); expected safetensors, Keras .h5, PyTorch .pth, ONNX or Caffe .caffemodel VGG weights`,
      );
    }
  }
}
