/**
 * Bicubic resampling of planar float images, for carrying an iterate (or Adam's moments) from
 * one scale to the next without rounding to 8 bits.
 *
 * Kernel: Keys' cubic convolution with a = −0.75, the kernel of PyTorch's
 * `interpolate(mode='bicubic', align_corners=False)` that crowsonkb/style-transfer-pytorch uses;
 * sample positions at pixel centres (x_src = (x_dst + ½)·W_src/W_dst − ½), edges clamped.
 * Separable: rows, then columns. Values may overshoot the input's range; callers clamp.
 */

/** Keys' cubic kernel with a = −0.75 at distance |t|. */
function cubic(t: number): number {
  const a = -0.75;
  const x = Math.abs(t);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** For each output index: the 4 source indices (clamped) and their weights. */
function taps(from: number, to: number): { idx: Int32Array; w: Float32Array } {
  const idx = new Int32Array(4 * to);
  const w = new Float32Array(4 * to);
  const scale = from / to;
  for (let i = 0; i < to; i++) {
    const src = (i + 0.5) * scale - 0.5;
    const i0 = Math.floor(src);
    const f = src - i0;
    for (let k = 0; k < 4; k++) {
      idx[4 * i + k] = Math.min(from - 1, Math.max(0, i0 - 1 + k));
      w[4 * i + k] = cubic(f - (k - 1));
    }
  }
  return { idx, w };
}

/**
 * Resamples `channels` planes of width × height (row-major, planar) to outWidth × outHeight.
 * @returns a new Float32Array of channels·outWidth·outHeight values.
 */
export function resizeBicubic(data: Float32Array, channels: number, width: number, height: number, outWidth: number, outHeight: number): Float32Array {
  if (data.length !== channels * width * height) throw new Error(`expected ${channels}×${height}×${width} values, received ${data.length}`);
  const tx = taps(width, outWidth);
  const ty = taps(height, outHeight);
  const rows = new Float32Array(height * outWidth);
  const out = new Float32Array(channels * outWidth * outHeight);
  for (let c = 0; c < channels; c++) {
    const plane = c * width * height;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += tx.w[4 * x + k]! * data[plane + y * width + tx.idx[4 * x + k]!]!;
        rows[y * outWidth + x] = s;
      }
    }
    const o = c * outWidth * outHeight;
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += ty.w[4 * y + k]! * rows[ty.idx[4 * y + k]! * outWidth + x]!;
        out[o + y * outWidth + x] = s;
      }
    }
  }
  return out;
}
