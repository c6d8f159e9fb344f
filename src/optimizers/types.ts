/**
 * The optimiser contract, shared by L-BFGS and Adam: the objective they minimise, what they report
 * after each step, and what they return. Every reported loss, terms and image belong to one point.
 */

/** The objective's answer at one point x. */
export interface Evaluated {
  /** f(x); NaN or ±Infinity when the objective failed there (the optimisers back off). */
  readonly loss: number;
  /** ∇f(x), the length of x (the optimisers copy it; the objective may reuse the array). */
  readonly grad: Float32Array;
  /** The loss's terms at x, passed through untouched (stylisation: `content/<layer>`, …). */
  readonly terms?: Readonly<Record<string, number>>;
}

/** An objective: value, gradient and terms at x. */
export type Objective = (x: Float32Array) => Promise<Evaluated>;

/** Reported after each step; `loss`, `terms` and `x` are all of the same point. */
export interface StepInfo {
  /** Iteration number, from 1: the number of steps taken to reach `x`. */
  readonly iteration: number;
  /** Objective evaluations used so far (including the one of `x`). */
  readonly evaluations: number;
  /** f(x). */
  readonly loss: number;
  /** The terms at x (empty when the objective gives none). */
  readonly terms: Readonly<Record<string, number>>;
  /** The current iterate x (do not keep a reference: it is updated in place). */
  readonly x: Float32Array;
}

/** How a minimisation ended. */
/** 'budget': the iteration or the evaluation budget ran out. */
export type StopReason = 'budget' | 'converged' | 'aborted' | 'no-progress';

/** The result of a minimisation: a point whose loss and terms were evaluated, and the counts. */
export interface MinimizeResult {
  readonly x: Float32Array;
  /** f(x). */
  readonly loss: number;
  /** The terms at x. */
  readonly terms: Readonly<Record<string, number>>;
  /** Steps taken to reach x. */
  readonly iterations: number;
  /** Objective evaluations used in all (the budget's unit). */
  readonly evaluations: number;
  readonly stopReason: StopReason;
}

/**
 * Box constraints lower ≤ x_i ≤ upper on every element (images: 0–255).
 * - `project`: the iterate stays in the box. L-BFGS fixes the variables held at a bound by their
 *   gradient (the active set: x_i at lower with g_i > 0, or at upper with g_i < 0), takes its
 *   quasi-Newton direction in the others, and searches along the projected path P(x + t·d);
 *   Adam projects after each update (the same thing for a diagonal method).
 * - `clamp`: every evaluated point is clamped to the box, with no active set: the per-step clamp of
 *   crowsonkb/style-transfer-pytorch (after each Adam step), applied by L-BFGS to each trial point.
 */
export interface Bounds {
  readonly lower: number;
  readonly upper: number;
  readonly mode: 'project' | 'clamp';
}

/** Clamps x to the box in place. */
export function projectInto(x: Float32Array, b: Bounds): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v < b.lower) x[i] = b.lower;
    else if (v > b.upper) x[i] = b.upper;
  }
}

/** Options both optimisers take. */
export interface CommonOptions {
  /** Evaluation budget (default 500). */
  maxEvals?: number;
  /** Iteration (step) budget (default: no limit but `maxEvals`). */
  maxIterations?: number;
  /** Box constraints (default: none). */
  bounds?: Bounds;
  /** Called after each step with the new point; may be async. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Stops between evaluations when aborted; the current point is returned. */
  signal?: AbortSignal;
}
