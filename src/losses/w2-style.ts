/**
 * Wasserstein-2 style loss: the squared W2 distance between Gaussian fits of the generated and
 * style features at one layer, divided by the channel count — the style loss of crowsonkb's
 * style-transfer-pytorch (there as a mean over channels of the same quantity).
 *
 * Notation: F [N, M] are the generated image's features at layer l (N = N_l channels,
 * M = M_l = H_l·W_l positions); μ = F·1/M [N]; Σ = (F − μ1ᵀ)(F − μ1ᵀ)ᵀ / M [N, N] (biased);
 * μ_s, Σ_s the style target's; I the N×N identity.
 *
 * Formula:        W_l = ( ‖μ − μ_s‖² + tr(Σ_δ) + tr(Σ_s,δ) − 2 tr( (Σ_δ Σ_s,δ)^½ ) ) / N,
 *                 with Σ_δ = Σ + δI, Σ_s,δ = Σ_s + δI, δ = 1e-4 · tr(Σ_s) + 1e-8.
 *                 tr((Σ_δ Σ_s,δ)^½) = tr((Σ_s,δ^½ Σ_δ Σ_s,δ^½)^½): the product has the same
 *                 eigenvalues as the symmetric form, so no square root of Σ_s is needed.
 * Regularisation: feature covariances are badly conditioned (condition numbers 1e5 to 1e300 on
 *                 the reference fixture, where relu5_1 has fewer positions than channels; on
 *                 seeded random VGG-19 at 512 px one eigenvalue is ~170× the mean). δ is a
 *                 ten-thousandth of tr(Σ_s), so that A/tr(A) keeps its eigenvalues above ~1e-8
 *                 whatever N. Measured: on the fixture W_l moves by 0.08–0.36 % from the
 *                 unregularised float64 value (tests/cli/cli.test.ts checks ≤ 1 %); on random
 *                 VGG-19 at 512 px (tubingen × Starry Night) by 1.1–2.3 %. With δ = 1e-3·tr(Σ_s)/N
 *                 (0.1 % of the mean variance) float32 Newton–Schulz diverged to NaN at relu5_1
 *                 of random VGG-19 after 30 iterations; so did a float64 continuation of it.
 * Square root:    tr(A^½) of A = Σ_δ Σ_s,δ by 30 float32 coupled Newton–Schulz iterations in the
 *                 graph (ops.ts TraceSqrtm); its gradient is the implicit ½ A^−½ᵀ that the same
 *                 iteration returns, not a backward pass through the iterations. Against a
 *                 float64 eigendecomposition of this formula: ≤ 1.6e-5 relative on the fixture
 *                 (test: ≤ 1e-3), ≤ 3.3e-4 on random VGG-19 at 512 px, where W is a small difference
 *                 of traces of ~1e5 and float32 cancellation sets that floor.
 * Normalisation:  1/N, here only. The presets' Gram factors k_l do not apply to this loss.
 * Target:         the moments of the blend of the style images, as a mixture with weights b_k:
 *                 μ_s = Σ_k b_k μ_k, Σ_s = Σ_k b_k (Σ_k + μ_k μ_kᵀ) − μ_s μ_sᵀ; per-position
 *                 statistics, so the style image's size needs no correction.
 * Auto-normalisation scale: the term at F = 0, to first order in δ: ( ‖μ_s‖² + tr Σ_s ) / N.
 * Differs from paper: not in Gatys et al. (a Gaussian-fit statistic instead of the Gram matrix);
 *                 crowsonkb takes the same distance without δ, by float32 Newton–Schulz on a GPU.
 */
