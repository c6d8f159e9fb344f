/**
 * The run plan, made before any work: the scales of coarse-to-fine, and for each whether its
 * problem is evaluated whole or in blocks (tiled.ts), with the predicted peak memory and seconds
 * per evaluation (memory.ts). A run that cannot fit the memory budget is refused here, with the
 * largest size that fits; it never starts and then dies.
 */
import { OptionError } from '../errors.js';
import type { ObjectiveSpec } from '../losses/objective.js';
import { hostBytes, largestFitting, memoryBudget, MODEL, predictBytes, predictSeconds, workPerPixel, type WorkPerPixel } from './memory.js';
import type { StylizeOptions } from './options.js';
import { checkTileable, tileLayout, tiledWorkload, type TileLayout } from './tiled.js';
import type { FeatureNet } from '../networks/feature-net.js';

/** One scale of the plan. */
export interface ScalePlan {
  readonly width: number;
  readonly height: number;
  /** The block layout, or null when the whole image is evaluated at once. */
  readonly tiles: TileLayout | null;
  /** Predicted peak resident bytes and seconds per evaluation. */
  readonly bytes: number;
  readonly seconds: number;
}

/** The whole run's plan. */
export interface RunPlan {
  readonly scales: readonly ScalePlan[];
  /** The memory budget planned for, bytes. */
  readonly budget: number;
  /** L-BFGS correction pairs (the option's, or lowered to fit when it was not given). */
  readonly history: number;
  /** What the plan changed, for the user. */
  readonly notes: readonly string[];
}

/**
 * The longest sides of coarse-to-fine: minSize, ×scaleFactor each, … up to the final size; each
 * scale keeps the final aspect ratio. A scale within √scaleFactor of the final size is left out
 * (512 from 128 by √2: 128, 181, 256, 362, 512; 192: 128, 192). Scales whose shorter side is below `minSide` (the deepest
 * layer's need) are left out; a tileable texture's sides are multiples of `multiple`.
 */
export function scaleSizes(final: { width: number; height: number }, o: Pick<StylizeOptions, 'minSize' | 'scaleFactor'>, minSide: number, multiple = 1): { width: number; height: number }[] {
  const longest = Math.max(final.width, final.height);
  const out: { width: number; height: number }[] = [];
  for (let side = o.minSize; Math.round(side) < longest; side *= o.scaleFactor) {
    const k = Math.round(side) / longest;
    const size = {
      width: Math.max(multiple, Math.floor(Math.round(final.width * k) / multiple) * multiple),
      height: Math.max(multiple, Math.floor(Math.round(final.height * k) / multiple) * multiple),
    };
    const prev = out.at(-1);
    // A scale within √factor of the final size would repeat nearly all of the final's work: left out.
    const nearFinal = Math.round(side) * Math.sqrt(o.scaleFactor) > longest;
    if (!nearFinal && Math.min(size.width, size.height) >= minSide && (!prev || prev.width !== size.width || prev.height !== size.height)) out.push(size);
  }
  out.push(final);
  return out;
}

const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;

/**
 * Plans one problem of `size`: whole when it fits `budget` (and no `tileSize` is forced), else in
 * the largest blocks that fit.
 * @throws OptionError when it cannot fit: an objective that cannot be tiled, or an image whose own
 *         arrays leave no room for the smallest blocks; the message gives the largest size that fits.
 */
