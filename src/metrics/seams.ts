/**
 * Seams of a tiled image: how much a texture's wrap edge differs from any neighbouring pair of
 * columns or rows inside it.
 *
 *   seam ratio = mean(|x[:, :, :, W−1] − x[:, :, :, 0]| and |x[:, :, H−1, :] − x[:, :, 0, :]|)
 *              / mean(|x[:, :, :, j+1] − x[:, :, :, j]| and |x[:, :, i+1, :] − x[:, :, i, :]|)
 *
 * over all channels (0–255 values): 1 when the seam is like any interior neighbour pair; a plain
 * (not tileable) texture's seam joins unrelated edges and scores higher.
 */
import type { RgbImage } from '../image/io-node.js';
import type { Image255 } from '../pipeline/problem.js';

/** The seam ratio of a planar image (see the file header). */
export function seamRatio(img: Image255): number {
  const { width: w, height: h, data } = img;
  const at = (c: number, i: number, j: number) => data[(c * h + i) * w + j]!;
  let seam = 0;
  let seamCount = 0;
  let inner = 0;
  let innerCount = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < h; i++) {
      seam += Math.abs(at(c, i, w - 1) - at(c, i, 0));
      seamCount++;
      for (let j = 0; j + 1 < w; j++) {
        inner += Math.abs(at(c, i, j + 1) - at(c, i, j));
        innerCount++;
      }
    }
    for (let j = 0; j < w; j++) {
      seam += Math.abs(at(c, h - 1, j) - at(c, 0, j));
      seamCount++;
      for (let i = 0; i + 1 < h; i++) {
        inner += Math.abs(at(c, i + 1, j) - at(c, i, j));
        innerCount++;
      }
    }
  }
  return seam / seamCount / (inner / innerCount);
}

/** The image repeated 2×2 (interleaved 8-bit RGB), to look at its seams. */
export function tile2x2(img: RgbImage): RgbImage {
  const { width: w, height: h } = img;
  const data = new Uint8Array(3 * 4 * w * h);
  for (let i = 0; i < 2 * h; i++) {
    for (let j = 0; j < 2 * w; j++) {
      const src = 3 * ((i % h) * w + (j % w));
      data.set(img.data.subarray(src, src + 3), 3 * (i * 2 * w + j));
    }
  }
  return { data, width: 2 * w, height: 2 * h };
}
