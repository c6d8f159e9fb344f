/**
 * The strength knob: one number s in [0, 1] that sets the style weight β, monotone in s, for every
 * network and preset.
 *
 * - Scale-free terms (auto-normalised layer weights, objective.ts `autoNormalise`: each content
 *   term reads as ‖F − P‖²/‖P‖² and each style term as its relative error at zero features): the
 *   same β strikes about the same balance whatever the weight file's convention or the image size,
 *   but not whatever the network, so each network family has its own range of log₁₀ β:
 *
 *       β = 10^(lo + s·(hi − lo))
 *
 *   The ranges were measured with bench/strength.ts (content SSIM and style distance under an
 *   independent network, across β = 1 … 1e5, on the committed photo and paintings): at s = 0 the
 *   result is the photo with a trace of the painting's colour, at s = 1 the style distance has
 *   stopped falling, and both measures move monotonically in between.
 * - Raw terms (a tool preset without auto-normalisation): the preset's own β is s = ½, and each
 *   unit of s is 4 decades: β = β_preset · 10^(4·(s − ½)). The tools' β were chosen for their own
 *   networks and conventions (presets.ts), so this is monotone but not calibrated.
 */
import type { FeatureNet } from '../networks/feature-net.js';
import { OptionError } from '../errors.js';

/** The strength when none is given. */
export const DEFAULT_STRENGTH = 0.5;

/** log₁₀ β at s = 0 and s = 1 for scale-free terms, by network family (bench/strength.ts). */
export const STRENGTH_RANGES: Readonly<Record<FeatureNet['family'], readonly [number, number]>> = {
  untrained: [0, 3],
  vgg: [-2.5, 0.5],
};

/** Decades of β per unit of strength around a raw preset's own β. */
export const RAW_DECADES = 4;

/**
 * β for a strength.
 * @param strength s in [0, 1]
 * @param normalised whether the terms are scale-free (auto-normalised)
 * @param presetBeta the preset's own β (used for raw terms)
 */
export function styleWeightOf(strength: number, family: FeatureNet['family'], normalised: boolean, presetBeta: number): number {
  if (!(typeof strength === 'number' && strength >= 0 && strength <= 1)) throw new OptionError(`invalid strength ${String(strength)}: expected a number from 0 to 1`);
  if (!Object.hasOwn(STRENGTH_RANGES, family)) throw new OptionError(`unknown network family ${JSON.stringify(family)}: expected one of ${Object.keys(STRENGTH_RANGES).join(', ')}`);
  if (!normalised && !(presetBeta > 0 && presetBeta < Infinity)) throw new OptionError(`invalid preset β ${String(presetBeta)}: expected a finite number > 0`);
  if (normalised) {
    const [lo, hi] = STRENGTH_RANGES[family];
    return 10 ** (lo + strength * (hi - lo));
  }
  return presetBeta * 10 ** (RAW_DECADES * (strength - 0.5));
}
