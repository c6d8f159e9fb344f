/**
 * The memory and time model: a problem's peak resident memory and seconds per evaluation,
 * predicted before any work from the objective graph's own workload (GraphBuilder.workload):
 *
 *   peak  = B₀ + k·W + a·4·P·px + host        seconds per evaluation = t₀ + (c·C + e·V)·px
 *
 * where px = H·W of the evaluated image (a block's, when tiled); P the elements alive at the
 * graph's peak, C its multiply-adds and V its node-output elements (the memory traffic: the
 * offline network's wide full-resolution maps make it memory-bound), each per pixel; W the bytes of its
 * weights (held k times: the loaded network, the serialised graph, the session), and host the optimiser's and driver's image-sized Float32Arrays (`hostBytes`).
 * B₀, k, a, t₀, c and e are fitted by bench/plan.ts on the reference machine (2-core AMD EPYC, ORT
 * 1.x, no memory arena above 384² px); the bench prints the fit and its errors at 256, 512 and
 * 1024 px for VGG-19 and the offline network. The time constants are this machine's: on
 * another, scale them by its speed.
 *
 * Tiled evaluation (tiled.ts) runs one block's graphs at a time: its peak is one block's graph
 * (× {@link MODEL}.tiledMemory for the pass-1 session's arena beside it), plus the whole image's
 * host arrays. Its time is counted from the tiled graphs themselves (`tiledWorkload`: pass 1's
 * forward and pass 2's forward, content forward and backward, at the block's size):
 *
 *   seconds per evaluation = t₀ + blocks·(c·C_block + f·e·V_block)
 *
 * with c and e as above and f = {@link MODEL}.tiledValues, fitted by bench/plan.ts --tiled.
 */
import fs from 'node:fs';
import os from 'node:os';
import { objectiveWorkload, type ObjectiveSpec } from '../losses/objective.js';


/**
 * The fitted constants (bench/plan.ts, 2026-11-30, two runs of 6 sizes × networks; memory by
 * least squares on the peak RSS less the host arrays, time by relative least squares).
 */
export const MODEL = {
  /** B₀: the runtime's own resident memory (Node, ORT, sharp), bytes. */
  baseBytes: 0.245e9,
  /** k: copies of the weights resident at the peak. */
  weightCopies: 5.15,
  /** a: resident bytes per byte of the graph's peak live values. */
  liveShare: 1.476,
  /** t₀: seconds per evaluation at any size (session run overhead, copying the gradient). */
  baseSeconds: 0.030,
  /** c: seconds per multiply-add, on this machine with all its cores. */
  secondsPerMac: 4.64e-12,
  /** e: seconds per node-output element (memory traffic). */
  secondsPerValue: 5.99e-10,
  /**
   * f: in blocks, a node-output element costs this times what e says for whole images; a
   * multiply-add costs c, as whole (bench/plan.ts --tiled, 2026-12-01: VGG-19 and the offline
   * network at 1024 px in 4, 12 and 30 or 54 blocks, and the offline network at 2000 px in 6 and 20;
   * fitted with both factors free, by relative least squares, the multiply-add's came out 0.99, so
   * it is 1). A block's feature maps are smaller than a whole image's, so its memory traffic stays
   * closer to the cores' caches.
   */
  tiledValues: 0.68,
  /**
   * Tiled graph memory ÷ one block's objective graph (the pass-1 session's arena beside it). 1.3
   * fitted at 2000×1500 in 12 blocks; raised to 1.85 when 4000×3000 in 80 blocks (Adam, offline
   * network) peaked at 4.73 GB against 3.79 GB predicted (2026-12-01, /usr/bin/time -v): the whole
   * excess is charged to the blocks, which keeps the total within the budget whether it came from
   * the arenas or from the host arrays.
   */
  tiledMemory: 1.85,
} as const;

/** The graph's work per pixel, measured on one small build and scaled (pooling floors aside, it is linear in the pixels). */
export interface WorkPerPixel {
  readonly valuesPerPixel: number;
  /** Elements alive at the graph's peak (GraphBuilder.workload `peakLive`), per pixel. */
  readonly livePerPixel: number;
  readonly macsPerPixel: number;
  readonly weightBytes: number;
}

