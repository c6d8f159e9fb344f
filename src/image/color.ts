/**
 * Colour operations on planar RGB images ([3,H,W] float32, 0–255).
 *
 * Luminance transfer ("original colours", Gatys et al. 2017 §5.1 post-hoc variant, as in
 * jcjohnson's -original_colors): keep the stylised image's luma Y and take the chroma Cb, Cr from
 * the content image, in full-range BT.601 YCbCr:
 *   Y  =  0.299 R + 0.587 G + 0.114 B
 *   Cb = −0.168736 R − 0.331264 G + 0.5 B
 *   Cr =  0.5 R − 0.418688 G − 0.081312 B
 */
import type { Image255 } from '../pipeline/problem.js';

/**
 * @param stylised Image255 [3,H,W], the optimised image.
 * @param content  Image255 [3,H,W] of the same size.
 * @returns a new Image255: Y of `stylised`, Cb and Cr of `content`.
 */
export function transferLuminance(stylised: Image255, content: Image255): Image255 {
  if (stylised.width !== content.width || stylised.height !== content.height) {
    throw new Error(`luminance transfer needs images of one size, received ${stylised.width}×${stylised.height} and ${content.width}×${content.height}`);
  }
  const n = stylised.width * stylised.height;
  const out = new Float32Array(3 * n);
  const s = stylised.data;
  const c = content.data;
  for (let i = 0; i < n; i++) {
    const y = 0.299 * s[i]! + 0.587 * s[n + i]! + 0.114 * s[2 * n + i]!;
    const cb = -0.168736 * c[i]! - 0.331264 * c[n + i]! + 0.5 * c[2 * n + i]!;
    const cr = 0.5 * c[i]! - 0.418688 * c[n + i]! - 0.081312 * c[2 * n + i]!;
    out[i] = y + 1.402 * cr;
    out[n + i] = y - 0.344136 * cb - 0.714136 * cr;
    out[2 * n + i] = y + 1.772 * cb;
  }
  return { data: out, width: stylised.width, height: stylised.height };
}

/** Size with the longest side `longest` px, keeping the aspect ratio (each side ≥ 1). */
export function sizeByLongestSide(width: number, height: number, longest: number): { width: number; height: number } {
  const s = longest / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Size with about `pixels` px of area, keeping the aspect ratio (Gatys's own sizing rule). */
export function sizeByArea(width: number, height: number, pixels: number): { width: number; height: number } {
  const s = Math.sqrt(pixels / (width * height));
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}
