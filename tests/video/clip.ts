/**
 * A synthetic clip with known motion, for the video tests and bench/video.ts: a slow pan and zoom
 * across a photo, and the figure of issue 15, the temporal inconsistency of a stylised clip
 * measured along the true motion.
 *
 * Frame t shows the photo through the map A_t(p) = c_t + s_t · (p − centre), p in frame pixels:
 * by default a window on the houses of the Tübingen photo (below the sky: see HOUSES);
 * the window's centre c_t moves by `pan` px (photo pixels) a frame and its scale s_t shrinks by
 * the factor `zoom` a frame (zooming in). Frames are rendered by bilinear sampling of the photo.
 * The true backward flow of frame t is A_{t−1}⁻¹(A_t(p)) − p, its forward flow
 * A_t⁻¹(A_{t−1}(q)) − q; nothing is occluded, so the only untrusted pixels are those that come
 * from outside the previous frame.
 */
import { warp, type Flow } from '../../src/losses/temporal.js';
import type { Frame } from '../../src/video/flow.js';

export interface PanZoom {
  /** Frames, planar RGB [3,H,W] 0–255. */
  readonly frames: Frame[];
  /** True backward flow of frame t (t ≥ 1): frame t's p was at p + b(p) in frame t−1. */
  backward(t: number): Flow;
  /** True forward flow of frame t−1 into frame t. */
  forward(t: number): Flow;
}

function bilinear(photo: Frame, ch: number, x: number, y: number): number {
  const { width: w, height: h, data } = photo;
  const cx = Math.min(Math.max(x, 0), w - 1), cy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.min(Math.floor(cx), w - 2), y0 = Math.min(Math.floor(cy), h - 2);
  const fx = cx - x0, fy = cy - y0;
  const at = (xx: number, yy: number) => data[ch * w * h + yy * w + xx]!;
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** Where the window looks: the Tübingen photo's houses, below its sky (a clear sky has no texture, so no optical flow can see it move). */
export const HOUSES = { centre: [0.5, 0.64] as const, scale: 0.55 };

/**
 * @param photo the source, planar RGB, larger than the frames' window at every t.
 * @param pan [dx, dy] photo px per frame; zoom: the window's scale factor per frame (< 1 zooms in).
 * @param at the window's centre at the middle frame (fractions of the photo's width and height)
 *        and its size at frame 0 (a fraction of the largest window of the frames' aspect ratio).
 */
export function panZoom(photo: Frame, n: number, width: number, height: number, pan: readonly [number, number], zoom: number,
  at: { centre: readonly [number, number]; scale: number } = HOUSES): PanZoom {
  const s0 = at.scale * Math.min(photo.width / width, photo.height / height);
  const A = (t: number) => ({ cx: photo.width * at.centre[0] - (pan[0] * (n - 1)) / 2 + pan[0] * t, cy: photo.height * at.centre[1] - (pan[1] * (n - 1)) / 2 + pan[1] * t, s: s0 * zoom ** t });
  const frames: Frame[] = [];
  for (let t = 0; t < n; t++) {
    const a = A(t);
    const data = new Float32Array(3 * width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const X = a.cx + a.s * (x - width / 2), Y = a.cy + a.s * (y - height / 2);
        for (let ch = 0; ch < 3; ch++) data[ch * width * height + y * width + x] = bilinear(photo, ch, X, Y);
      }
    }
    frames.push({ data, width, height });
  }
  /** The flow of frame `from`'s pixels into frame `to`. */
  const flow = (from: number, to: number): Flow => {
    const a = A(from), b = A(to);
    const u = new Float32Array(width * height), v = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const X = a.cx + a.s * (x - width / 2), Y = a.cy + a.s * (y - height / 2);
        u[y * width + x] = width / 2 + (X - b.cx) / b.s - x;
        v[y * width + x] = height / 2 + (Y - b.cy) / b.s - y;
      }
    }
    return { width, height, u, v };
  };
  return { frames, backward: (t) => flow(t, t - 1), forward: (t) => flow(t - 1, t) };
}

/**
 * The temporal inconsistency of stylised frames `out` of `clip`: for each t ≥ 1, the mean over
 * the pixels that come from inside frame t−1 (and over the 3 channels) of
 * (out_t − ω(out_{t−1}))², ω temporal.ts's warp along the true backward flow; then the mean over t.
 * In squared 0–255 units.
 */
export function inconsistency(out: readonly Frame[], clip: PanZoom): number {
  let sum = 0;
  for (let t = 1; t < out.length; t++) {
    const { data: warped, inside } = warp(out[t - 1]!, clip.backward(t));
    const n = out[t]!.width * out[t]!.height;
    let s = 0, count = 0;
    for (let i = 0; i < n; i++) {
      if (!inside[i]) continue;
      for (let ch = 0; ch < 3; ch++) s += (out[t]!.data[ch * n + i]! - warped[ch * n + i]!) ** 2;
      count += 3;
    }
    sum += s / count;
  }
  return sum / (out.length - 1);
}
