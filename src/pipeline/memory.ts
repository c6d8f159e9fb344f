/**
 * The memory plan: an estimate of a problem's peak resident memory before any work, and the
 * refusal when it is over the budget. (Coarse-to-fine and tiling, which could make a plan that
 * fits instead of refusing, are not built yet.)
 *
 * Model, per generated image of H×W px, calibrated on bench/engine.ts (VGG-19 to relu5_1, 2
 * threads): peak RSS 0.79–0.93 GB at 256² and 1.19–1.33 GB at 512², i.e. about 0.75 GB of runtime,
 * weights and targets plus ~2.1 KB per pixel of activations kept for the backward pass
 * (~580 float32 values per pixel down to relu5_1). The estimate takes 0.8 GB + 2.5 KB/px, plus the
 * optimiser's state: L-BFGS keeps 2·history vectors of 3·H·W float32 (Adam two).
 */
import os from 'node:os';
import { OptionError } from '../errors.js';

const BASE_BYTES = 0.8e9;
const BYTES_PER_PIXEL = 2500;

/** The default budget: 80 % of the machine's memory. */
export function defaultMemoryBudget(): number {
  return 0.8 * os.totalmem();
}

/** Estimated peak bytes for a problem of `pixels` = H·W with the given optimiser state. */
export function estimateBytes(pixels: number, optimiser: { optimizer: 'lbfgs' | 'adam'; history: number }): number {
  const vectors = optimiser.optimizer === 'lbfgs' ? 2 * optimiser.history + 4 : 4;
  return BASE_BYTES + BYTES_PER_PIXEL * pixels + vectors * 3 * 4 * pixels;
}

/**
 * @throws OptionError when the estimate exceeds `budget`, saying the estimate, the budget and the
 *         largest longest side that would fit.
 */
export function checkMemory(size: { width: number; height: number }, o: { optimizer: 'lbfgs' | 'adam'; history: number }, budget: number): void {
  const need = estimateBytes(size.width * size.height, o);
  if (need <= budget) return;
  const perPixel = (estimateBytes(1e6, o) - BASE_BYTES) / 1e6;
  const fitPixels = Math.max(0, (budget - BASE_BYTES) / perPixel);
  const aspect = size.width / size.height;
  const longest = Math.floor(Math.sqrt(fitPixels * Math.max(aspect, 1 / aspect)));
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  throw new OptionError(
    `a ${size.width}×${size.height} px image needs about ${gb(need)} of memory, more than the ${gb(budget)} allowed (--max-memory); `
      + `use --size ${longest} or less, or raise --max-memory if the machine has the memory`,
  );
}
