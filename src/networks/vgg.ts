/**
 * VGG-19 and VGG-16 feature stacks (Simonyan & Zisserman 2014) with the layer names of Gatys et
 * al. (conv1_1, relu1_1, …, pool5), max or average pooling, and the input preprocessing that
 * belongs to the weights.
 *
 * The graph input is an RGB image in 0–255 units, [1,3,H,W] float32. Preprocessing to the
 * network's own input space (Caffe BGR minus mean, or torchvision mean/std) is a fixed 1×1 conv at
 * the front of the graph, so gradients come back in 0–255 RGB units whatever the weights.
 * Layer indices stay private to this file; everything else uses names.
 */
import { sameConv } from '../graph/circular.js';
import type { GuideStep } from '../losses/guides.js';
import { GraphBuildError, Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { gaussian } from '../util/random.js';
import { OptionError } from '../errors.js';
import type { FeatureNet } from './feature-net.js';

/** Supported architectures. */
export type Architecture = 'vgg19' | 'vgg16';

/** Pooling between blocks. Gatys et al. prefer average pooling; jcjohnson's default is max. */
export type Pooling = 'max' | 'avg';

/** One layer of the feature stack. */
export interface LayerSpec {
  readonly name: string;
  readonly kind: 'conv' | 'relu' | 'pool';
  /** Output channels of the layer (N_l in the paper's notation). */
  readonly channels: number;
  /** Input channels (conv only). */
  readonly inChannels?: number;
  /** Number of 2×2 poolings before this layer's output: its spatial size is ⌊…⌊H/2⌋…/2⌋. */
  readonly downsample: number;
}

const BLOCK_CONVS: Record<Architecture, number[]> = { vgg19: [2, 2, 4, 4, 4], vgg16: [2, 2, 3, 3, 3] };
/** Channel widths of the five blocks in the published networks. */
export const VGG_WIDTHS = [64, 128, 256, 512, 512] as const;

/**
 * The ordered layer table of an architecture.
 * @param widths channels per block (the published networks use {@link VGG_WIDTHS}; tests use
 *               narrower ones with the same topology).
 */
export function vggLayers(arch: Architecture, widths: readonly number[] = VGG_WIDTHS): LayerSpec[] {
  if (!Object.hasOwn(BLOCK_CONVS, arch)) throw new OptionError(`unknown architecture ${JSON.stringify(arch)}: expected vgg19 or vgg16`);
  if (!Array.isArray(widths) || widths.length !== 5 || !widths.every((w) => Number.isInteger(w) && w >= 1 && w <= 4096)) {
    throw new OptionError(`invalid VGG widths ${JSON.stringify(widths)}: expected five channel counts, one per block, integers from 1 to 4096`);
  }
  const layers: LayerSpec[] = [];
  let inC = 3;
  BLOCK_CONVS[arch].forEach((n, bi) => {
    const c = widths[bi]!;
    for (let i = 1; i <= n; i++) {
      layers.push({ name: `conv${bi + 1}_${i}`, kind: 'conv', channels: c, inChannels: inC, downsample: bi });
      layers.push({ name: `relu${bi + 1}_${i}`, kind: 'relu', channels: c, downsample: bi });
      inC = c;
    }
    layers.push({ name: `pool${bi + 1}`, kind: 'pool', channels: c, downsample: bi + 1 });
  });
  return layers;
}

/**
 * How the weights expect their input, as a per-channel affine map of the 0–255 RGB image:
 * `net[c] = (rgb255[order[c]] − mean[c]) / std[c]`, all in 0–255 units.
 * - Caffe / Keras (Oxford weights): order BGR, mean [103.939,116.779,123.68], std 1.
 * - torchvision: order RGB, mean 255·[0.485,0.456,0.406], std 255·[0.229,0.224,0.225].
 */
export interface Preprocess {
  readonly name: string;
  readonly order: readonly [number, number, number];
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

export const CAFFE_PREPROCESS: Preprocess = { name: 'caffe', order: [2, 1, 0], mean: [103.939, 116.779, 123.68], std: [1, 1, 1] };
export const TORCHVISION_PREPROCESS: Preprocess = {
  name: 'torchvision',
  order: [0, 1, 2],
  mean: [0.485 * 255, 0.456 * 255, 0.406 * 255],
  std: [0.229 * 255, 0.224 * 255, 0.225 * 255],
};

/** One conv layer's parameters: weight OIHW [out,in,kh,kw] and bias [out], float32. */
export interface ConvParams {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

/** A loaded feature network: architecture, conv parameters by canonical name, preprocessing. */
export interface VggWeights {
  readonly arch: Architecture;
  /** Conv parameters keyed by canonical name (`conv1_1` …); may stop early (truncated stacks). */
  readonly convs: ReadonlyMap<string, ConvParams>;
  readonly preprocess: Preprocess;
  /** Where these weights came from, for messages (a path, or `untrained seed 0`). */
  readonly source: string;
}

/** Channel widths implied by loaded weights: the output channels of each block's first conv, `conv{b}_1` (every conv of a block has that width); a block without weights keeps the published width. */
export function widthsOf(weights: VggWeights): number[] {
  return [1, 2, 3, 4, 5].map((bi) => weights.convs.get(`conv${bi}_1`)?.shape[0] ?? VGG_WIDTHS[bi - 1]!);
}

/** All layer names of an architecture, in order. */
export function layerNames(arch: Architecture): string[] {
  return vggLayers(arch).map((l) => l.name);
}

/**
 * Checks that every requested layer exists.
 * @throws GraphBuildError listing the unknown names and the valid ones.
 */
export function checkLayerNames(arch: Architecture, names: readonly string[]): void {
  const valid = layerNames(arch);
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length) {
    throw new GraphBuildError(
      `unknown layer name${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')} for ${arch}; ` +
        `expected one of: ${valid.join(', ')}`,
    );
  }
}

/**
 * The smallest image side (px) for which every listed layer has at least a 1×1 output:
 * 2^(pools before the deepest layer).
 */
export function minImageSide(arch: Architecture, names: readonly string[]): number {
  const layers = vggLayers(arch);
  const deepest = Math.max(...names.map((n) => layers.find((l) => l.name === n)?.downsample ?? 0));
  return 2 ** deepest;
}

/**
 * Emits the feature stack from an RGB 0–255 image up to the deepest requested layer.
 * @param image Value [1,3,H,W], RGB in 0–255 units.
 * @param want layer names whose outputs are returned.
 * @returns a map from each wanted name to its Value [1,N_l,H_l,W_l].
 * @throws GraphBuildError for unknown names, missing weights, or an image too small for a pool.
 */
export function buildVgg(t: Tape, image: Value, weights: VggWeights, pooling: Pooling, want: readonly string[], circular = false): Map<string, Value> {
  checkLayerNames(weights.arch, want);
  const [, c, h, w] = image.shape;
  if (c !== 3) throw new GraphBuildError(`the image must have 3 channels (RGB), received ${c}`);
  const minSide = minImageSide(weights.arch, want);
  if (h! < minSide || w! < minSide) {
    throw new GraphBuildError(
      `image of ${w}×${h} px is too small for layers ${want.join(', ')}: each side must be at least ${minSide} px (2^pools); use a larger --size`,
    );
  }
  const b = t.b;
  const pre = weights.preprocess;
  const pw = new Float32Array(9);
  pre.order.forEach((src, dst) => (pw[dst * 3 + src] = 1 / pre.std[dst]!));
  const pbias = pre.mean.map((m, i) => -m / pre.std[i]!);
  let x = t.conv(image, b.constant('preprocess.w', pw, [3, 3, 1, 1]), b.constant('preprocess.b', pbias, [3]), { pads: [0, 0, 0, 0] }, `preprocess_${pre.name}`);

  const layers = vggLayers(weights.arch, widthsOf(weights));
  const last = Math.max(...want.map((n) => layers.findIndex((l) => l.name === n)));
  const out = new Map<string, Value>();
  for (const layer of layers.slice(0, last + 1)) {
    if (layer.kind === 'conv') {
      const p = weights.convs.get(layer.name);
      if (!p) throw new GraphBuildError(`the weights from ${weights.source} have no '${layer.name}', which layer ${want.join(', ')} needs`);
      const wv = b.constant(`${layer.name}.weight`, p.weight, p.shape);
      const bv = b.constant(`${layer.name}.bias`, p.bias, [p.shape[0]]);
      const k = p.shape[2];
      const pad = (k - 1) / 2;
      x = sameConv(t, x, wv, bv, pad, circular, layer.name);
    } else if (layer.kind === 'relu') {
      x = t.relu(x, layer.name);
    } else {
      x = pooling === 'max' ? t.maxPool(x, layer.name) : t.avgPool(x, layer.name);
    }
    if (want.includes(layer.name)) out.set(layer.name, x);
  }
  return out;
}

/**
 * Seeded random VGG weights (He-normal, std √(2/fan_in), biases N(0, 0.01²)): the untrained
 * networks of `--network random-vgg19|random-vgg16` and of the tests and benchmarks (the default
 * without a weight file is a cached VGG-19, else the offline network of untrained.ts).
 */
export function randomVggWeights(arch: Architecture, seed: number, widths: readonly number[] = VGG_WIDTHS, preprocess = CAFFE_PREPROCESS): VggWeights {
  if (!Number.isFinite(seed)) throw new OptionError(`invalid seed ${String(seed)}: expected a finite number`);
  const g = gaussian(seed);
  const convs = new Map<string, ConvParams>();
  for (const l of vggLayers(arch, widths)) {
    if (l.kind !== 'conv') continue;
    const shape = [l.channels, l.inChannels!, 3, 3] as const;
    const std = Math.sqrt(2 / (l.inChannels! * 9));
    const weight = Float32Array.from({ length: shape[0] * shape[1] * 9 }, () => g() * std);
    const bias = Float32Array.from({ length: shape[0] }, () => g() * 0.01);
    convs.set(l.name, { weight, bias, shape });
  }
  return { arch, convs, preprocess, source: `seeded random weights, seed ${seed}` };
}

/** Spatial size [H_l, W_l] of a layer's output for an H×W image (floor-mode 2×2 pooling). */
export function featureSize(arch: Architecture, layer: string, height: number, width: number): [number, number] {
  checkLayerNames(arch, [layer]);
  const d = vggLayers(arch).find((l) => l.name === layer)!.downsample;
  let h = height;
  let w = width;
  for (let i = 0; i < d; i++) {
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  }
  return [h, w];
}

/** A VGG stack with given weights and pooling, as a FeatureNet. */
export function vggNet(weights: VggWeights, pooling: Pooling): FeatureNet {
  const table = vggLayers(weights.arch, widthsOf(weights));
  return {
    description: `${weights.arch} (${weights.source}), ${pooling} pooling`,
    layers: table.map((l) => l.name),
    family: 'vgg',
    defaults: null,
    checkLayers: (names) => checkLayerNames(weights.arch, names),
    minSide: (names) => minImageSide(weights.arch, names),
    featureSize: (layer, h, w) => featureSize(weights.arch, layer, h, w),
    channels: (layer) => {
      checkLayerNames(weights.arch, [layer]);
      return table.find((l) => l.name === layer)!.channels;
    },
    build: (t, image, want, options) => buildVgg(t, image, weights, pooling, want, options?.circular ?? false),
    guideSteps: (layer) => {
      checkLayerNames(weights.arch, [layer]);
      const upTo = table.findIndex((l) => l.name === layer);
      return table.slice(0, upTo + 1).flatMap((l): GuideStep[] => (l.kind === 'conv' ? [{ kind: 'window', size: 3 }] : l.kind === 'pool' ? [{ kind: 'pool' }] : []));
    },
  };
}
