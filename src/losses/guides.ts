/**
 * Guides for spatial control (Gatys et al. 2017, *Controlling Perceptual Factors in Neural Style
 * Transfer*, §4): a mask at image resolution, brought to each layer's resolution.
 *
 * A guide is a [H, W] map in [0, 1] (a greyscale mask / 255). The network says how its layers
 * see the image (`FeatureNet.guideSteps`): a list of "same" windows (a k×k convolution, stride 1)
 * and 2×2 poolings (stride 2, floor), from the image to the layer. Propagation modes:
 * - `simple`: a zoom: the guide resized to the layer's H_l × W_l by area averaging;
 * - `all`:    each step takes the maximum over its window, so a neuron is in the region when any
 *             pixel of its receptive field is (dilation);
 * - `inside`: each step takes the minimum over its window, so a neuron is in the region only when
 *             its whole receptive field is (erosion). Window positions outside the image are left
 *             out of the minimum and the maximum: the image border belongs to whatever region
 *             covers the pixels inside it.
 * `erode(guide, k)`: a (2|k|+1)-px square maximum (k > 0, dilation) or minimum (k < 0, erosion)
 * at image resolution, before propagation.
 * A propagated guide T is normalised to T / √mean(T²) (`normaliseGuide`), so that the guided Gram
 * of a binary region is the mean of F Fᵀ over the region, times M.
 */
import { OptionError } from '../errors.js';

/** How the network sees the image on its way to a layer. */
export type GuideStep = { readonly kind: 'window'; readonly size: number } | { readonly kind: 'pool' };

export type GuidePropagation = 'simple' | 'all' | 'inside';

/** A guide map, row-major [height, width]. */
export interface Guide {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** A k×k "same" window of max (or min) at each position, over the positions inside the image. */
function windowFilter(g: Guide, k: number, op: 'max' | 'min'): Guide {
  if (k <= 1) return g;
  const r = (k - 1) / 2;
  const { width: w, height: h, data } = g;
  const pick = op === 'max' ? Math.max : Math.min;
  // Separable: rows, then columns (max and min over a square are separable).
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let v = data[i * w + j]!;
      for (let d = Math.max(0, j - r); d <= Math.min(w - 1, j + r); d++) v = pick(v, data[i * w + d]!);
      tmp[i * w + j] = v;
    }
  }
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      let v = tmp[i * w + j]!;
      for (let d = Math.max(0, i - r); d <= Math.min(h - 1, i + r); d++) v = pick(v, tmp[d * w + j]!);
      out[i * w + j] = v;
    }
  }
  return { data: out, width: w, height: h };
}

/** 2×2 max (or min) pooling, stride 2, floor mode (as the networks pool). */
function pool2(g: Guide, op: 'max' | 'min'): Guide {
  const w = Math.floor(g.width / 2);
  const h = Math.floor(g.height / 2);
  const pick = op === 'max' ? Math.max : Math.min;
  const out = new Float32Array(w * h);
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const at = (di: number, dj: number) => g.data[(2 * i + di) * g.width + 2 * j + dj]!;
      out[i * w + j] = pick(pick(at(0, 0), at(0, 1)), pick(at(1, 0), at(1, 1)));
    }
  }
  return { data: out, width: w, height: h };
}

/** Area-average resize of a guide to width × height (each output pixel the mean of the input area it covers). */
export function resizeGuide(g: Guide, width: number, height: number): Guide {
  const out = new Float32Array(width * height);
  const sx = g.width / width;
  const sy = g.height / height;
  for (let i = 0; i < height; i++) {
    const y0 = i * sy;
    const y1 = (i + 1) * sy;
    for (let j = 0; j < width; j++) {
      const x0 = j * sx;
      const x1 = (j + 1) * sx;
      let s = 0;
      let a = 0;
      for (let y = Math.floor(y0); y < Math.min(g.height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(g.width, Math.ceil(x1)); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          s += wx * wy * g.data[y * g.width + x]!;
          a += wx * wy;
        }
      }
      out[i * width + j] = a > 0 ? s / a : 0;
    }
  }
  return { data: out, width, height };
}

/** Dilates (k > 0) or erodes (k < 0) a guide by |k| px at its own resolution. */
export function erode(g: Guide, k: number): Guide {
  return k === 0 ? g : windowFilter(g, 2 * Math.abs(k) + 1, k > 0 ? 'max' : 'min');
}

/**
 * Brings a guide at image resolution to a layer through its `steps`.
 * @param size the layer's [H_l, W_l] (for `simple`, and to check the steps).
 */
export function propagateGuide(g: Guide, steps: readonly GuideStep[], mode: GuidePropagation, size: readonly [number, number]): Guide {
  let out = g;
  if (mode === 'simple') out = resizeGuide(g, size[1], size[0]);
  else {
    const op = mode === 'all' ? 'max' : 'min';
    for (const s of steps) out = s.kind === 'pool' ? pool2(out, op) : windowFilter(out, s.size, op);
  }
  if (out.height !== size[0] || out.width !== size[1]) throw new Error(`guide propagation ends at ${out.width}×${out.height}, but the layer is ${size[1]}×${size[0]}`);
  return out;
}

/**
 * T / √mean(T²).
 * @throws OptionError when the region is empty at this layer (`what` names it).
 */
export function normaliseGuide(g: Guide, what: string): Guide {
  let s = 0;
  for (const v of g.data) s += v * v;
  const rms = Math.sqrt(s / g.data.length);
  if (!(rms > 0)) throw new OptionError(`${what} is empty: no neuron of that layer lies in the region (use --guide-propagation all or simple, or a larger region)`);
  return { ...g, data: Float32Array.from(g.data, (v) => v / rms) };
}
