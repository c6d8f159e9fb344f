/**
 * Temporal consistency loss (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos",
 * GCPR 2016, eqs. 4–8): the stylised frame t is pulled towards the stylised frame t−j warped into
 * frame t along the optical flow, where the flow can be trusted.
 *
 * Notation: x [3,H,W] is the generated frame t, RGB in 0–255 units (the optimised image); x' the
 * stylised frame t−j; b [H,W,2] the backward flow of frame t (pixel p of frame t was at p + b(p)
 * in frame t−j); f the forward flow of frame t−j (pixel q of frame t−j moves to q + f(q) in frame
 * t); flows are in px, (u, v) = (horizontal, vertical). D = 3·H·W.
 *
 * Target (host side, `temporalTarget`):
 *   ω [3,H,W]:  ω(p) = x'(p + b(p)), bicubic (Keys, a = −0.75, as OpenCV and PyTorch), then
 *               clamped into the range of the 4 pixels around the point (so that no overshoot
 *               grows frame after frame) and to 0–255; a point outside the frame reads the
 *               nearest edge pixel (c is 0 there). Bilinear sampling, which Ruder's code uses,
 *               blurs a little at every frame and the blur accumulates along a clip: on the
 *               tests' pan and zoom, 8 frames at 192 px came out visibly softer than bicubic ones.
 *   c [H,W]:    the certainty, 1 where the flow is trusted and 0 where
 *               - the forward–backward check fails (disocclusion):
 *                   |w̃ + b|² ≥ 0.01 (|w̃|² + |b|²) + 0.5,   with w̃(p) = f(p + b(p)) (bilinear);
 *               - p is on a motion boundary:
 *                   |∇b_u|² + |∇b_v|² > 0.01 |b|² + 0.002,  ∇ by central differences
 *                   (one-sided at the frame's edge);
 *               - p + b(p) falls outside frame t−j.
 *   Long-term (`longTermCertainties`, eq. 8), for the offsets J = {j_1 < j_2 < …}: each offset's
 *   certainty keeps only what no closer offset already covers, "closest first":
 *               c_long(j) = max(c(j) − Σ_{k∈J, k<j} c(k), 0).
 *
 * Formula (eq. 5):  L_temporal = (1/D) · Σ_k c_k · (x_k − ω_k)²,  c broadcast over the 3 channels.
 * Normalisation:    1/D, a mean over pixels and channels, in 0–255 units, as Ruder's code.
 * Reduction:        sum of c·(x−ω)² over all 3·H·W values, times 1/D.
 * Weight:           the objective adds λ_t · L_temporal for each offset j, from `--temporal-weight`
 *                   T (`temporalWeights`):
 *                   - raw terms (presets without auto-normalisation): T in Ruder's units. His
 *                     defaults are content 5, style 1e2, temporal 1e3 under jcjohnson/neural-
 *                     style's normalisation, where the content term is 5 × the mean squared
 *                     feature error. Here λ_t = (T / 5) · Σ_c α · u_c · k_c · N_c · M_c, the sum
 *                     being the factor this objective puts on a mean squared content-feature
 *                     error (content.ts k_c); under `jcjohnson` (α = 5, u = 1, k = 1/(N·M))
 *                     λ_t = T, Ruder's exactly (his network's feature scale included: caffe VGG).
 *                     Default T = 1e3, his.
 *                   - scale-free terms (auto-normalisation, the `impasto` default): the term is
 *                     normalised as objective.ts normalises every unit, by its value at x = 0,
 *                     s_t = (1/D) Σ c ω², so λ_t = α · T / s_t and T weighs a relative error as α
 *                     weighs the content's. Ruder's raw balance does not carry over to another
 *                     network's feature scale (the offline network's features are far smaller
 *                     than caffe VGG's, which made λ_t so large that L-BFGS could not move off
 *                     ω), so the default T here was chosen by measurement (bench/video.ts):
 *                     DEFAULT_TEMPORAL_WEIGHT.scaleFree.
 * Differs from Ruder: his masks come from his consistency checker binary on flow files; the
 *                   thresholds here are his, the derivative filter is a central difference. ω is
 *                   bicubic, not bilinear (above). Not a loss unit per layer (it sees the image,
 *                   not features): the objective adds it beside the TV term.
 */
