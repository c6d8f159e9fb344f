/**
 * Mean–standard-deviation style loss: the per-channel statistics of AdaIN (Huang & Belongie 2017)
 * as a style loss, at one layer.
 *
 * Notation: F [N, M] are the generated image's features at layer l (N = N_l channels,
 * M = M_l = H_l·W_l positions); μ = F·1/M [N] is the per-channel mean; Σ_ii = Σ_j (F_ij − μ_i)² / M
 * is the biased per-channel variance (the diagonal of the covariance); σ_i = √(Σ_ii + ε) with
 * ε = 1e-5 (the AdaIN ε; it keeps the gradient finite for a constant channel). μ_s, σ_s: the
 * style target's.
 *
 * Formula:        S_l = ( ‖μ − μ_s‖² + ‖σ − σ_s‖² ) / N
 * Normalisation:  1/N, here only. The presets' Gram factors k_l do not apply to this loss.
 * Reduction:      sums over the N channels, divided by N.
 * Target:         the moments of the blend of the style images, as a mixture with weights b_k:
 *                 μ_s = Σ_k b_k μ_k and Σ_s,ii = Σ_k b_k (Σ_k,ii + μ_k,i²) − μ_s,i²; one style image
 *                 gives its own μ and Σ_ii. Both are per-position averages, so the style image's size
 *                 needs no correction.
 * Auto-normalisation scale: the term at F = 0 (μ = 0, σ = √ε ≈ 0), taken as ( ‖μ_s‖² + ‖σ_s‖² ) / N.
 * Differs from paper: not in Gatys et al.; a cheaper style statistic (2N numbers per layer
 *                 instead of N²) that ignores channel correlations.
 */
import type { Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import type { FeatureMap } from './types.js';
import { sumSquares, weightedSum, type ImageStats, type LayerGeometry, type LossUnit, type StatValues, type Stats } from './unit.js';

/** ε in σ = √(Σ_ii + ε). */
export const MEAN_STD_EPS = 1e-5;

/** The mean–std target at one layer: μ_s [N] and Σ_s,ii [N]. */
export type MeanStdTarget = Stats<'mean-std', 'mean' | 'variance'>;

/**
 * Per-channel mean [N] and biased variance [N] of features [1,N,H,W]. Each sum over the M = H·W
 * positions is taken over W, then over H: float32 rounding then grows with H + W rather than H·W
 * (one flat sum was 1e-5 off the float64 value at M = 7500; two were 2e-7).
 */
function moments(t: Tape, features: FeatureMap, label: string): { mean: Value; variance: Value } {
  const [, n, h, w] = features.shape as [number, number, number, number];
  const rows = t.reduceMean(features, `${label}.row_mean`, { axes: [3], keepdims: true });
  const mean = t.reduceMean(rows, `${label}.mean`, { axes: [2], keepdims: true });
  const centred = t.sub(features, mean, `${label}.centre`);
  const rowSq = t.reduceSumSquare(centred, `${label}.row_sumsq`, { axes: [3], keepdims: true });
  const variance = t.scale(t.reduceSum(rowSq, `${label}.sumsq`, { axes: [0, 2, 3] }), 1 / (h * w), `${label}.variance`);
  return { mean: t.reshape(mean, [n], `${label}.mean_flat`), variance };
}

/** The mean–std style unit. */
export const meanStdStyle: LossUnit<'mean-std', 'mean' | 'variance'> = {
  kind: 'mean-std',
  role: 'style',
  formula: '(‖μ − μ_s‖² + ‖σ − σ_s‖²) / N',
  shapes: ([, n]) => ({ mean: [n!], variance: [n!] }),
  statistics: (t, features, label) => moments(t, features, label),
  target(images: readonly ImageStats<'mean' | 'variance'>[]): MeanStdTarget {
    const mean = weightedSum(images, 'mean');
    const second = new Float32Array(mean.data.length);
    for (const img of images) {
      const m = img.stats.mean.data as Float32Array;
      const v = img.stats.variance.data as Float32Array;
      for (let i = 0; i < second.length; i++) second[i]! += img.weight * (v[i]! + m[i]! * m[i]!);
    }
    const mu = mean.data as Float32Array;
    const variance = second.map((s, i) => Math.max(0, s - mu[i]! * mu[i]!));
    return { kind: 'mean-std', tensors: { mean, variance: { data: variance, dims: mean.dims } } };
  },
  term(t: Tape, features: FeatureMap, target: StatValues<'mean' | 'variance'>, label: string): Value {
    const n = features.shape[1]!;
    const own = moments(t, features, label);
    const eps = t.b.scalar(MEAN_STD_EPS, `${label}.eps`);
    const std = t.sqrt(t.add(own.variance, eps, `${label}.var_eps`), `${label}.std`);
    const stdS = t.sqrt(t.add(target.variance, eps, `${label}.target_var_eps`), `${label}.target_std`);
    const dMean = t.reduceSumSquare(t.sub(own.mean, target.mean, `${label}.dmean`), `${label}.mean_sq`);
    const dStd = t.reduceSumSquare(t.sub(std, stdS, `${label}.dstd`), `${label}.std_sq`);
    return t.scale(t.add(dMean, dStd, `${label}.sum`), 1 / n, label);
  },
  scale(target: MeanStdTarget, at: LayerGeometry): number {
    const v = target.tensors.variance.data as Float32Array;
    let s = sumSquares(target.tensors.mean.data as Float32Array);
    for (let i = 0; i < v.length; i++) s += v[i]! + MEAN_STD_EPS;
    return s / at.channels;
  },
};
