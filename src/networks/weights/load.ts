/**
 * Weight loading: sniffs a file's format from its first bytes (not its extension), maps its keys to
 * canonical VGG layer names (conv1_1 …) with OIHW float32 tensors, checks the shapes chain, and
 * records the preprocessing the weights imply.
 *
 * Formats read here: safetensors with torchvision/timm keys (`features.N.weight`) or canonical keys
 * (`conv1_1.weight`). Canonical files may name their preprocessing in the metadata key
 * `impasto.preprocess` (`caffe` or `torchvision`); torchvision keys imply torchvision's.
 */
import { readFile } from 'node:fs/promises';
import {
  Architecture, CAFFE_PREPROCESS, ConvParams, Preprocess, TORCHVISION_PREPROCESS, VggWeights, vggLayers,
} from '../vgg.js';
import { NamedTensor, WeightFormatError, looksLikeSafetensors, readSafetensors } from './safetensors.js';

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

/**
 * Reads a weight file from disk, choosing the parser by the file's first bytes.
 * @throws WeightFormatError saying what was expected and what the file looks like.
 */
export async function loadWeightsFile(path: string): Promise<VggWeights> {
  let buf: Uint8Array;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new WeightFormatError(`cannot read weight file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; check the path given to --weights`);
  }
  if (looksLikeSafetensors(buf)) {
    const { tensors, metadata } = readSafetensors(buf, path);
    return toVggWeights(tensors, metadata, path);
  }
  const head = Array.from(buf.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
  throw new WeightFormatError(
    `${path}: unrecognised weight file (first bytes ${head || 'none'}); expected safetensors with torchvision or canonical VGG keys`,
  );
}