export function planProblem(
  spec: ObjectiveSpec, work: WorkPerPixel, size: { width: number; height: number }, o: StylizeOptions, history: number, budget: number,
): ScalePlan {
  const host = { optimizer: o.optimizer, history, average: o.average };
  const pixels = size.width * size.height;
  const layers = [...spec.content, ...spec.style].map((t) => t.layer);
  const whole = predictBytes(work, pixels, null, host);
  if (o.tileSize === undefined && whole <= budget) {
    return { ...size, tiles: null, bytes: whole, seconds: predictSeconds(work, pixels, null) };
  }
  /** The smallest blocks worth planning: 512 px a side (or the image, when smaller). */
  const smallBlocks = Math.min(512 * 512, pixels);
  const refuse = (why: string, tiled = true) => {
    const longest = Math.min(Math.max(size.width, size.height) - 1, largestFitting(work, size.width / size.height, budget, host, tiled ? smallBlocks : null));
    return new OptionError(
      `a ${size.width}×${size.height} px image needs about ${gb(whole)} of memory, more than the ${gb(budget)} allowed (--max-memory), and ${why}; `
        + `use --size ${longest} or less, or raise --max-memory if the machine has the memory`,
    );
  };
  try {
    if (o.contentMasks) throw new OptionError('masks (guided Gram matrices) cannot be evaluated in blocks');
    checkTileable(spec);
  } catch (err) {
    if (o.tileSize !== undefined) throw err;
    throw refuse(`it cannot be evaluated in blocks: ${(err as Error).message.replace(/; use .*$/, '')}`, false);
  }
  let side = o.tileSize;
  if (side === undefined) {
    const room = budget - MODEL.baseBytes - MODEL.weightCopies * work.weightBytes - hostBytes(pixels, host);
    side = Math.floor(Math.sqrt(Math.max(0, room / (MODEL.liveShare * MODEL.tiledMemory * 4 * work.livePerPixel))));
  }
  let tiles: TileLayout;
  try {
    tiles = tileLayout(size.width, size.height, spec.net, layers, Math.min(side, Math.max(size.width, size.height)));
  } catch (err) {
    if (o.tileSize !== undefined || !(err instanceof OptionError)) throw err;
    throw refuse(`even in blocks its own arrays (the image, the gradient and the optimiser's: ${gb(hostBytes(pixels, host))}) leave no room`);
  }
  const blockPixels = tiles.blockWidth * tiles.blockHeight;
  const bytes = predictBytes(work, pixels, blockPixels, host);
  if (bytes > budget && o.tileSize === undefined) throw refuse('even in blocks it does not fit beside its own arrays');
  return { ...size, tiles, bytes, seconds: predictSeconds(work, pixels, { blocks: tiles.blocks.length, ...tiledWorkload(spec, tiles.blockWidth, tiles.blockHeight) }) };
}

/**
 * Plans a run: the scales, each whole or tiled. When the final scale does not fit and the
 * L-BFGS history was not given, the history is lowered (to 10, 5, then 3 pairs) before refusing.
 * @param spec the objective at the final size (any targets; only its terms and network are read)
 * @param given the options as the user gave them (to tell a chosen history from the default)
 */
export function planRun(spec: ObjectiveSpec, net: FeatureNet, o: StylizeOptions, given: Partial<StylizeOptions>, multiple = 1): RunPlan {
  const budget = memoryBudget(o);
  const work = workPerPixel(spec);
  const final = { width: spec.width, height: spec.height };
  const minSide = net.minSide([...spec.content, ...spec.style].map((t) => t.layer));
  const sizes = scaleSizes(final, o, minSide, multiple);
  const notes: string[] = [];
  let history = o.history;
  const candidates = o.optimizer === 'lbfgs' && given.history === undefined ? [history, ...[10, 5, 3].filter((h) => h < history)] : [history];
  let last: ScalePlan | null = null;
  for (const [i, h] of candidates.entries()) {
    try {
      last = planProblem(spec, work, final, o, h, budget);
      history = h;
      break;
    } catch (err) {
      if (i === candidates.length - 1) throw err;
    }
  }
  if (history !== o.history) notes.push(`L-BFGS keeps ${history} correction pairs instead of ${o.history} so that ${final.width}×${final.height} fits in ${gb(budget)} (--history to choose, --max-memory to allow more)`);
  const scales = sizes.map((s, i) => (i === sizes.length - 1 ? last! : planProblem({ ...spec, ...s }, work, s, o, history, budget)));
  const tiled = scales.filter((s) => s.tiles);
  if (tiled.length && o.tileSize === undefined) notes.push(`${tiled.map((s) => `${s.width}×${s.height}`).join(', ')} ${tiled.length > 1 ? 'do' : 'does'} not fit in ${gb(budget)} whole: evaluated in blocks with exact global statistics`);
  return { scales, budget, history, notes };
}
