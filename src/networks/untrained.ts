/**
 * Untrained feature networks: deterministic random filters generated from a seed at run time, no
 * weight file. They are Impasto's offline tier, after Ustyuzhaninov, Brendel, Gatys & Bethge
 * (ICLR 2017, "What does it take to generate natural textures?") and He, Wang & Hopcroft
 * (NeurIPS 2016, random-weight networks with automatically normalised per-layer losses).
 *
 * Two architectures:
 *
 * - `multiscale`: Ustyuzhaninov's recipe. One conv layer per filter size in `sizes` (Ustyuzhaninov
 *   used 3, 5, 7, 11, 15, 23, 37, 55 px; there is no default), `filters` random filters each, ReLU, no pooling. Layers `ms<k>` (k = size).
 *   Its large filters are expensive (the 55 px layer dominates).
 * - `pyramid`: the same idea at a fraction of the cost: an image pyramid (levels 0…L−1, each half
 *   the size of the last; with `blur`, a binomial blur before each 2×2 average, i.e. a Gaussian
 *   pyramid), one small random conv (k×k, `filters` filters) + ReLU at every level, so level i sees
 *   about k·2^i px of the original. Layers `scale<i>`. It also
 *   exposes `luma<i>`, the BT.601 luminance of pyramid level i (1 channel), a content layer that
 *   keeps the photo's structure without constraining its colours (not the default content layer:
 *   alone it leaves fine detail and colour free, see `defaults`).
 *
 * Initialisation: Glorot-uniform filters (Lasagne's default, as in Ustyuzhaninov's code), zero
 * bias. Input: RGB 0–255, centred on 127.5 and scaled by 1/64 before the first layer, so the
 * filters see values of order 1.
 */
