/**
 * Content loss (Gatys et al. 2016, eq. 1): the generated image's features against the content
 * image's, at one layer.
 *
 * Notation: F [N, M] are the generated image's features at layer l, P [N, M] the content image's
 * (N = N_l channels, M = M_l = H_l·W_l positions; both images have the output size).
 *
 * Formula:        L_content = k_c · Σ_ij (F_ij − P_ij)²
 * Normalisation:  k_c by `ContentNormalisation`, applied here and nowhere else:
 *                   'half-sum'  k_c = ½          the paper's eq. 1 exactly; the TF course lab
 *                   'mean'      k_c = 1/(N·M)    a mean squared error: Gatys's own code,
 *                                                jcjohnson/neural-style, the PyTorch tutorial
 * Reduction:      sum over all N·M elements, times k_c.
 * Target:         P, the content image's features (one image; no blend).
 * Auto-normalisation scale: the term at F = 0, i.e. k_c · Σ P².
 * Differs from paper: nothing under 'half-sum'.
 */
import type { Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import type { FeatureMap } from './types.js';
import { sumSquares, type ImageStats, type LayerGeometry, type LossUnit, type StatValues, type Stats } from './unit.js';

/** How the content sum is normalised (see the file header). */
export type ContentNormalisation = 'half-sum' | 'mean';

/** k_c(N, M) for each normalisation, with its text in the paper's notation. */
export const CONTENT_NORMALISATIONS: Readonly<Record<ContentNormalisation, { factor: (n: number, m: number) => number; text: string }>> = {
  'half-sum': { factor: () => 0.5, text: '1/2' },
  mean: { factor: (n, m) => 1 / (n * m), text: '1/(N·M)' },
};

/** The content target at one layer: P [1,N,H_l,W_l]. */
export type ContentTarget = Stats<'content', 'features'>;

/** The content unit with normalisation `norm`. */
export function contentUnit(norm: ContentNormalisation): LossUnit<'content', 'features'> {
  const k = CONTENT_NORMALISATIONS[norm].factor;
  function termOf(t: Tape, stats: StatValues<'features'>, target: StatValues<'features'>, at: LayerGeometry, label: string): Value {
    const diff = t.sub(stats.features, target.features, `${label}.diff`);
    return t.scale(t.reduceSumSquare(diff, `${label}.sumsq`), k(at.channels, at.positions), label);
  }
  return {
    kind: 'content',
    role: 'content',
    formula: `${CONTENT_NORMALISATIONS[norm].text} · Σ(F − P)²`,
    shapes: (features) => ({ features }),
    statistics: (_t, features) => ({ features }),
    target(images: readonly ImageStats<'features'>[], at: LayerGeometry): ContentTarget {
      if (images.length !== 1) throw new Error(`the content target comes from one image, received ${images.length}`);
      if (images[0]!.positions !== at.positions) {
        throw new Error(`the content image has ${images[0]!.positions} positions at this layer, the output ${at.positions}: it must have the output size`);
      }
      return { kind: 'content', tensors: images[0]!.stats };
    },
    tiling: 'positions',
    termOf,
    term(t: Tape, features: FeatureMap, target: StatValues<'features'>, label: string): Value {
      const [, n, h, w] = features.shape as [number, number, number, number];
      return termOf(t, { features }, target, { channels: n, positions: h * w }, label);
    },
    scale: (target: ContentTarget, at: LayerGeometry) => k(at.channels, at.positions) * sumSquares(target.tensors.features.data as Float32Array),
  };
}