import type { Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import type { FeatureMap } from './types.js';
import { sumSquares, weightedSum, type ImageStats, type LayerGeometry, type LossUnit, type StatValues, type Stats } from './unit.js';

/** δ = W2_RELATIVE_DELTA · tr(Σ_s) + W2_ABSOLUTE_DELTA. */
export const W2_RELATIVE_DELTA = 1e-4;
export const W2_ABSOLUTE_DELTA = 1e-8;
/** Newton–Schulz iterations for tr(A^½). */
export const W2_ITERATIONS = 30;

/** The W2 target at one layer: μ_s [N] and Σ_s [N,N]. */
export type W2Target = Stats<'w2', 'mean' | 'covariance'>;

/**
 * Per-channel mean [N] and biased covariance [N,N] of features [1,N,H,W]. The mean is summed over
 * W, then H (float32 rounding then grows with H + W, not H·W).
 */
function moments(t: Tape, features: FeatureMap, label: string): { mean: Value; covariance: Value } {
  const [, n, h, w] = features.shape as [number, number, number, number];
  const rows = t.reduceMean(features, `${label}.row_mean`, { axes: [3], keepdims: true });
  const mean = t.reduceMean(rows, `${label}.mean`, { axes: [2], keepdims: true });
  const centred = t.reshape(t.sub(features, mean, `${label}.centre`), [n, h * w], `${label}.flatten`);
  const covariance = t.scale(t.gram(centred, `${label}.gram`), 1 / (h * w), `${label}.covariance`);
  return { mean: t.reshape(mean, [n], `${label}.mean_flat`), covariance };
}

/** tr(X) of X [N,N], as Σ (X ⊙ I). */
function trace(t: Tape, x: Value, eye: Value, label: string): Value {
  return t.reduceSum(t.mul(x, eye, `${label}.diag`), label);
}

/** The W2 style unit. */
export const w2Style: LossUnit<'w2', 'mean' | 'covariance'> = {
  kind: 'w2',
  role: 'style',
  formula: '(‖μ − μ_s‖² + tr(Σ_δ + Σ_s,δ − 2 (Σ_δ Σ_s,δ)^½)) / N',
  shapes: ([, n]) => ({ mean: [n!], covariance: [n!, n!] }),
  statistics: (t, features, label) => moments(t, features, label),
  target(images: readonly ImageStats<'mean' | 'covariance'>[]): W2Target {
    const mean = weightedSum(images, 'mean');
    const mu = mean.data as Float32Array;
    const n = mu.length;
    const second = new Float64Array(n * n);
    for (const img of images) {
      const m = img.stats.mean.data as Float32Array;
      const c = img.stats.covariance.data as Float32Array;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) second[i * n + j]! += img.weight * (c[i * n + j]! + m[i]! * m[j]!);
    }
    const covariance = Float32Array.from(second, (s, k) => s - mu[Math.floor(k / n)]! * mu[k % n]!);
    return { kind: 'w2', tensors: { mean, covariance: { data: covariance, dims: [n, n] } } };
  },
  term(t: Tape, features: FeatureMap, target: StatValues<'mean' | 'covariance'>, label: string): Value {
    const n = features.shape[1]!;
    const b = t.b;
    const eye = b.constant(`${label}.eye`, Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)), [n, n]);
    const own = moments(t, features, label);
    // δ from the target alone (a constant of the graph's inputs, not of the image).
    const trStyle = trace(t, target.covariance, eye, `${label}.tr_style`);
    const delta = t.add(t.scale(trStyle, W2_RELATIVE_DELTA, `${label}.delta_rel`), b.scalar(W2_ABSOLUTE_DELTA, `${label}.delta_abs`), `${label}.delta`);
    const deltaI = t.mul(eye, delta, `${label}.delta_eye`);
    const cov = t.add(own.covariance, deltaI, `${label}.cov_delta`);
    const covStyle = t.add(target.covariance, deltaI, `${label}.style_cov_delta`);
    const cross = t.traceSqrtm(t.matmul(cov, covStyle, `${label}.product`), W2_ITERATIONS, `${label}.tr_sqrt`);
    const dMean = t.reduceSumSquare(t.sub(own.mean, target.mean, `${label}.dmean`), `${label}.mean_sq`);
    const traces = t.add(trace(t, cov, eye, `${label}.tr_own`), trace(t, covStyle, eye, `${label}.tr_style_delta`), `${label}.traces`);
    const sum = t.sub(t.add(dMean, traces, `${label}.sum`), t.scale(cross, 2, `${label}.two_cross`), `${label}.w2`);
    return t.scale(sum, 1 / n, label);
  },
  scale(target: W2Target, at: LayerGeometry): number {
    const c = target.tensors.covariance.data as Float32Array;
    let tr = 0;
    for (let i = 0; i < at.channels; i++) tr += c[i * at.channels + i]!;
    return (sumSquares(target.tensors.mean.data as Float32Array) + tr) / at.channels;
  },
};