import type { Value } from '../graph/builder.js';
import { OptionError } from '../errors.js';
import { Tape } from '../graph/autodiff.js';
import type { ImageValue } from './types.js';
import { CONTENT_NORMALISATIONS, type ContentNormalisation } from './content.js';

/** A dense optical flow: displacements in px at every pixel of the frame it is defined on. */
export interface Flow {
  readonly width: number;
  readonly height: number;
  /** Horizontal displacement, [H,W] row-major. */
  readonly u: Float32Array;
  /** Vertical displacement, [H,W] row-major. */
  readonly v: Float32Array;
}

/** A planar RGB image [3,H,W] in 0–255 units (pipeline/problem.ts Image255). */
interface Planar {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** One temporal term's target: ω [3,H,W] and c [H,W] (values 0–1). */
export interface TemporalTarget {
  readonly warped: Float32Array;
  readonly certainty: Float32Array;
}

/** One temporal term of an objective: its offset j, λ_t, and its target. */
export interface TemporalTerm {
  /** The key of its reports: `temporal/<offset>`. */
  readonly offset: number;
  /** λ_t (from `temporalTermWeight`). */
  readonly weight: number;
  readonly target: TemporalTarget;
}

/** Bilinear sample of plane `src` [H,W] at (x, y), the coordinates clamped into the frame. */
function sample(src: Float32Array, w: number, h: number, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), w - 1);
  const cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.min(Math.floor(cx), w - 2 < 0 ? 0 : w - 2);
  const y0 = Math.min(Math.floor(cy), h - 2 < 0 ? 0 : h - 2);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx;
  const bottom = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Keys' cubic convolution parameter: −0.75, OpenCV's INTER_CUBIC and PyTorch's bicubic. */
const CUBIC_A = -0.75;

/** Cubic-convolution weights of the 4 taps at x0−1 … x0+2 for a sample at x0 + t, t ∈ [0,1). */
function cubicWeights(t: number): [number, number, number, number] {
  const A = CUBIC_A;
  const near = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1;          // |d| ≤ 1
  const far = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;     // 1 < |d| < 2
  return [far(1 + t), near(t), near(1 - t), far(2 - t)];
}

/**
 * Bicubic sample of plane `src` [H,W] at (x, y), coordinates and taps clamped into the frame, then
 * clamped into the range of the 4 pixels around (x, y), so that it never overshoots them: repeated
 * frame after frame, an overshoot at an edge would grow into a ringing line.
 */
function sampleCubic(src: Float32Array, w: number, h: number, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), w - 1);
  const cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(cx), y0 = Math.floor(cy);
  const wx = cubicWeights(cx - x0), wy = cubicWeights(cy - y0);
  let acc = 0;
  for (let j = 0; j < 4; j++) {
    const yy = Math.min(Math.max(y0 - 1 + j, 0), h - 1);
    let row = 0;
    for (let i = 0; i < 4; i++) row += wx[i]! * src[yy * w + Math.min(Math.max(x0 - 1 + i, 0), w - 1)]!;
    acc += wy[j]! * row;
  }
  const x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1);
  const a = src[y0 * w + x0]!, b = src[y0 * w + x1]!, c = src[y1 * w + x0]!, d = src[y1 * w + x1]!;
  return Math.min(Math.max(acc, Math.min(a, b, c, d)), Math.max(a, b, c, d));
}

/**
 * Library boundary: `img` is `channels` planes of a positive integer width × height, as one
 * Float32Array of channels·width·height values. @throws OptionError naming `what`.
 */
export function checkPlanar(img: unknown, what: string, channels = 3): void {
  const p = img as Partial<Planar> | null | undefined;
  const w = p?.width, h = p?.height;
  if (!(p?.data instanceof Float32Array) || !Number.isInteger(w) || !Number.isInteger(h) || w! <= 0 || h! <= 0 || p.data.length !== channels * w! * h!) {
    throw new OptionError(`${what}: expected {data: Float32Array of ${channels}·width·height values, width, height}, received ${(p?.data as { length?: number } | undefined)?.length ?? 'no'} values for ${w}×${h}`);
  }
}

