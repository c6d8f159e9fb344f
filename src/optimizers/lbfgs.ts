/**
 * L-BFGS (Nocedal 1980; Liu & Nocedal 1989) on Float32Array parameters, minimising an async
 * objective that returns the value and gradient together.
 *
 * - Direction: the two-loop recursion over the last `history` pairs (s_k, y_k), with the initial
 *   Hessian scaled by γ_k = sᵀy / yᵀy (Nocedal & Wright, eq. 7.20). Pairs with sᵀy ≤ 1e-10·|s||y|
 *   are skipped, which keeps the implied Hessian positive definite.
 * - Line search, two choices:
 *   - `strong-wolfe` (default): bracketing and cubic-interpolation zoom (Nocedal & Wright,
 *     Algorithms 3.5 and 3.6) for the strong Wolfe conditions with c1 = 1e-4, c2 = 0.9; it tries
 *     the unit step first, so most iterations cost one evaluation, and it widens the bracket ×10
 *     per trial (×2 needed ~20 evaluations to scale the first step on a stylisation problem).
 *     The first iteration demands the curvature condition too, though that costs a few
 *     evaluations on VGG problems: accepting its first decrease instead, as Torch does, left the
 *     first (s, y) pair so short that the offline network's texture synthesis stalled (loss 0.91
 *     against 0.006 after 50 evaluations, measured with bench/optimizers.ts and bench/offline.ts).
 *   - `fixed`: Torch's optim.lbfgs without a line search, as jcjohnson/neural-style and the
 *     PyTorch tutorial run it: step 1 along the direction, except the first, which is
 *     min(1, 1/‖g‖₁). One evaluation per iteration, never a check that the loss went down.
 *   bench/optimizers.ts compares the two by loss reached per evaluation.
 * - Arithmetic: vectors are float32; dot products accumulate in float64.
 * - Budget: `maxIterations` steps and `maxEvals` objective evaluations, whichever comes first
 *   (a resumed run counts those it inherits), or the `tolerance` window (types.ts).
 * - Resume: from `StepInfo.state` at any step boundary, with the same x, gradient, pairs and
 *   counts, so the run continues exactly as if it had not stopped.
 * - A line search that finds no decrease clears the correction pairs and retries once along the
 *   steepest descent; only when that fails too does the run stop with 'no-progress'.
 * - Box constraints (`bounds`, types.ts): with `project`, the active set (variables at a bound whose
 *   gradient points out of the box) is held fixed: its gradient entries are zeroed before the
 *   two-loop recursion and its direction entries after, and every trial point of the line search
 *   is P(x + t·d), the projection onto the box, with the slope taken along that projected path
 *   (a projected quasi-Newton method in the manner of Bertsekas 1982, without L-BFGS-B's
 *   generalised Cauchy point). With `clamp`, trial points are projected but no variable is held:
 *   the direction keeps pushing at the bound. bench/optimizers.ts `bounds` compares the two.
 */

import { checkArguments, checkResume, LossWindow, projectInto, TOLERANCE_WINDOW, type Bounds, type CommonOptions, type Evaluated, type LbfgsState, type MinimizeResult, type Objective } from './types.js';
import { OptionError } from '../errors.js';

export type { Objective, StepInfo, MinimizeResult } from './types.js';

/** Defaults of {@link lbfgs}'s options (the option table, options.ts, takes its from here). */
export const LBFGS_DEFAULTS = { maxEvals: 500, history: 20, lineSearch: 'strong-wolfe', gradTol: 0 } as const;

export interface LbfgsOptions extends CommonOptions {
  /** Correction pairs kept (default {@link LBFGS_DEFAULTS}.history; memory 2·history·n floats). */
  history?: number;
  lineSearch?: 'strong-wolfe' | 'fixed';
  /** Stop when ‖g‖∞ falls below this (default 0: never). */
  gradTol?: number;
}

/** An evaluation the optimiser keeps: its own copy of the gradient. */
type Point = { loss: number; grad: Float32Array; terms: Readonly<Record<string, number>> };

