/**
 * Gram-matrix style loss (Gatys et al. 2016, eqs. 3–5): E_l, whole, in this file.
 *
 * Notation: F [N, M] are the generated image's features at layer l (N = N_l channels,
 * M = M_l = H_l·W_l positions); G = F Fᵀ [N, N] is their un-normalised Gram matrix (eq. 3);
 * A [N, N] is the style target (below).
 *
 * Formula:        E_l = k_l · Σ_ij (G_ij − A_ij)²
 * Normalisation:  k_l by `GramNormalisation`, applied here and nowhere else (G is never divided):
 *                   'paper'        k_l = 1/(4·N²·M²)  eq. 4 exactly
 *                   'mean-g-by-m'  k_l = 1/(N²·M²)    mean over N² entries of (G/M − A/M)²: Gatys's
 *                                                     own code, the TF course lab (the paper's ¼
 *                                                     absent: ×4 the paper)
 *                   'mean-g-by-nm' k_l = 1/(N⁴·M²)    mean of (G/(N·M) − A/(N·M))²: jcjohnson's
 *                                                     neural-style, the PyTorch tutorial (×4/N²)
 * Reduction:      sum over the N² entries, times k_l.
 * Target:         A = Σ_k b_k · (M / M_k) · F_k F_kᵀ over the style images k, with blend weights
 *                 b_k summing to 1 and M_k the style image's positions at this layer: each style
 *                 image's per-position statistics, scaled to the generated image's M. With one
 *                 style image of the output's size, A = F_s F_sᵀ, the paper's A exactly.
 * Auto-normalisation scale: the term at F = 0, i.e. k_l · Σ A².
 * Differs from paper: nothing under 'paper'.
 */
import type { Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { asGramMatrix, type FeatureMap, type GramMatrix } from './types.js';
import { sumSquares, weightedSum, type ImageStats, type LayerGeometry, type LossUnit, type StatValues, type Stats } from './unit.js';

/** How Σ(G−A)² is normalised (see the file header). */
export type GramNormalisation = 'paper' | 'mean-g-by-m' | 'mean-g-by-nm';

/** k_l(N, M) for each normalisation, with its text and its ratio to the paper's factor. */
export const GRAM_NORMALISATIONS: Readonly<Record<GramNormalisation, { factor: (n: number, m: number) => number; text: string; vsPaper: string }>> = {
  paper: { factor: (n, m) => 1 / (4 * n * n * m * m), text: '1/(4·N²·M²)', vsPaper: '×1' },
  'mean-g-by-m': { factor: (n, m) => 1 / (n * n * m * m), text: '1/(N²·M²)', vsPaper: '×4 (the paper\'s ¼ absent)' },
  'mean-g-by-nm': { factor: (n, m) => 1 / (n ** 4 * m * m), text: '1/(N⁴·M²)', vsPaper: '×4/N²' },
};

/** The Gram style target at one layer: A [N,N], at the generated image's M. */
export type GramTarget = Stats<'gram', 'gram'>;

/** The Gram matrix G = F Fᵀ [N,N] of features [1,N,H,W], un-normalised. */
export function gramOf(t: Tape, features: FeatureMap, label: string): GramMatrix {
  const [, n, h, w] = features.shape as [number, number, number, number];
  return asGramMatrix(t.gram(t.reshape(features, [n, h * w], `${label}.flatten`), `${label}.gram`));
}

/** The Gram style unit with normalisation `norm`. */
export function gramStyle(norm: GramNormalisation): LossUnit<'gram', 'gram'> {
  const k = GRAM_NORMALISATIONS[norm].factor;
  function termOf(t: Tape, stats: StatValues<'gram'>, target: StatValues<'gram'>, at: LayerGeometry, label: string): Value {
    const diff = t.sub(asGramMatrix(stats.gram), asGramMatrix(target.gram), `${label}.diff`);
    return t.scale(t.reduceSumSquare(diff, `${label}.sumsq`), k(at.channels, at.positions), label);
  }
  return {
    kind: 'gram',
    role: 'style',
    formula: `${GRAM_NORMALISATIONS[norm].text} · Σ(G − A)²`,
    shapes: ([, n]) => ({ gram: [n!, n!] }),
    statistics: (t, features, label) => ({ gram: gramOf(t, features, label) }),
    target: (images: readonly ImageStats<'gram'>[], at: LayerGeometry): GramTarget =>
      ({ kind: 'gram', tensors: { gram: weightedSum(images, 'gram', (img) => (img.weight * at.positions) / img.positions) } }),
    tiling: 'statistics',
    termOf,
    term(t: Tape, features: FeatureMap, target: StatValues<'gram'>, label: string): Value {
      const [, n, h, w] = features.shape as [number, number, number, number];
      return termOf(t, { gram: gramOf(t, features, label) }, target, { channels: n, positions: h * w }, label);
    },
    scale: (target: GramTarget, at: LayerGeometry) => k(at.channels, at.positions) * sumSquares(target.tensors.gram.data as Float32Array),
  };
}
