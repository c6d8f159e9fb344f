/**
 * Guided Gram style loss (Gatys et al. 2017, *Controlling Perceptual Factors in Neural Style
 * Transfer*, §4): a style applied to a region of the output, with its statistics taken from a
 * region of its style image. One term per style layer l and region r.
 *
 * Notation: F [N, M] the generated image's features at layer l; T_r [M] the region's content
 * guide at layer l and S_r [M_s] its style guide at the style image's layer l, each propagated
 * and normalised by guides.ts (T / √mean(T²)); F_s [N, M_s] the style image's features.
 *
 * Formula:        E_l,r = k_l · Σ_ij (G_r − A_r)²_ij,  G_r = (F∘T_r)(F∘T_r)ᵀ
 * Target:         A_r = (M / M_s) · (F_s∘S_r)(F_s∘S_r)ᵀ, from the region's own style image only
 *                 (TermSpec.sources); the M / M_s scaling as gram-style.ts
 * Normalisation:  k_l as the preset's Gram normalisation (gram-style.ts), with the layer's N and M:
 *                 with a normalised binary guide, G_r is the region's mean of F Fᵀ times M, the
 *                 scale of the unguided G, so the presets' weights carry over.
 * Auto-normalisation scale: k_l · Σ A_r² (the term at F = 0).
 * With T ≡ S ≡ 1 (one region covering everything) this is exactly the Gram loss.
 */
import type { Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { gramStyle, GRAM_NORMALISATIONS, type GramNormalisation } from './gram-style.js';
import type { Guide } from './guides.js';
import { asFeatureMap, type FeatureMap } from './types.js';
import type { LossUnit, StatValues } from './unit.js';

/** F∘T for features [1,N,H,W] and a guide [H,W], as a graph constant broadcast over channels. */
function guided(t: Tape, features: FeatureMap, guide: Guide, label: string): FeatureMap {
  const [, , h, w] = features.shape as [number, number, number, number];
  if (guide.height !== h || guide.width !== w) throw new Error(`${label}: a ${guide.width}×${guide.height} guide for ${w}×${h} features`);
  return asFeatureMap(t.mul(features, t.b.constant(`${label}.guide`, guide.data, [1, 1, h, w]), `${label}.guided`), label);
}

/**
 * The guided Gram unit for one region at one layer.
 * @param styleGuide S_r at the style image's layer size (normalised)
 * @param contentGuide T_r at the output's layer size (normalised)
 */
export function guidedGram(norm: GramNormalisation, styleGuide: Guide, contentGuide: Guide): LossUnit<'gram', 'gram'> {
  const plain = gramStyle(norm); // the target (M / M_s scaling) and the scale are the Gram unit's
  return {
    ...plain,
    tiling: undefined, // the guides are per position of the whole image: not tiled
    termOf: undefined,
    formula: `${GRAM_NORMALISATIONS[norm].text} · Σ(G_r − A_r)², G_r = (F∘T_r)(F∘T_r)ᵀ`,
    statistics: (t, features, label) => plain.statistics(t, guided(t, features, styleGuide, label), label),
    term: (t: Tape, features: FeatureMap, target: StatValues<'gram'>, label: string): Value =>
      plain.term(t, guided(t, features, contentGuide, label), target, label),
  };
}