/**
 * Σ a_i·b_i in float64. Four partial sums, added at the end: one running sum makes every add wait
 * for the last, which bounds the loop by the add's latency rather than by memory.
 */
function dot(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
    s2 += a[i + 2]! * b[i + 2]!;
    s3 += a[i + 3]! * b[i + 3]!;
  }
  for (; i < n; i++) s0 += a[i]! * b[i]!;
  return s0 + s1 + (s2 + s3);
}

/**
 * d ← d + alpha·v (each element rounded to float32, as stored), and returns Σ w_i·d_i over the
 * updated d in float64: one pass over d for an update and the dot product that the next step of
 * the two-loop recursion needs, instead of two. With `w` null it only updates.
 */
function axpyThenDot(d: Float32Array, alpha: number, v: Float32Array, w: Float32Array | null): number {
  const n = d.length;
  if (!w) {
    for (let i = 0; i < n; i++) d[i] = d[i]! + alpha * v[i]!;
    return 0;
  }
  let s0 = 0, s1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const a = Math.fround(d[i]! + alpha * v[i]!);
    const b = Math.fround(d[i + 1]! + alpha * v[i + 1]!);
    d[i] = a;
    d[i + 1] = b;
    s0 += w[i]! * a;
    s1 += w[i + 1]! * b;
  }
  for (; i < n; i++) {
    const a = Math.fround(d[i]! + alpha * v[i]!);
    d[i] = a;
    s0 += w[i]! * a;
  }
  return s0 + s1;
}

/**
 * The L-BFGS direction d = −H·g by the two-loop recursion (Nocedal & Wright, Algorithm 7.4) over
 * the pairs S[k], Y[k] (oldest first) with ρ_k = 1/(s_kᵀy_k) and H₀ = γ·I, γ = sᵀy/yᵀy of the newest
 * pair (the identity with no pairs). Each update of d is fused with the dot product the recursion
 * takes next (`axpyThenDot`), so a pair costs two passes over d, one in each loop.
 * Internal: exported for its test and bench/lbfgs-step.ts, not from the package; it checks no
 * argument.
 * @param d out: the direction, the length of g.
 * @param alphas scratch of at least S.length entries.
 */
export function twoLoopDirection(d: Float32Array, g: Float32Array, S: readonly Float32Array[], Y: readonly Float32Array[], rho: readonly number[], alphas: Float64Array): void {
  const m = S.length;
  for (let i = 0; i < d.length; i++) d[i] = -g[i]!;
  if (m === 0) return;
  // First loop, newest to oldest: α_k = ρ_k·s_kᵀd, d ← d − α_k·y_k.
  let sd = dot(S[m - 1]!, d);
  for (let k = m - 1; k >= 0; k--) {
    alphas[k] = rho[k]! * sd;
    sd = axpyThenDot(d, -alphas[k]!, Y[k]!, k > 0 ? S[k - 1]! : null);
  }
  const gamma = dot(S[m - 1]!, Y[m - 1]!) / dot(Y[m - 1]!, Y[m - 1]!);
  // d ← γ·d (as d + (γ − 1)·d, so that `axpyThenDot` does it), with y_0ᵀd for the second loop in
  // the same pass.
  let yd = axpyThenDot(d, gamma - 1, d, Y[0]!);
  // Second loop, oldest to newest: β_k = ρ_k·y_kᵀd, d ← d + (α_k − β_k)·s_k.
  for (let k = 0; k < m; k++) {
    const beta = rho[k]! * yd;
    yd = axpyThenDot(d, alphas[k]! - beta, S[k]!, k + 1 < m ? Y[k + 1]! : null);
  }
}

function axpyInto(out: Float32Array, x: Float32Array, alpha: number, d: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i]! + alpha * d[i]!;
}

/** Relative change of a float32 loss that rounding alone can produce (a few ulps). */
const FLOAT32_NOISE = 4 * 2 ** -23;

