/**
 * Gram-matrix style loss (Gatys et al. 2016, eqs. 3–5).
 *
 * Notation: F^l [N_l, M_l] are the generated image's features at layer l (N_l = channels,
 * M_l = H_l·W_l); G^l = F^l F^lᵀ [N_l, N_l] is their un-normalised Gram matrix (eq. 3);
 * A^l is the style image's Gram matrix, brought to the generated image's M_l (see below).
 *
 * Formula:        E_l = k_l · Σ_ij (G_ij − A_ij)²
 * Normalisation:  k_l is the preset's `styleFactor(N, M)`; k_l = 1/(4 N_l² M_l²) under `paper`
 *                 (eq. 4 exactly). It is applied here and nowhere else: G is never divided.
 * Reduction:      sum over the N_l² entries (not a mean).
 * Style of another size: A^l = (M_l / M_l^s) · F_s F_sᵀ, i.e. the style image's per-position
 *                 statistics scaled to the generated image's size. When both images have the same
 *                 size this is the paper's A^l exactly. Blends of several style images are the
 *                 weighted sum of these A^l (weights summing to 1).
 * Differs from paper: nothing under `paper`.
 */
import type { Value } from '../graph/builder.js';
import { asGramMatrix, type FeatureMap, type GramMatrix } from './types.js';
import { Tape } from '../graph/autodiff.js';

/**
 * @param features FeatureMap [1,N,H,W] of the image being optimised (tracked).
 * @param target   GramMatrix [N,N] A^l, already scaled to this image's M_l (a graph input).
 * @param factor   k_l above.
 * @returns scalar Value E_l.
 */
export function gramStyleLoss(t: Tape, features: FeatureMap, target: GramMatrix, factor: number, label: string): Value {
  const [, n, h, w] = features.shape as [number, number, number, number];
  const flat = t.reshape(features, [n, h * w], `${label}.flatten`);
  const gram: GramMatrix = asGramMatrix(t.gram(flat, `${label}.gram`));
  const diff = t.sub(gram, target, `${label}.diff`);
  return t.scale(t.reduceSumSquare(diff, `${label}.sumsq`), factor, label);
}

/** The Gram matrix G = F Fᵀ [N,N] of features [1,N,H,W], for the forward-only target graph. */
export function gramOf(t: Tape, features: FeatureMap, label: string): GramMatrix {
  const [, n, h, w] = features.shape as [number, number, number, number];
  return asGramMatrix(t.gram(t.reshape(features, [n, h * w], `${label}.flatten`), label));
}