/** @throws OptionError unless `flow` is a flow of width × height (u and v, a Float32Array each). */
function checkFlow(flow: Flow, width: number, height: number, what: string): void {
  const n = width * height;
  if (!(flow?.u instanceof Float32Array) || !(flow.v instanceof Float32Array) || flow.width !== width || flow.height !== height || flow.u.length !== n || flow.v.length !== n) {
    throw new OptionError(`${what} is ${flow?.width}×${flow?.height} (${flow?.u?.length} values), but the frame is ${width}×${height}`);
  }
}

/**
 * ω: `image` [3,H,W] warped along the backward flow `b`, ω(p) = image(p + b(p)), bicubic and
 * clipped to 0–255, edge pixels read for points outside the frame.
 * @returns [3,H,W] float32, and [H,W] 1 where p + b(p) lies inside the frame, else 0.
 */
export function warp(image: Planar, b: Flow): { data: Float32Array; inside: Float32Array } {
  checkPlanar(image, 'warp: the image');
  const { width: w, height: h } = image;
  checkFlow(b, w, h, 'the flow');
  const n = w * h;
  const data = new Float32Array(3 * n);
  const inside = new Float32Array(n);
  const planes = [0, 1, 2].map((ch) => image.data.subarray(ch * n, (ch + 1) * n));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const sx = x + b.u[i]!;
      const sy = y + b.v[i]!;
      inside[i] = sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1 ? 1 : 0;
      for (let ch = 0; ch < 3; ch++) data[ch * n + i] = Math.min(255, Math.max(0, sampleCubic(planes[ch]!, w, h, sx, sy)));
    }
  }
  return { data, inside };
}

/** Which rule set c to 0 at each pixel (for tests and figures): bit 1 disocclusion, 2 motion boundary, 4 outside. */
export const UNTRUSTED = { disocclusion: 1, motionBoundary: 2, outside: 4 } as const;

/**
 * c of the header from the backward flow `b` (on frame t) and the forward flow `f` (on frame t−j).
 * @returns c [H,W] (0 or 1) and `why` [H,W], the UNTRUSTED bits of each pixel.
 */
export function certainty(b: Flow, f: Flow): { certainty: Float32Array; why: Uint8Array } {
  const { width: w, height: h } = b;
  checkFlow(b, w, h, 'the backward flow');
  checkFlow(f, w, h, 'the forward flow');
  const n = w * h;
  const c = new Float32Array(n);
  const why = new Uint8Array(n);
  const d = (plane: Float32Array, x: number, y: number, dx: number, dy: number) => {
    const xa = Math.max(0, x - dx), xb = Math.min(w - 1, x + dx);
    const ya = Math.max(0, y - dy), yb = Math.min(h - 1, y + dy);
    const span = dx ? xb - xa : yb - ya;
    return span === 0 ? 0 : (plane[yb * w + xb]! - plane[ya * w + xa]!) / span;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const bu = b.u[i]!, bv = b.v[i]!;
      const sx = x + bu, sy = y + bv;
      let bits = 0;
      if (!(sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1)) bits |= UNTRUSTED.outside;
      const wu = sample(f.u, w, h, sx, sy), wv = sample(f.v, w, h, sx, sy);
      const b2 = bu * bu + bv * bv;
      if ((wu + bu) ** 2 + (wv + bv) ** 2 >= 0.01 * (wu * wu + wv * wv + b2) + 0.5) bits |= UNTRUSTED.disocclusion;
      const grad = d(b.u, x, y, 1, 0) ** 2 + d(b.u, x, y, 0, 1) ** 2 + d(b.v, x, y, 1, 0) ** 2 + d(b.v, x, y, 0, 1) ** 2;
      if (grad > 0.01 * b2 + 0.002) bits |= UNTRUSTED.motionBoundary;
      why[i] = bits;
      c[i] = bits ? 0 : 1;
    }
  }
  return { certainty: c, why };
}

