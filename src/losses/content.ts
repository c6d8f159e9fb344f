/**
 * Content loss (Gatys et al. 2016, eq. 1).
 *
 * Notation: F^l [N_l, M_l] are the generated image's features at layer l, P^l the content image's
 * (N_l = channels, M_l = H_l·W_l).
 *
 * Formula:        L_content = k · Σ_ij (F_ij − P_ij)²
 * Normalisation:  k is the preset's `contentFactor(N, M)`; k = ½ under `paper` (eq. 1 exactly).
 * Reduction:      sum over all N_l·M_l elements (not a mean).
 * Differs from paper: nothing under `paper`; other presets change k only (see presets.ts).
 */
import type { Value } from '../graph/builder.js';
import type { FeatureMap } from './types.js';
import { Tape } from '../graph/autodiff.js';

/**
 * @param features  FeatureMap [1,N,H,W] of the image being optimised (tracked).
 * @param target    FeatureMap [1,N,H,W] of the content image at the same layer (a graph input).
 * @param factor    k above, a plain number.
 * @returns scalar Value: k · Σ (F − P)².
 */
export function contentLoss(t: Tape, features: FeatureMap, target: FeatureMap, factor: number, label: string): Value {
  const diff = t.sub(features, target, `${label}.diff`);
  return t.scale(t.reduceSumSquare(diff, `${label}.sumsq`), factor, label);
}
