/**
 * Adam (Kingma & Ba 2015) on Float32Array parameters, one objective evaluation per step.
 *
 * m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  x ← x − lr · m̂ / (√v̂ + ε), with bias-corrected
 * m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). Because m̂/√v̂ is about ±1 per element early on, `lr` is the step
 * in the parameters' own units: for images in 0–255 units, lr = 2 moves each pixel by about 2
 * levels per step at first.
 */
import type { MinimizeResult, Objective, StepInfo } from './lbfgs.js';

export interface AdamOptions {
  /** Steps = evaluations (default 500). */
  maxEvals?: number;
  /** Step size in parameter units (default 2: about 2 of 255 levels per pixel). */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  onStep?: (info: StepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/**
 * Minimises `f` from `x0` (not modified); returns the last iterate, or, when the loss became
 * NaN/Inf, the last one whose loss was finite (stopReason 'no-progress').
 */
export async function adam(f: Objective, x0: Float32Array, options: AdamOptions = {}): Promise<MinimizeResult> {
  const { maxEvals = 500, lr = 2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, onStep, signal } = options;
  const x = Float32Array.from(x0);
  const m = new Float32Array(x.length);
  const v = new Float32Array(x.length);
  const lastGood = Float32Array.from(x0);
  let loss = NaN;
  let step = 0;
  let stopReason: MinimizeResult['stopReason'] = 'budget';
  while (step < maxEvals) {
    if (signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    const r = await f(x);
    if (!Number.isFinite(r.loss)) {
      x.set(lastGood); // return the last iterate whose loss was finite
      stopReason = 'no-progress';
      break;
    }
    lastGood.set(x);
    loss = r.loss;
    step++;
    const c1 = 1 - beta1 ** step;
    const c2 = 1 - beta2 ** step;
    const g = r.grad;
    for (let i = 0; i < x.length; i++) {
      const gi = g[i]!;
      m[i] = beta1 * m[i]! + (1 - beta1) * gi;
      v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
      x[i]! -= (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
    await onStep?.({ iteration: step, evaluations: step, loss, x });
  }
  return { x, loss, iterations: step, evaluations: step, stopReason };
}
