/**
 * Total-variation regulariser on the image (not in Gatys et al.; jcjohnson and most ports add it).
 *
 * Notation: x [1,3,H,W] is the RGB image in 0–255 units; dh = x[:,:,i+1,j] − x[:,:,i,j] over
 * i < H−1, dw = x[:,:,i,j+1] − x[:,:,i,j] over j < W−1.
 *
 * Formula:        L2 form: L_tv = Σ dh² + Σ dw²      L1 form: L_tv = Σ |dh| + Σ |dw|
 * Normalisation:  none (sums over all channels and positions, in 0–255 units).
 * Reduction:      sum.
 * Differs from jcjohnson (neural_style.lua, TVLoss): he adds tv_weight · ∇(½(Σ dh² + Σ dw²))
 *                 to the gradient and never reports the value; here the reported value and the
 *                 gradient come from the same expression, so γ here = his tv_weight / 2 (his
 *                 default 1e-3 is γ = 5e-4). He also takes both differences over the
 *                 (H−1)×(W−1) top-left crop, leaving out the last row's dw and the last column's
 *                 dh; here dh spans all W columns and dw all H rows (not reproduced).
 */
import type { Value } from '../graph/builder.js';
import type { ImageValue } from './types.js';
import { Tape } from '../graph/autodiff.js';

/** Which total-variation form. */
export type TvForm = 'l2' | 'l1';

/** dh [1,3,H−1,W] and dw [1,3,H,W−1] of the header. */
function differences(t: Tape, image: ImageValue, label: string): { dh: Value; dw: Value } {
  const [, , h, w] = image.shape as [number, number, number, number];
  const dh = t.sub(
    t.slice(image, { axes: [2], starts: [1], ends: [h] }, `${label}.down`),
    t.slice(image, { axes: [2], starts: [0], ends: [h - 1] }, `${label}.up`),
    `${label}.dh`,
  );
  const dw = t.sub(
    t.slice(image, { axes: [3], starts: [1], ends: [w] }, `${label}.right`),
    t.slice(image, { axes: [3], starts: [0], ends: [w - 1] }, `${label}.left`),
    `${label}.dw`,
  );
  return { dh, dw };
}

/**
 * @param image Image [1,3,H,W] float32, RGB 0–255 (tracked); H, W ≥ 2.
 * @param wrap also the seams of the image tiled (first row − last row, first column − last
 *        column), for textures that tile: then dh spans all H rows and dw all W columns.
 * @returns scalar Value L_tv.
 */
export function tvLoss(t: Tape, image: ImageValue, form: TvForm, label = 'tv', wrap = false): Value {
  const [, , h, w] = image.shape as [number, number, number, number];
  const { dh, dw } = differences(t, image, label);
  const reduce = (d: Value, l: string) => (form === 'l2' ? t.reduceSumSquare(d, l) : t.reduceSum(t.abs(d, `${l}.abs`), l));
  const total = t.add(reduce(dh, `${label}.h`), reduce(dw, `${label}.w`), wrap ? `${label}.inner` : label);
  if (!wrap) return total;
  // The seams of a tiled image: first row against last, first column against last.
  const seamH = t.sub(
    t.slice(image, { axes: [2], starts: [0], ends: [1] }, `${label}.first_row`),
    t.slice(image, { axes: [2], starts: [h - 1], ends: [h] }, `${label}.last_row`),
    `${label}.seam_h`,
  );
  const seamW = t.sub(
    t.slice(image, { axes: [3], starts: [0], ends: [1] }, `${label}.first_col`),
    t.slice(image, { axes: [3], starts: [w - 1], ends: [w] }, `${label}.last_col`),
    `${label}.seam_w`,
  );
  return t.add(total, t.add(reduce(seamH, `${label}.sh`), reduce(seamW, `${label}.sw`), `${label}.seams`), label);
}

/**
 * L_tv of one block of a larger image (pipeline/tiled.ts, not wrapped): each difference is counted
 * by the block that owns its first pixel (the upper one of dh, the left one of dw), so the blocks'
 * values add up to the whole image's L_tv exactly. A block owns no pixel on its own edge unless
 * that edge is the image's, so no counted difference leaves the block.
 * @param image the block [1,3,h,w], RGB 0–255 (tracked).
 * @param owned [1,1,h,w]: 1 where the pixel is this block's own, else 0.
 * @returns scalar Value: Σ owned·(dh² or |dh|) + Σ owned·(dw² or |dw|), the form's sums above.
 */
export function tvOfBlock(t: Tape, image: ImageValue, owned: Value, form: TvForm, label = 'tv'): Value {
  const [, , h, w] = image.shape as [number, number, number, number];
  const { dh, dw } = differences(t, image, label);
  // A mask of 0 and 1 commutes with the square and the absolute value: owned·d² = (owned·d)².
  const mh = t.mul(dh, t.slice(owned, { axes: [2], starts: [0], ends: [h - 1] }, `${label}.own_h`), `${label}.dh_owned`);
  const mw = t.mul(dw, t.slice(owned, { axes: [3], starts: [0], ends: [w - 1] }, `${label}.own_w`), `${label}.dw_owned`);
  const reduce = (d: Value, l: string) => (form === 'l2' ? t.reduceSumSquare(d, l) : t.reduceSum(t.abs(d, `${l}.abs`), l));
  return t.add(reduce(mh, `${label}.h`), reduce(mw, `${label}.w`), label);
}