/** Cubic interpolation minimiser of φ on [a, b] from values and slopes (N&W eq. 3.59), safeguarded. */
function cubicMin(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const sq = d1 * d1 - ga * gb;
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  if (sq >= 0) {
    const d2 = Math.sign(b - a) * Math.sqrt(sq);
    const t = b - (b - a) * ((gb + d2 - d1) / (gb - ga + 2 * d2));
    if (Number.isFinite(t)) return Math.min(Math.max(t, lo + 0.1 * (hi - lo)), hi - 0.1 * (hi - lo));
  }
  return (lo + hi) / 2;
}

/**
 * Minimises `f` from `x0` (not modified).
 * @returns the last accepted iterate with its loss and terms, and the counts. Under
 *          `strong-wolfe` every accepted step lowers the loss, so it is also the best iterate;
 *          the `fixed` step never checks, so there it is only the last.
 * @throws OptionError for an argument out of its range (`checkArguments`, types.ts), before any evaluation.
 */
export async function lbfgs(f: Objective, x0: Float32Array, options: LbfgsOptions = {}): Promise<MinimizeResult> {
  checkArguments('lbfgs', f, x0, options, [
    ['history', options?.history, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1'],
    ['gradTol', options?.gradTol, (v) => v >= 0 && v < Infinity, 'a number ≥ 0'],
  ]);
  if (options.lineSearch !== undefined && options.lineSearch !== 'strong-wolfe' && options.lineSearch !== 'fixed') {
    throw new OptionError(`lbfgs: invalid lineSearch: expected 'strong-wolfe' or 'fixed', received ${String(options.lineSearch)}`);
  }
  const { maxEvals, history, lineSearch, gradTol, onStep, signal, bounds } = { ...LBFGS_DEFAULTS, ...options };
  const maxIterations = options.maxIterations ?? Infinity;
  const n = x0.length;
  checkResume(options.resume, 'lbfgs', n);
  const r0 = options.resume?.kind === 'lbfgs' ? options.resume : undefined;
  const x = new Float32Array(r0 ? r0.x : x0);
  if (bounds) projectInto(x, bounds);
  /** out = P(x + t·d): the trial point, projected onto the box when there is one. */
  const place = (out: Float32Array, t: number) => {
    axpyInto(out, x, t, d);
    if (bounds) projectInto(out, bounds);
  };
  let evals = r0?.evaluations ?? 0;
  const evaluate = async (at: Float32Array): Promise<Point> => {
    evals++;
    const r: Evaluated = await f(at);
    return { loss: r.loss, grad: new Float32Array(r.grad), terms: r.terms ?? {} }; // a copy: the objective may reuse its array
  };
  const first: Point = r0 ? { loss: r0.loss, grad: new Float32Array(r0.grad), terms: r0.terms } : await evaluate(x);
  let loss = first.loss;
  let grad: Float32Array = first.grad;
  let terms = first.terms;
  const S: Float32Array[] = r0 ? r0.s.map((v) => new Float32Array(v)) : [];
  const Y: Float32Array[] = r0 ? r0.y.map((v) => new Float32Array(v)) : [];
  const rho: number[] = S.map((sk, k) => 1 / dot(sk, Y[k]!));
  const stall = new LossWindow(options.tolerance ?? 0, options.window ?? TOLERANCE_WINDOW, r0?.recent ?? [loss]);
  let iteration = r0?.iterations ?? 0;
  const state = (): LbfgsState => ({ kind: 'lbfgs', x, loss, grad, terms, iterations: iteration, evaluations: evals, recent: [...stall.recent], s: S, y: Y });
  const d = new Float32Array(n);
  const xNew = new Float32Array(n);
  const alphas = new Float64Array(Math.max(history, S.length));
  /** Where the next (s, y) pair is computed before it is kept or skipped. */
  let scratch: { s: Float32Array; y: Float32Array } = { s: new Float32Array(n), y: new Float32Array(n) };
  const gFree = bounds?.mode === 'project' ? new Float32Array(n) : grad;
  let stopReason: MinimizeResult['stopReason'] = 'budget';

  while (evals < maxEvals && iteration < maxIterations) {
    if (signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    // The free gradient: zero on the active set under `project` (the full gradient otherwise).
    const g = bounds?.mode === 'project' ? freeGradient(x, grad, bounds, gFree) : grad;
    let gmax = 0;
    for (let i = 0; i < n; i++) gmax = Math.max(gmax, Math.abs(g[i]!));
    if (gmax <= gradTol) {
      stopReason = 'converged';
      break;
    }
    twoLoopDirection(d, g, S, Y, rho, alphas);
    if (g !== grad) for (let i = 0; i < n; i++) if (g[i] === 0 && grad[i] !== 0) d[i] = 0; // hold the active set
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i]!;
      slope = dot(g, d);
    }
    let t = 1;
    if (S.length === 0) {
      let g1 = 0;
      for (let i = 0; i < n; i++) g1 += Math.abs(grad[i]!);
      t = Math.min(1, 1 / g1);
    }

    let accepted: (Point & { t: number }) | null = null;
    if (lineSearch === 'fixed') {
      place(xNew, t);
      const r = await evaluate(xNew);
      if (Number.isFinite(r.loss)) accepted = { ...r, t };
    } else {
      accepted = await strongWolfe(evaluate, x, xNew, d, bounds, place, loss, slope, t, () => evals >= maxEvals || !!signal?.aborted);
    }
    if (!accepted) {
      if (S.length > 0 && !signal?.aborted && evals < maxEvals) {
        // The quasi-Newton direction found no decrease (stale pairs, e.g. after the active set
        // changed): forget them and try steepest descent before giving up.
        S.length = Y.length = rho.length = 0;
        continue;
      }
      stopReason = signal?.aborted ? 'aborted' : evals >= maxEvals ? 'budget' : 'no-progress';
      break;
    }
    place(xNew, accepted.t);
    // The new pair (s, y) = (x_new − x, g_new − g) into the scratch pair, with sᵀy, sᵀs and yᵀy
    // in the same pass. A pair pushed out of a full history becomes the next scratch pair, so a
    // long run allocates no more vectors (the arrays `state()` hands out are valid until the next
    // step, as its contract says).
    const s = scratch.s;
    const yv = scratch.y;
    let sy = 0, ss = 0, yy = 0;
    for (let i = 0; i < n; i++) {
      const si = Math.fround(xNew[i]! - x[i]!);
      const yi = Math.fround(accepted.grad[i]! - grad[i]!);
      s[i] = si;
      yv[i] = yi;
      sy += si * yi;
      ss += si * si;
      yy += yi * yi;
    }
    if (sy > 1e-10 * Math.sqrt(ss * yy)) {
      let freed: { s: Float32Array; y: Float32Array } | null = null;
      while (S.length >= history) {
        freed = { s: S.shift()!, y: Y.shift()! };
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
      scratch = freed ?? { s: new Float32Array(n), y: new Float32Array(n) };
    }
    x.set(xNew);
    loss = accepted.loss;
    grad = accepted.grad;
    terms = accepted.terms;
    iteration++;
    await onStep?.({ iteration, evaluations: evals, loss, terms, x, state });
    if (stall.push(loss)) {
      stopReason = 'converged';
      break;
    }
  }
  return { x, loss, terms, iterations: iteration, evaluations: evals, stopReason };
}

/** The gradient with the active set's entries zeroed (x_i at lower with g_i > 0, at upper with g_i < 0), into `out`. */
function freeGradient(x: Float32Array, grad: Float32Array, b: Bounds, out: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const gi = grad[i]!;
    out[i] = (x[i]! <= b.lower && gi > 0) || (x[i]! >= b.upper && gi < 0) ? 0 : gi;
  }
  return out;
}

