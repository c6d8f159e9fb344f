/** 8-bit RGB images and their planar float form, with no platform dependency (Node and browser). */
import type { Image255 } from '../pipeline/problem.js';

/** Interleaved 8-bit RGB pixels, row-major [H,W,3]. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Interleaved 8-bit RGB → planar [3,H,W] float32 in 0–255. */
export function toPlanar(img: RgbImage): Image255 {
  const n = img.width * img.height;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = img.data[3 * i + c]!;
  return { data, width: img.width, height: img.height };
}

/** Planar [3,H,W] float32 (0–255, any values) → interleaved 8-bit RGB, rounded and clipped. */
export function fromPlanar(img: Image255): RgbImage {
  const n = img.width * img.height;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.min(255, Math.max(0, Math.round(img.data[c * n + i]!)));
  return { data, width: img.width, height: img.height };
}
