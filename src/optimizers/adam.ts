/**
 * Adam (Kingma & Ba 2015) on Float32Array parameters, one objective evaluation per step.
 *
 * m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  x ← x − lr · m̂ / (√v̂ + ε), with bias-corrected
 * m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). Because m̂/√v̂ is about ±1 per element early on, `lr` is the step
 * in the parameters' own units: for images in 0–255 units, lr = 2 moves each pixel by about 2
 * levels per step at first.
 *
 * Budget: `maxEvals` evaluations at x_0 … x_{E−1} and E − 1 updates between them (fewer when
 * `maxIterations` updates come first), so every point reported or returned has been evaluated:
 * step k reports x_k with f(x_k) and its terms. With `bounds`, x_0 and each update are clamped to
 * the box.
 */
import { checkArguments, checkResume, LossWindow, projectInto, TOLERANCE_WINDOW, type AdamState, type CommonOptions, type MinimizeResult, type Objective, type StopReason } from './types.js';

/** Defaults of {@link adam}'s options (the option table, options.ts, takes its from here). */
export const ADAM_DEFAULTS = { maxEvals: 500, lr: 2, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export interface AdamOptions extends CommonOptions {
  /** Step size in parameter units (default {@link ADAM_DEFAULTS}.lr: about 2 of 255 levels per pixel). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /**
   * Start from these moments (e.g. a coarser scale's, resized) instead of zeros, as after `t`
   * updates: the bias corrections use t + the updates of this run.
   */
  moments?: { m: Float32Array; v: Float32Array; t: number };
}

/**
 * Minimises `f` from `x0` (not modified), or continues from `resume`.
 *
 * Each loop applies the update of the last evaluated gradient, then evaluates the new point and
 * reports it: so at every report (and at an abort or a stop) x, its gradient and m, v are the
 * state of one step boundary, and the update of that gradient is still to come (`AdamState`).
 * @returns the last evaluated iterate with its loss and terms; when the loss became NaN/Inf, the
 *          last one whose loss was finite (stopReason 'no-progress').
 * @throws OptionError for an argument out of its range (`checkArguments`, types.ts), before any evaluation.
 */
export async function adam(f: Objective, x0: Float32Array, options: AdamOptions = {}): Promise<MinimizeResult> {
  checkArguments('adam', f, x0, options, [
    ['lr', options?.lr, (v) => v > 0 && v < Infinity, 'a number > 0'],
    ['beta1', options?.beta1, (v) => v >= 0 && v < 1, 'a number in [0, 1)'],
    ['beta2', options?.beta2, (v) => v >= 0 && v < 1, 'a number in [0, 1)'],
    ['eps', options?.eps, (v) => v > 0 && v < Infinity, 'a number > 0'],
  ]);
  const { maxEvals, lr, beta1, beta2, eps, onStep, signal, bounds } = { ...ADAM_DEFAULTS, ...options };
  const maxIterations = options.maxIterations ?? Infinity;
  checkResume(options.resume, 'adam', x0.length);
  const r0 = options.resume?.kind === 'adam' ? options.resume : undefined;
  const x = new Float32Array(r0 ? r0.x : x0);
  if (bounds && !r0) projectInto(x, bounds);
  const given = options.moments;
  if (given && (given.m.length !== x.length || given.v.length !== x.length)) throw new Error(`the given moments hold ${given.m.length} values, the problem ${x.length}`);
  const copyOrZeros = (a: Float32Array | undefined) => (a ? new Float32Array(a) : new Float32Array(x.length));
  const m = copyOrZeros(r0?.m ?? given?.m);
  const v = copyOrZeros(r0?.v ?? given?.v);
  const offset = r0?.offset ?? given?.t ?? 0;
  /** The gradient at x, whose update is still to be applied (null before the first evaluation). */
  let pending: Float32Array | null = r0 ? new Float32Array(r0.grad) : null;
  const lastGood = new Float32Array(x);
  let loss = r0?.loss ?? NaN;
  let terms: Readonly<Record<string, number>> = r0?.terms ?? {};
  let evals = r0?.evaluations ?? 0;
  let steps = r0?.iterations ?? 0; // updates taken to reach x
  const stall = new LossWindow(options.tolerance ?? 0, options.window ?? TOLERANCE_WINDOW, r0?.recent ?? []);
  const state = (): AdamState => ({ kind: 'adam', x, loss, grad: pending!, terms, iterations: steps, evaluations: evals, recent: [...stall.recent], m, v, offset });
  let stopReason: StopReason = 'budget';
  while (evals < maxEvals) {
    if (pending) {
      if (steps >= maxIterations) break; // x is evaluated: keep it rather than step to an unevaluated point
      if (signal?.aborted) {
        stopReason = 'aborted';
        break;
      }
      steps++;
      const c1 = 1 - beta1 ** (offset + steps);
      const c2 = 1 - beta2 ** (offset + steps);
      const g = pending;
      for (let i = 0; i < x.length; i++) {
        const gi = g[i]!;
        m[i] = beta1 * m[i]! + (1 - beta1) * gi;
        v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
        x[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      }
      if (bounds) projectInto(x, bounds); // both modes: a diagonal method has no active set to keep
    } else if (signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    const r = await f(x);
    evals++;
    if (!Number.isFinite(r.loss)) {
      x.set(lastGood); // the last iterate whose loss was finite
      if (steps > 0) steps--;
      stopReason = 'no-progress';
      break;
    }
    lastGood.set(x);
    loss = r.loss;
    terms = r.terms ?? {};
    pending = new Float32Array(r.grad); // a copy: the objective may reuse its array
    const stalled = stall.push(loss);
    if (steps > 0) await onStep?.({ iteration: steps, evaluations: evals, loss, terms, x, state });
    if (stalled) {
      stopReason = 'converged';
      break;
    }
  }
  return { x, loss, terms, iterations: steps, evaluations: evals, stopReason };
}
