/**
 * Quality measures that need no human rater and no learned weights beyond a feature network:
 *
 * - `styleDistance`: relative Gram error under a feature network, mean over layers of
 *   Σ(G_l − A_l)² / ΣA_l², with A_l the style image's Gram matrix scaled to the image's M_l.
 *   Used with an *independent* network (another seed and architecture than the one optimised).
 * - `ssimLuma`: SSIM of the BT.601 luminance (Wang et al. 2004; 11×11 Gaussian window, σ 1.5,
 *   K1 0.01, K2 0.03, L 255), mean over the image.
 * - `histogramDistance`: Hellinger distance between 8×8×8-bin RGB histograms, 0 (equal) to 1
 *   (disjoint).
 *
 * Images are planar RGB [3,H,W] float32 in 0–255 (`Image255`).
 */
import type { Engine } from '../engine/engine.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { gramStyle } from '../losses/gram-style.js';
import { geometryOf } from '../losses/objective.js';
import { computeTargets, Image255, StyleProblem } from '../pipeline/problem.js';

/** Mean relative Gram error of `image` against `style` under `net` at `layers`. */
export async function styleDistance(engine: Engine, net: FeatureNet, layers: readonly string[], image: Image255, style: Image255): Promise<number> {
  const unit = gramStyle('paper');
  const spec = {
    net, width: image.width, height: image.height, content: [], style: layers.map((layer) => ({ unit, layer, weight: 1 })),
    alpha: 0, beta: 1, gamma: 0, tv: 'l2' as const,
  };
  const targeted = await computeTargets(engine, spec, image, [{ image: style, weight: 1 }]);
  const problem = await StyleProblem.create(engine, targeted);
  try {
    const ev = await problem.evaluate(image.data);
    let total = 0;
    // The unit's scale is k·ΣA², its term k·Σ(G−A)²: their ratio is the relative error.
    for (const term of targeted.style) total += ev.terms[`style/${term.layer}`]! / term.unit.scale(term.target, geometryOf(spec, term.layer));
    return total / layers.length;
  } finally {
    await problem.dispose();
  }
}

function luma(img: Image255): Float64Array {
  const n = img.width * img.height;
  const d = img.data;
  return Float64Array.from({ length: n }, (_, i) => 0.299 * Math.min(255, Math.max(0, d[i]!)) + 0.587 * Math.min(255, Math.max(0, d[n + i]!)) + 0.114 * Math.min(255, Math.max(0, d[2 * n + i]!)));
}

/** Separable Gaussian blur (σ 1.5, radius 5), edges clamped. */
function blur(x: Float64Array, w: number, h: number): Float64Array {
  const k = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)));
  const ks = k.reduce((a, b) => a + b, 0);
  const tmp = new Float64Array(x.length);
  const out = new Float64Array(x.length);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let i = 0; i < 11; i++) s += k[i]! * x[y * w + Math.min(w - 1, Math.max(0, xx + i - 5))]!;
      tmp[y * w + xx] = s / ks;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let i = 0; i < 11; i++) s += k[i]! * tmp[Math.min(h - 1, Math.max(0, y + i - 5)) * w + xx]!;
      out[y * w + xx] = s / ks;
    }
  }
  return out;
}

/** Mean SSIM of the luminance of two images of one size; 1 for identical images. */
export function ssimLuma(a: Image255, b: Image255): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`SSIM needs images of one size, received ${a.width}×${a.height} and ${b.width}×${b.height}`);
  const { width: w, height: h } = a;
  const x = luma(a);
  const y = luma(b);
  const mx = blur(x, w, h);
  const my = blur(y, w, h);
  const xx = blur(x.map((v) => v * v), w, h);
  const yy = blur(y.map((v) => v * v), w, h);
  const xy = blur(x.map((v, i) => v * y[i]!), w, h);
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const vx = xx[i]! - mx[i]! ** 2;
    const vy = yy[i]! - my[i]! ** 2;
    const cxy = xy[i]! - mx[i]! * my[i]!;
    s += ((2 * mx[i]! * my[i]! + c1) * (2 * cxy + c2)) / ((mx[i]! ** 2 + my[i]! ** 2 + c1) * (vx + vy + c2));
  }
  return s / x.length;
}

function histogram(img: Image255): Float64Array {
  const n = img.width * img.height;
  const h = new Float64Array(512);
  const bin = (v: number) => Math.min(7, Math.max(0, Math.floor(v / 32)));
  for (let i = 0; i < n; i++) h[bin(img.data[i]!) * 64 + bin(img.data[n + i]!) * 8 + bin(img.data[2 * n + i]!)]! += 1 / n;
  return h;
}

/** Hellinger distance between the 8×8×8 RGB histograms of two images (any sizes). */
export function histogramDistance(a: Image255, b: Image255): number {
  const ha = histogram(a);
  const hb = histogram(b);
  let bc = 0;
  for (let i = 0; i < 512; i++) bc += Math.sqrt(ha[i]! * hb[i]!);
  return Math.sqrt(Math.max(0, 1 - bc));
}
