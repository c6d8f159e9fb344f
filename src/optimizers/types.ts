/**
 * The optimiser contract, shared by L-BFGS and Adam: the objective they minimise, what they report
 * after each step, and what they return. Every reported loss, terms and image belong to one point.
 */
import { OptionError } from '../errors.js';

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
  /**
   * The optimiser's whole state at this point, to resume from (`resume`) exactly where it stands.
   * Its arrays are the optimiser's own, not copies: serialise them before the next step (they
   * stay valid until then, and after an abort or a stop for a run that ends here).
   */
  readonly state: () => OptimiserState;
}

/**
 * Everything an optimiser needs to continue from a step boundary as if it had never stopped: the
 * iterate, its loss, terms and gradient (so no evaluation is repeated), the counts, the recent
 * losses of the tolerance window, and the method's own memory.
 */
interface StateCommon {
  readonly x: Float32Array;
  readonly loss: number;
  readonly grad: Float32Array;
  readonly terms: Readonly<Record<string, number>>;
  /** Steps taken to reach x. */
  readonly iterations: number;
  /** Evaluations used so far. */
  readonly evaluations: number;
  /** The losses of the last `window` + 1 iterates, oldest first (for `tolerance`). */
  readonly recent: readonly number[];
}

/** L-BFGS: the correction pairs (s_k, y_k), oldest first. */
export interface LbfgsState extends StateCommon {
  readonly kind: 'lbfgs';
  readonly s: readonly Float32Array[];
  readonly y: readonly Float32Array[];
}

/** Adam: the moment estimates m, v after `offset` + `iterations` updates; `grad` is the gradient at x not yet applied. */
export interface AdamState extends StateCommon {
  readonly kind: 'adam';
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Updates the moments had seen before this run (`moments.t`), for the bias correction. */
  readonly offset: number;
}

export type OptimiserState = LbfgsState | AdamState;

/**
 * How a minimisation ended. 'budget': the iteration or the evaluation budget ran out;
 * 'converged': the tolerance window's relative loss change fell below `tolerance` (or, for
 * L-BFGS, the gradient below `gradTol`); 'aborted': the signal; 'no-progress': no step lowered the
 * loss.
 */
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
  /**
   * Convergence stop: after step k ≥ `window`, stop ('converged') when
   * (f(x_{k−window}) − f(x_k)) / |f(x_{k−window})| < tolerance. Default 0: never.
   */
  tolerance?: number;
  /** The window of `tolerance`, in steps (default {@link TOLERANCE_WINDOW}). */
  window?: number;
  /** Continue from a state taken at a step boundary (`StepInfo.state`) instead of starting at x0. */
  resume?: OptimiserState;
}

/** The default window of the tolerance stop, in steps. */
export const TOLERANCE_WINDOW = 10;

/**
 * The tolerance stop's bookkeeping: the last `window` + 1 losses. `push` returns true when the
 * relative decrease over the window has fallen below `tolerance`.
 */
export class LossWindow {
  readonly recent: number[];
  constructor(private readonly tolerance: number, private readonly window: number, recent: readonly number[] = []) {
    this.recent = recent.slice(-(window + 1));
  }

  push(loss: number): boolean {
    this.recent.push(loss);
    if (this.recent.length > this.window + 1) this.recent.shift();
    if (!(this.tolerance > 0) || this.recent.length <= this.window) return false;
    const old = this.recent[0]!;
    return (old - loss) / Math.abs(old) < this.tolerance;
  }
}

/**
 * Library boundary of {@link lbfgs} and `adam`: the objective is a function, x0 a non-empty
 * Float32Array of finite values, and each option given is in its range (`extra`: the method's
 * own, as [name, value, test, what is expected]). Budgets may be Infinity when another stop
 * (a tolerance, a signal) ends the run.
 * @throws OptionError naming the method, the argument, what was expected and what was received.
 */
export function checkArguments(
  method: 'lbfgs' | 'adam', f: unknown, x0: unknown, o: CommonOptions,
  extra: readonly (readonly [string, unknown, (v: number) => boolean, string])[] = [],
): void {
  const bad = (what: string, expected: string, got: unknown) =>
    new OptionError(`${method}: invalid ${what}: expected ${expected}, received ${typeof got === 'object' && got !== null ? (got.constructor?.name ?? 'an object') : String(got)}`);
  if (typeof f !== 'function') throw bad('objective', 'a function x ↦ Promise<{ loss, grad }>', f);
  if (!(x0 instanceof Float32Array) || x0.length === 0) throw bad('x0', 'a non-empty Float32Array', x0);
  if (!x0.every(Number.isFinite)) throw bad('x0', 'finite values', 'a NaN or infinite value');
  if (typeof o !== 'object' || o === null) throw bad('options', 'an object', o);
  const budget = (v: number) => v === Infinity || (Number.isInteger(v) && v >= 0);
  const checks: (readonly [string, unknown, (v: number) => boolean, string])[] = [
    ['maxEvals', o.maxEvals, (v) => budget(v) && v >= 1, 'an integer ≥ 1 (or Infinity)'],
    ['maxIterations', o.maxIterations, budget, 'an integer ≥ 0 (or Infinity)'],
    ['tolerance', o.tolerance, (v) => v >= 0 && v < Infinity, 'a number ≥ 0'],
    ['window', o.window, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
    ...extra,
  ];
  for (const [name, v, ok, expected] of checks) {
    if (v !== undefined && !(typeof v === 'number' && ok(v))) throw bad(name, expected, v);
  }
  const b = o.bounds;
  if (b !== undefined && !(typeof b === 'object' && b !== null && Number.isFinite(b.lower) && Number.isFinite(b.upper) && b.lower < b.upper && (b.mode === 'project' || b.mode === 'clamp'))) {
    throw new OptionError(`${method}: invalid bounds: expected { lower < upper, both finite, mode 'project' or 'clamp' }, received ${JSON.stringify(b)}`);
  }
  if (o.onStep !== undefined && typeof o.onStep !== 'function') throw bad('onStep', 'a function', o.onStep);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw bad('signal', 'an AbortSignal', o.signal);
}

/** @throws Error when a resume state is of another method or size than the run it is given to. */
export function checkResume(state: OptimiserState | undefined, kind: OptimiserState['kind'], n: number): void {
  if (!state) return;
  if (state.kind !== kind) throw new Error(`cannot resume ${kind} from a ${state.kind} state`);
  if (state.x.length !== n || state.grad.length !== n) throw new Error(`the resume state holds ${state.x.length} values, the problem ${n}`);
}
