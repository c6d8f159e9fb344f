/**
 * Colour matching of a style image to the content image before transfer (Gatys et al. 2017,
 * *Controlling Perceptual Factors in Neural Style Transfer*, §5), as their code
 * (leongatys/NeuralImageSynthesis, `match_color`) does it.
 *
 * - `matchColour(style, content, mode)`: an affine map x ↦ A(x − μ_s) + μ_c of the style's RGB
 *   pixels such that the result has the content's mean μ_c and covariance C_c. Covariances are
 *   the biased per-pixel RGB covariances (0–255 units) plus ε·I, ε = 1e-5. Three choices of A:
 *     chol: A = L_c L_s⁻¹, with L the lower Cholesky factors (C = L Lᵀ);
 *     pca:  A = C_c^½ C_s^−½, with the symmetric square roots;
 *     sym:  A = C_s^−½ (C_s^½ C_c C_s^½)^½ C_s^−½, the symmetric A (the optimal-transport map).
 *   Each gives A C_s Aᵀ = C_c. Values are not clipped here: the caller decides (the style image
 *   is only seen by the network, which takes any real values).
 * - `matchLuminance(style, content)`: the style's luma Y (BT.601) scaled and shifted to the
 *   content's mean and standard deviation, as the same paper does before luminance-only transfer:
 *   x ↦ a·x + b on every channel, a = σ_c/σ_s, b = μ_c − a·μ_s, so that Y(x') = a·Y(x) + b.
 *
 * Images are planar RGB [3,H,W] float32 in 0–255 (`Image255`); the two may differ in size.
 */
import type { Image255 } from '../pipeline/problem.js';
import { gaussian } from '../util/random.js';

export type ColourMatch = 'chol' | 'pca' | 'sym';

/** A 3×3 matrix, row-major. */
export type Mat3 = readonly number[];

const EPS = 1e-5;

/** Per-channel mean and biased covariance (+ ε·I) of an image's pixels. */
export function colourStats(img: Image255): { mean: [number, number, number]; cov: number[] } {
  const n = img.width * img.height;
  const d = img.data;
  const mean: [number, number, number] = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[c * n + i]!;
    mean[c] = s / n;
  }
  const cov = new Array<number>(9).fill(0);
  for (let a = 0; a < 3; a++) {
    for (let b = a; b < 3; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += (d[a * n + i]! - mean[a]) * (d[b * n + i]! - mean[b]);
      cov[3 * a + b] = cov[3 * b + a] = s / n + (a === b ? EPS : 0);
    }
  }
  return { mean, cov };
}

export function mul(a: Mat3, b: Mat3): number[] {
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j]! += a[3 * i + k]! * b[3 * k + j]!;
  return out;
}

export function transpose(a: Mat3): number[] {
  return [a[0]!, a[3]!, a[6]!, a[1]!, a[4]!, a[7]!, a[2]!, a[5]!, a[8]!];
}

/** Inverse of a 3×3 matrix by its adjugate. @throws Error when it is singular. */
export function inverse(a: Mat3): number[] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = a as number[];
  const c00 = m11! * m22! - m12! * m21!;
  const c01 = m12! * m20! - m10! * m22!;
  const c02 = m10! * m21! - m11! * m20!;
  const det = m00! * c00 + m01! * c01 + m02! * c02;
  if (!(Math.abs(det) > 0)) throw new Error('colour matching: a singular 3×3 matrix');
  return [
    c00 / det, (m02! * m21! - m01! * m22!) / det, (m01! * m12! - m02! * m11!) / det,
    c01 / det, (m00! * m22! - m02! * m20!) / det, (m02! * m10! - m00! * m12!) / det,
    c02 / det, (m01! * m20! - m00! * m21!) / det, (m00! * m11! - m01! * m10!) / det,
  ];
}

/** Lower Cholesky factor L of a symmetric positive-definite 3×3 matrix (C = L Lᵀ). */
export function cholesky(c: Mat3): number[] {
  const l = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let s = c[3 * i + j]!;
      for (let k = 0; k < j; k++) s -= l[3 * i + k]! * l[3 * j + k]!;
      l[3 * i + j] = i === j ? Math.sqrt(Math.max(s, 0)) : s / l[3 * j + j]!;
    }
  }
  return l;
}

/** Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations: C = V diag(λ) Vᵀ. */
export function symmetricEigen(c: Mat3): { values: number[]; vectors: number[] } {
  const a = [...c];
  const v = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[1]! ** 2 + a[2]! ** 2 + a[5]! ** 2;
    if (off <= 1e-30 * (a[0]! ** 2 + a[4]! ** 2 + a[8]! ** 2 + 1e-300)) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as const) {
      const apq = a[3 * p + q]!;
      if (apq === 0) continue;
      const theta = (a[3 * q + q]! - a[3 * p + p]!) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const cs = 1 / Math.sqrt(t * t + 1);
      const sn = t * cs;
      for (let k = 0; k < 3; k++) { // A ← A J (columns p, q)
        const akp = a[3 * k + p]!;
        const akq = a[3 * k + q]!;
        a[3 * k + p] = cs * akp - sn * akq;
        a[3 * k + q] = sn * akp + cs * akq;
      }
      for (let k = 0; k < 3; k++) { // A ← Jᵀ A (rows p, q)
        const apk = a[3 * p + k]!;
        const aqk = a[3 * q + k]!;
        a[3 * p + k] = cs * apk - sn * aqk;
        a[3 * q + k] = sn * apk + cs * aqk;
      }
      for (let k = 0; k < 3; k++) { // V ← V J
        const vkp = v[3 * k + p]!;
        const vkq = v[3 * k + q]!;
        v[3 * k + p] = cs * vkp - sn * vkq;
        v[3 * k + q] = sn * vkp + cs * vkq;
      }
    }
  }
  return { values: [a[0]!, a[4]!, a[8]!], vectors: v };
}

/** C^p for a symmetric positive-definite 3×3 matrix (p = ½ or −½), through its eigenvalues. */
export function symmetricPower(c: Mat3, p: number): number[] {
  const { values, vectors: v } = symmetricEigen(c);
  const d = values.map((x) => Math.max(x, 0) ** p);
  const out = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[3 * i + j]! += v[3 * i + k]! * d[k]! * v[3 * j + k]!;
  return out;
}

/** The matrix A of `mode` that maps covariance `cs` (the style's) onto `cc` (the content's). */
export function colourTransform(cs: Mat3, cc: Mat3, mode: ColourMatch): number[] {
  switch (mode) {
    case 'chol':
      return mul(cholesky(cc), inverse(cholesky(cs)));
    case 'pca':
      return mul(symmetricPower(cc, 0.5), symmetricPower(cs, -0.5));
    case 'sym': {
      const r = symmetricPower(cs, 0.5);
      const ri = symmetricPower(cs, -0.5);
      return mul(mul(ri, symmetricPower(mul(mul(r, cc), r), 0.5)), ri);
    }
  }
}

/** Applies x ↦ A(x − μ_from) + μ_to to every pixel; returns a new image. */
function affine(img: Image255, a: Mat3, from: readonly number[], to: readonly number[]): Image255 {
  const n = img.width * img.height;
  const d = img.data;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x0 = d[i]! - from[0]!;
    const x1 = d[n + i]! - from[1]!;
    const x2 = d[2 * n + i]! - from[2]!;
    for (let c = 0; c < 3; c++) out[c * n + i] = a[3 * c]! * x0 + a[3 * c + 1]! * x1 + a[3 * c + 2]! * x2 + to[c]!;
  }
  return { data: out, width: img.width, height: img.height };
}

/** The style image with the content image's RGB mean and covariance (see the file header). */
export function matchColour(style: Image255, content: Image255, mode: ColourMatch): Image255 {
  const s = colourStats(style);
  const c = colourStats(content);
  return affine(style, colourTransform(s.cov, c.cov, mode), s.mean, c.mean);
}

/** BT.601 luma of every pixel. */
export function luma(img: Image255): Float64Array {
  const n = img.width * img.height;
  const d = img.data;
  return Float64Array.from({ length: n }, (_, i) => 0.299 * d[i]! + 0.587 * d[n + i]! + 0.114 * d[2 * n + i]!);
}

/** The style image scaled and shifted so that its luma has the content's mean and deviation. */
export function matchLuminance(style: Image255, content: Image255): Image255 {
  const stats = (y: Float64Array) => {
    const mean = y.reduce((a, v) => a + v, 0) / y.length;
    const sd = Math.sqrt(y.reduce((a, v) => a + (v - mean) ** 2, 0) / y.length);
    return { mean, sd };
  };
  const s = stats(luma(style));
  const c = stats(luma(content));
  const a = s.sd > 0 ? c.sd / s.sd : 1;
  const b = c.mean - a * s.mean;
  return { data: Float32Array.from(style.data, (v) => a * v + b), width: style.width, height: style.height };
}

/**
 * Seeded Gaussian noise of `width`×`height` with `img`'s RGB mean and covariance, clipped to
 * 0–255: the baseline a texture must beat (it has the painting's colours and none of its
 * structure).
 */
export function colourMatchedNoise(img: Image255, seed: number, width = img.width, height = img.height): Image255 {
  const { mean, cov } = colourStats(img);
  const l = cholesky(cov);
  const g = gaussian(seed);
  const n = width * height;
  const data = new Float32Array(3 * n);
  for (let k = 0; k < n; k++) {
    const z = [g(), g(), g()];
    for (let i = 0; i < 3; i++) data[i * n + k] = Math.min(255, Math.max(0, mean[i]! + l[3 * i]! * z[0]! + l[3 * i + 1]! * z[1]! + l[3 * i + 2]! * z[2]!));
  }
  return { data, width, height };
}