/**
 * Long-term certainties, "closest first" (eq. 8): `byOffset` holds c(j) for offsets in ascending
 * order; each becomes max(c(j) − Σ_{k<j} c(k), 0).
 */
export function longTermCertainties(byOffset: readonly Float32Array[]): Float32Array[] {
  if (!Array.isArray(byOffset) || byOffset.some((c) => !(c instanceof Float32Array) || c.length !== byOffset[0]!.length)) {
    throw new OptionError('longTermCertainties: expected an array of Float32Array certainties of one length, one per offset');
  }
  return byOffset.map((c, idx) => {
    const out = new Float32Array(c.length);
    for (let i = 0; i < c.length; i++) {
      let closer = 0;
      for (let k = 0; k < idx; k++) closer += byOffset[k]![i]!;
      out[i] = Math.max(c[i]! - closer, 0);
    }
    return out;
  });
}

/** ω and c of the header for frame t against the stylised frame `previous` (t−j), from the flows between them; with `warp`'s `inside` mask [H,W]. */
export function temporalTarget(previous: Planar, b: Flow, f: Flow): TemporalTarget & { readonly inside: Float32Array } {
  const { data, inside } = warp(previous, b);
  return { warped: data, certainty: certainty(b, f).certainty, inside };
}

/** Default T: Ruder's for raw terms; for scale-free terms, measured (see the header). */
export const DEFAULT_TEMPORAL_WEIGHT = { raw: 1e3, scaleFree: 10 } as const;

/** s_t of the header: (1/D) Σ c ω², the term's value at x = 0. */
export function temporalScale(target: TemporalTarget): number {
  const n = target.certainty.length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const c = target.certainty[i]!;
    if (c) for (let ch = 0; ch < 3; ch++) sum += c * target.warped[ch * n + i]! ** 2;
  }
  return sum / (3 * n);
}

/**
 * λ_t under raw terms (header): (T / 5) · Σ_c α · u_c · k_c(N_c, M_c) · N_c · M_c over the
 * objective's content terms.
 * @param content each content term's final layer weight u_c and its N_c, M_c at this size.
 */
export function temporalTermWeight(
  T: number, alpha: number, norm: ContentNormalisation, content: readonly { weight: number; channels: number; positions: number }[],
): number {
  const k = CONTENT_NORMALISATIONS[norm].factor;
  const perMean = content.reduce((a, c) => a + alpha * c.weight * k(c.channels, c.positions) * c.channels * c.positions, 0);
  return (T / 5) * perMean;
}

/**
 * λ_t of each temporal term (header), for T (undefined: the default of the objective's kind).
 * @param scaleFree whether the objective's terms are auto-normalised.
 * @returns one λ_t per target; 0 for a target whose certainty is all 0 (nothing to hold).
 */
export function temporalWeights(
  T: number | undefined, scaleFree: boolean, alpha: number, norm: ContentNormalisation,
  content: readonly { weight: number; channels: number; positions: number }[], targets: readonly TemporalTarget[],
): number[] {
  if (!scaleFree) return targets.map(() => temporalTermWeight(T ?? DEFAULT_TEMPORAL_WEIGHT.raw, alpha, norm, content));
  return targets.map((target) => {
    const s = temporalScale(target);
    return s > 0 ? (alpha * (T ?? DEFAULT_TEMPORAL_WEIGHT.scaleFree)) / s : 0;
  });
}

/**
 * The graph term L_temporal of the header.
 * @param image x [1,3,H,W], RGB 0–255 (tracked).
 * @param warped ω [1,3,H,W] (a graph input).
 * @param certainty c [1,1,H,W], values in 0–1 (a graph input).
 * @returns scalar Value (1/D) Σ c (x − ω)².
 */
export function temporalLoss(t: Tape, image: ImageValue, warped: Value, certainty: Value, label: string): Value {
  const [, ch, h, w] = image.shape as [number, number, number, number];
  const diff = t.sub(image, warped, `${label}.diff`);
  const masked = t.mul(t.mul(diff, diff, `${label}.sq`), certainty, `${label}.masked`);
  return t.scale(t.reduceSum(masked, `${label}.sum`), 1 / (ch * h * w), label);
}