/** The reference side at which the workload is measured (large enough for any network's deepest layer). */
const REFERENCE_SIDE = 256;

/** The objective's work per pixel, from its graph built (without targets) at 256 × 256 px. */
export function workPerPixel(spec: ObjectiveSpec): WorkPerPixel {
  const side = Math.max(REFERENCE_SIDE, spec.net.minSide([...spec.content, ...spec.style].map((t) => t.layer)));
  const w = objectiveWorkload({ ...spec, width: side, height: side });
  return {
    valuesPerPixel: w.values / side ** 2, livePerPixel: w.peakLive / side ** 2, macsPerPixel: w.macs / side ** 2, weightBytes: w.constants };
}

/** Image-sized Float32Arrays the run keeps for the whole image: the optimiser's, the content, the average and the gradient. */
export function hostBytes(pixels: number, o: { optimizer: 'lbfgs' | 'adam'; history: number; average?: number }): number {
  // L-BFGS: x, grad, the free gradient, d, the trial point, its gradient, and 2·history pairs;
  // Adam: x, m, v, the last good x, the pending gradient, the returned one. Both: the content,
  // the previous scale's image, the gradient being summed, and the average when on.
  const vectors = (o.optimizer === 'lbfgs' ? 6 + 2 * o.history : 6) + 3 + (o.average ? 1 : 0);
  return vectors * 3 * 4 * pixels;
}

/** Predicted peak bytes of one problem: untiled (`blockPixels` null) or in blocks of `blockPixels` px. */
export function predictBytes(work: WorkPerPixel, pixels: number, blockPixels: number | null, o: Parameters<typeof hostBytes>[1]): number {
  const graphPixels = blockPixels ?? pixels;
  const graph = MODEL.liveShare * 4 * work.livePerPixel * graphPixels * (blockPixels === null ? 1 : MODEL.tiledMemory);
  return MODEL.baseBytes + MODEL.weightCopies * work.weightBytes + graph + hostBytes(pixels, o);
}

/**
 * Predicted seconds per evaluation: untiled, or in `blocks` blocks whose two passes' graphs do
 * `macs` multiply-adds and make `values` node-output elements a block (tiled.ts `tiledWorkload`).
 */
export function predictSeconds(work: WorkPerPixel, pixels: number, tiles: { blocks: number; macs: number; values: number } | null): number {
  if (!tiles) return MODEL.baseSeconds + (MODEL.secondsPerMac * work.macsPerPixel + MODEL.secondsPerValue * work.valuesPerPixel) * pixels;
  return MODEL.baseSeconds + tiles.blocks * (MODEL.secondsPerMac * tiles.macs + MODEL.tiledValues * MODEL.secondsPerValue * tiles.values);
}

/** Bytes the machine can still give: MemAvailable from /proc/meminfo (Linux), else os.freemem(). */
export function availableBytes(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

/** The memory budget in bytes: `maxMemory` GB, else the available memory less a margin of 10 % of the machine (at least 0.5 GB). */
export function memoryBudget(o: { maxMemory?: number }): number {
  if (o.maxMemory !== undefined) return o.maxMemory * 1e9;
  return Math.max(0.5e9, availableBytes() - Math.max(0.5e9, 0.1 * os.totalmem()));
}


/**
 * The largest longest side (px) of an image of this aspect ratio that fits: whole (`blockPixels`
 * null), or in blocks of `blockPixels` px, where only the image's own arrays grow with its size.
 */
export function largestFitting(work: WorkPerPixel, aspect: number, budget: number, o: Parameters<typeof hostBytes>[1], blockPixels: number | null = null): number {
  const graph = MODEL.liveShare * 4 * work.livePerPixel * (blockPixels === null ? 1 : MODEL.tiledMemory);
  const perPixel = hostBytes(1, o) + (blockPixels === null ? graph : 0);
  const pixels = Math.max(0, (budget - MODEL.baseBytes - MODEL.weightCopies * work.weightBytes - (blockPixels === null ? 0 : graph * blockPixels)) / perPixel);
  return Math.floor(Math.sqrt(pixels * Math.max(aspect, 1 / aspect)));
}