import { GraphBuildError, Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { mulberry32 } from '../util/random.js';
import { sameConv } from '../graph/circular.js';
import type { GuideStep } from '../losses/guides.js';
import type { FeatureNet } from './feature-net.js';

/** Configuration of an untrained network; equal configurations give identical networks. */
export type UntrainedConfig =
  | { kind: 'pyramid'; levels: number; kernel: number; filters: number; seed: number; blur?: boolean }
  | { kind: 'multiscale'; sizes: number[]; filters: number; seed: number };

/** The offline tier's default network, chosen by comparing candidates with bench/offline.ts. */
export const DEFAULT_UNTRAINED: UntrainedConfig = { kind: 'pyramid', levels: 6, kernel: 5, filters: 128, seed: 0, blur: true };

/** Glorot-uniform filters [out, in, k, k] from a seed: U(−a, a), a = √(6/(fan_in + fan_out)). */
function glorot(seed: number, out: number, inC: number, k: number): Float32Array {
  const u = mulberry32(seed);
  const a = Math.sqrt(6 / (inC * k * k + out * k * k));
  return Float32Array.from({ length: out * inC * k * k }, () => (2 * u() - 1) * a);
}

/** A 3×3 binomial blur applied to each of 3 channels separately, as a [3,3,3,3] conv weight. */
function blurKernel(): Float32Array {
  const k = [1, 2, 1, 2, 4, 2, 1, 2, 1].map((v) => v / 16);
  const w = new Float32Array(81);
  for (let c = 0; c < 3; c++) for (let i = 0; i < 9; i++) w[(c * 3 + c) * 9 + i] = k[i]!;
  return w;
}

/** Affine input map: (rgb − 127.5)/64 per channel, as a 1×1 conv. */
function centre(t: Tape, image: Value): Value {
  const b = t.b;
  const w = new Float32Array(9);
  for (let c = 0; c < 3; c++) w[c * 3 + c] = 1 / 64;
  return t.conv(image, b.constant('centre.w', w, [3, 3, 1, 1]), b.constant('centre.b', [-127.5 / 64, -127.5 / 64, -127.5 / 64], [3]), { pads: [0, 0, 0, 0] }, 'centre');
}

function unknown(names: readonly string[], layers: readonly string[], what: string): never {
  throw new GraphBuildError(`unknown layer name${names.length > 1 ? 's' : ''} ${names.map((n) => `'${n}'`).join(', ')} for the ${what}; expected one of: ${layers.join(', ')}`);
}

/** Builds the FeatureNet of an untrained configuration. */
export function untrainedNet(cfg: UntrainedConfig): FeatureNet {
  return cfg.kind === 'pyramid' ? pyramidNet(cfg) : multiscaleNet(cfg);
}

function pyramidNet(cfg: Extract<UntrainedConfig, { kind: 'pyramid' }>): FeatureNet {
  const { levels, kernel, filters, seed, blur = false } = cfg;
  if (kernel % 2 !== 1) throw new GraphBuildError(`pyramid kernel must be odd, received ${kernel}`);
  const scales = Array.from({ length: levels }, (_, i) => `scale${i}`);
  const lumas = Array.from({ length: levels }, (_, i) => `luma${i}`);
  const layers = [...scales, ...lumas];
  const level = (name: string) => Number(name.replace(/^\D+/, ''));
  const what = `untrained pyramid network (${levels} levels)`;
  const check = (names: readonly string[]) => {
    const bad = names.filter((n) => !layers.includes(n));
    if (bad.length) unknown(bad, layers, what);
  };
  const weights = scales.map((_, i) => glorot(seed * 1000 + i + 1, filters, 3, kernel));
  return {
    family: 'untrained',
    description: `untrained pyramid network (${levels} levels, ${kernel}×${kernel}×${filters} random filters, seed ${seed})`,
    layers,
    defaults: {
      // Content at the finest level's random filters: they see colour and 5-px detail, so a low
      // style weight stays near the photo (bench/strength.ts: content SSIM 0.99 at β = 1).
      // The luminance level luma2 left both free: at β ≤ 10 it gave stripes and rainbow noise.
      content: [{ layer: 'scale0', weight: 1 }],
      style: scales.map((layer) => ({ layer, weight: 1 / levels })),
      autoNormalise: true,
    },
    checkLayers: check,
    minSide: (names) => {
      check(names);
      return 2 ** Math.max(0, ...names.map(level));
    },
    featureSize: (layer, h, w) => {
      check([layer]);
      let hh = h;
      let ww = w;
      for (let i = 0; i < level(layer); i++) [hh, ww] = [Math.floor(hh / 2), Math.floor(ww / 2)];
      return [hh, ww];
    },
    channels: (layer) => {
      check([layer]);
      return layer.startsWith('luma') ? 1 : filters;
    },
    guideSteps: (layer) => {
      check([layer]);
      const steps: GuideStep[] = [];
      for (let i = 1; i <= level(layer); i++) {
        if (blur) steps.push({ kind: 'window', size: 3 });
        steps.push({ kind: 'pool' });
      }
      if (layer.startsWith('scale')) steps.push({ kind: 'window', size: kernel });
      return steps;
    },
    build: (t, image, want, options) => {
      const circular = options?.circular ?? false;
      check(want);
      const deepest = Math.max(...want.map(level));
      const [, , h, w] = image.shape as number[];
      if (h! < 2 ** deepest || w! < 2 ** deepest) {
        throw new GraphBuildError(`image of ${w}×${h} px is too small for layers ${want.join(', ')}: each side must be at least ${2 ** deepest} px; use a larger --size`);
      }
      const b = t.b;
      const out = new Map<string, Value>();
      let x = centre(t, image);
      const pad = (kernel - 1) / 2;
      let lumaW: Value | undefined;
      for (let i = 0; i <= deepest; i++) {
        if (i > 0) {
          // Gaussian pyramid: a [1,2,1]⊗[1,2,1]/16 blur per channel before each 2×2 average, which
          // removes the aliasing (and the blocky gradients) of a plain average-pool pyramid.
          if (blur) x = sameConv(t, x, b.constant(`blur${i}.w`, blurKernel(), [3, 3, 3, 3]), undefined, 1, circular, `blur${i}`);
          x = t.avgPool(x, `pyramid${i}`);
        }
        if (want.includes(`scale${i}`)) {
          const wv = b.constant(`scale${i}.weight`, weights[i]!, [filters, 3, kernel, kernel]);
          out.set(`scale${i}`, t.relu(sameConv(t, x, wv, undefined, pad, circular, `scale${i}.conv`), `scale${i}`));
        }
        if (want.includes(`luma${i}`)) {
          // BT.601 luma of the centred level: (0.299, 0.587, 0.114)·(rgb − 127.5)/64.
          lumaW ??= b.constant('luma.w', [0.299, 0.587, 0.114], [1, 3, 1, 1]);
          out.set(`luma${i}`, t.conv(x, lumaW, undefined, { pads: [0, 0, 0, 0] }, `luma${i}`));
        }
      }
      return out;
    },
  };
}

function multiscaleNet(cfg: Extract<UntrainedConfig, { kind: 'multiscale' }>): FeatureNet {
  const { sizes, filters, seed } = cfg;
  const layers = sizes.map((k) => `ms${k}`);
  const what = `untrained multi-scale network (sizes ${sizes.join(', ')})`;
  const check = (names: readonly string[]) => {
    const bad = names.filter((n) => !layers.includes(n));
    if (bad.length) unknown(bad, layers, what);
  };
  return {
    family: 'untrained',
    description: `untrained multi-scale network (${sizes.join('/')} px × ${filters} random filters, seed ${seed})`,
    layers,
    defaults: {
      content: [{ layer: `ms${sizes[0]}`, weight: 1 }],
      style: layers.map((layer) => ({ layer, weight: 1 / layers.length })),
      autoNormalise: true,
    },
    checkLayers: check,
    minSide: (names) => {
      check(names);
      return 1;
    },
    featureSize: (layer, h, w) => {
      check([layer]);
      return [h, w];
    },
    channels: (layer) => {
      check([layer]);
      return filters;
    },
    guideSteps: (layer) => {
      check([layer]);
      return [{ kind: 'window', size: Number(layer.slice(2)) }];
    },
    build: (t, image, want, options) => {
      check(want);
      const b = t.b;
      const x = centre(t, image);
      const out = new Map<string, Value>();
      for (const k of sizes) {
        if (!want.includes(`ms${k}`)) continue;
        const pad = (k - 1) / 2;
        const wv = b.constant(`ms${k}.weight`, glorot(seed * 1000 + k, filters, 3, k), [filters, 3, k, k]);
        out.set(`ms${k}`, t.relu(sameConv(t, x, wv, undefined, pad, options?.circular ?? false, `ms${k}.conv`), `ms${k}`));
      }
      return out;
    },
  };
}
