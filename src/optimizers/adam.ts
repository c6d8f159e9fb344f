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
import { projectInto, type CommonOptions, type MinimizeResult, type Objective, type StopReason } from './types.js';

/** Defaults of {@link adam}'s options (the option table, options.ts, takes its from here). */
export const ADAM_DEFAULTS = { maxEvals: 500, lr: 2, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;

export interface AdamOptions extends CommonOptions {
  /** Step size in parameter units (default {@link ADAM_DEFAULTS}.lr: about 2 of 255 levels per pixel). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * Minimises `f` from `x0` (not modified).
 * @returns the last evaluated iterate with its loss and terms; when the loss became NaN/Inf, the
 *          last one whose loss was finite (stopReason 'no-progress').
 */
export async function adam(f: Objective, x0: Float32Array, options: AdamOptions = {}): Promise<MinimizeResult> {
  const { maxEvals, lr, beta1, beta2, eps, onStep, signal, bounds } = { ...ADAM_DEFAULTS, ...options };
  const maxIterations = options.maxIterations ?? Infinity;
  const x = Float32Array.from(x0);
  if (bounds) projectInto(x, bounds);
  const m = new Float32Array(x.length);
  const v = new Float32Array(x.length);
  const lastGood = Float32Array.from(x0);
  let loss = NaN;
  let terms: Readonly<Record<string, number>> = {};
  let evals = 0;
  let steps = 0; // updates taken to reach x
  let stopReason: StopReason = 'budget';
  while (evals < maxEvals) {
    if (signal?.aborted) {
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
    if (steps > 0) await onStep?.({ iteration: steps, evaluations: evals, loss, terms, x });
    if (evals === maxEvals || steps >= maxIterations) break; // x is evaluated: keep it rather than step to an unevaluated point
    steps++;
    const c1 = 1 - beta1 ** steps;
    const c2 = 1 - beta2 ** steps;
    const g = r.grad;
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      x[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
    if (bounds) projectInto(x, bounds); // both modes: a diagonal method has no active set to keep
  }
  if (stopReason === 'aborted' && steps > 0 && evals > 0) {
    // x was updated but not evaluated since: go back to the last evaluated point.
    x.set(lastGood);
    steps--;
  }
  return { x, loss, terms, iterations: steps, evaluations: evals, stopReason };
}
