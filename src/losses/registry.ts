/**
 * The style losses that `--style-loss` can name. Adding one: a new unit file in this folder (see
 * unit.ts) and one line here.
 */
import type { AnyLossUnit } from './unit.js';
import type { Preset } from './presets.js';
import { gramStyle } from './gram-style.js';
import { meanStdStyle } from './mean-std-style.js';
import { w2Style } from './w2-style.js';

/** Each style loss's unit under a preset (only the Gram loss takes the preset's normalisation). */
export const STYLE_LOSSES = {
  gram: (preset: Preset) => gramStyle(preset.gram),
  'mean-std': () => meanStdStyle,
  w2: () => w2Style,
} satisfies Record<string, (preset: Preset) => AnyLossUnit>;

export type StyleLossName = keyof typeof STYLE_LOSSES;