/**
 * Strong-Wolfe line search from x along the path `place(·, t)` (x + t·d, projected onto the box
 * when there is one; N&W Alg. 3.5 with zoom, Alg. 3.6). The slope at t is the derivative along
 * that path: ∇f·d, with each clamped element's d_i replaced by its chord (x_t,i − x_i)/t.
 * @returns the accepted step with its loss and gradient, or null when the budget ran out or no
 *          decrease was found.
 */
async function strongWolfe(
  evaluate: (x: Float32Array) => Promise<Point>,
  x: Float32Array, xt: Float32Array, d: Float32Array, bounds: Bounds | undefined, place: (out: Float32Array, t: number) => void, f0: number, g0: number, t1: number, exhausted: () => boolean,
): Promise<(Point & { t: number }) | null> {
  const c1 = 1e-4;
  const c2 = 0.9;
  const at = async (t: number) => {
    place(xt, t);
    const r = await evaluate(xt);
    // ∇f·d on the elements the projection left alone (exact, whatever float32 makes of x + t·d),
    // ∇f·(x_t − x)/t on the clamped ones.
    let slope = 0;
    for (let i = 0; i < xt.length; i++) {
      const v = x[i]! + t * d[i]!;
      slope += r.grad[i]! * (bounds && (v < bounds.lower || v > bounds.upper) ? (xt[i]! - x[i]!) / t : d[i]!);
    }
    return { ...r, t, slope };
  };
  let prev: LinePoint = { t: 0, loss: f0, slope: g0 };
  let t = t1;
  let best: (Point & { t: number }) | null = null;
  for (let i = 0; i < 25 && !exhausted(); i++) {
    const cur = await at(t);
    if (!Number.isFinite(cur.loss)) {
      t = (prev.t + t) / 2; // NaN/Inf: shrink towards the last good point
      continue;
    }
    if (cur.loss < f0 && (!best || cur.loss < best.loss)) best = cur;
    if (cur.slope < 0 && Math.abs(f0 - cur.loss) <= FLOAT32_NOISE * Math.abs(f0) && i < 24) {
      // The step is too small to change the float32 loss beyond rounding (tiny gradients, e.g.
      // of scale-free losses, against min(1, 1/‖g‖₁)): no bracket yet, keep widening.
      prev = cur;
      t *= 10;
      continue;
    }
    if (cur.loss > f0 + c1 * t * g0 || (i > 0 && cur.loss >= prev.loss)) {
      return (await zoom(at, prev, cur, f0, g0, c1, c2, exhausted)) ?? best;
    }
    if (Math.abs(cur.slope) <= -c2 * g0) return cur;
    if (cur.slope >= 0) return (await zoom(at, cur, prev, f0, g0, c1, c2, exhausted)) ?? best;
    prev = cur;
    t *= 10; // fast bracketing: the first trial step, min(1, 1/‖g‖₁), is often orders too small
  }
  return best;
}

/** A point on the search line: step t, loss and directional derivative. */
type LinePoint = { t: number; loss: number; slope: number };

async function zoom(
  at: (t: number) => Promise<LinePoint & Point>, lo: LinePoint, hi: LinePoint,
  f0: number, g0: number, c1: number, c2: number, exhausted: () => boolean,
): Promise<(Point & { t: number }) | null> {
  let best: (LinePoint & Point) | null = null;
  for (let i = 0; i < 20 && !exhausted(); i++) {
    const t = cubicMin(lo.t, lo.loss, lo.slope, hi.t, hi.loss, hi.slope);
    const cur = await at(t);
    if (Number.isFinite(cur.loss) && cur.loss < f0 && (!best || cur.loss < best.loss)) best = cur;
    if (!Number.isFinite(cur.loss) || cur.loss > f0 + c1 * t * g0 || cur.loss >= lo.loss) {
      hi = cur;
    } else {
      if (Math.abs(cur.slope) <= -c2 * g0) return cur;
      if (cur.slope * (hi.t - lo.t) >= 0) hi = lo;
      lo = cur;
    }
    if (Math.abs(hi.t - lo.t) < 1e-12 * Math.max(1, Math.abs(lo.t))) break;
  }
  return best;
}
