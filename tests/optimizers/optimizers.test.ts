/** L-BFGS (both line searches) and Adam on functions with known minima. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lbfgs, twoLoopDirection, Objective } from '../../src/optimizers/lbfgs.js';
import { adam } from '../../src/optimizers/adam.js';

/** f(x) = ½ Σ d_i (x_i − c_i)², d_i from 1 to 100 (condition number 100); minimum 0 at c. */
function quadratic(n: number): { f: Objective; c: Float32Array } {
  const d = Float64Array.from({ length: n }, (_, i) => 1 + (99 * i) / (n - 1));
  const c = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const f: Objective = async (x) => {
    let loss = 0;
    const grad = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const r = x[i]! - c[i]!;
      loss += 0.5 * d[i]! * r * r;
      grad[i] = d[i]! * r;
    }
    return { loss, grad };
  };
  return { f, c };
}

/** Rosenbrock in 2·k dimensions: Σ 100(y − x²)² + (1 − x)²; minimum 0 at all ones. */
const rosenbrock: Objective = async (v) => {
  let loss = 0;
  const grad = new Float32Array(v.length);
  for (let i = 0; i < v.length; i += 2) {
    const x = v[i]!;
    const y = v[i + 1]!;
    loss += 100 * (y - x * x) ** 2 + (1 - x) ** 2;
    grad[i] = -400 * x * (y - x * x) - 2 * (1 - x);
    grad[i + 1] = 200 * (y - x * x);
  }
  return { loss, grad };
};

const maxDiff = (a: Float32Array, b: Float32Array | number) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (typeof b === 'number' ? b : b[i]!))), 0);

test('L-BFGS with strong Wolfe solves a 100-D quadratic of condition 100 to 1e-4', async () => {
  const { f, c } = quadratic(100);
  const r = await lbfgs(f, new Float32Array(100), { maxEvals: 200 });
  assert.ok(maxDiff(r.x, c) < 1e-4, `max |x − c| = ${maxDiff(r.x, c)}`);
  assert.ok(r.evaluations < 120, `used ${r.evaluations} evaluations`);
});

test('L-BFGS with strong Wolfe solves the 10-D Rosenbrock function from (−1.2, 1)', async () => {
  const x0 = Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1.2));
  const r = await lbfgs(rosenbrock, x0, { maxEvals: 500 });
  assert.ok(r.loss < 1e-8, `loss ${r.loss}`);
  assert.ok(maxDiff(r.x, 1) < 1e-3, `max |x − 1| = ${maxDiff(r.x, 1)}`);
});

test('L-BFGS with the fixed unit step (Torch style) solves the quadratic', async () => {
  const { f, c } = quadratic(50);
  const r = await lbfgs(f, new Float32Array(50), { maxEvals: 300, lineSearch: 'fixed' });
  assert.ok(maxDiff(r.x, c) < 1e-3, `max |x − c| = ${maxDiff(r.x, c)}`);
});

test('L-BFGS stops at once when aborted and reports it', async () => {
  const { f } = quadratic(10);
  const ac = new AbortController();
  const r = await lbfgs(f, new Float32Array(10), { maxEvals: 100, signal: ac.signal, onStep: (s) => { if (s.iteration === 2) ac.abort(); } });
  assert.equal(r.stopReason, 'aborted');
  assert.equal(r.iterations, 2);
});

test('Adam reaches the minimum of the quadratic; lr is the per-coordinate step size', async () => {
  const { f, c } = quadratic(20);
  let firstStep = 0;
  const r = await adam(f, new Float32Array(20), { maxEvals: 3000, lr: 0.05, onStep: (s) => { if (s.iteration === 1) firstStep = maxDiff(s.x, 0); } });
  assert.ok(Math.abs(firstStep - 0.05) < 1e-6, `first step moved ${firstStep}`);
  assert.ok(maxDiff(r.x, c) < 1e-2, `max |x − c| = ${maxDiff(r.x, c)}`);
});

test('Adam gets within 1e-2 of the Rosenbrock minimum', async () => {
  const r = await adam(rosenbrock, Float32Array.from([-1.2, 1]), { maxEvals: 20000, lr: 0.01 });
  assert.ok(maxDiff(r.x, 1) < 2e-2, `x = ${Array.from(r.x)}`);
});

test('L-BFGS (strong Wolfe) shrinks a trial step whose loss is NaN and still reaches the minimum', async () => {
  // ½Σ(x−5)² in 100-D; the first trial point beyond x_i = 0.5 gives NaN (a transient overflow).
  // From x0 = 0 the widening (×10 per trial) reaches x = 1 there, and must shrink back towards the
  // last good point rather than give up.
  let nans = 0;
  const f: Objective = async (x) => {
    if (nans === 0 && x.some((v) => v > 0.5)) {
      nans++;
      return { loss: NaN, grad: new Float32Array(x.length).fill(NaN) };
    }
    let loss = 0;
    const grad = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      loss += 0.5 * (x[i]! - 5) ** 2;
      grad[i] = x[i]! - 5;
    }
    return { loss, grad, terms: { quad: loss } };
  };
  const r = await lbfgs(f, new Float32Array(100), { maxEvals: 60 });
  assert.ok(nans > 0, 'the NaN region was hit');
  assert.ok(maxDiff(r.x, 5) < 1e-3, `x = ${Array.from(r.x)}`);
  assert.equal(r.terms.quad, r.loss, 'the terms are those of the returned point');
});

test('L-BFGS widens a first step too small to change a float32 loss beyond rounding, instead of giving up', async () => {
  // f = fround(1 + 1e-7·Σ(x−1)²) in 10-D from x0 = 0: the first trial step, min(1, 1/‖g‖₁), moves
  // x by 2e-7, which changes f by ~4e-13, far below float32 rounding (6e-8 at 1).
  const n = 10;
  let calls = 0;
  const f: Objective = async (x) => {
    calls++;
    let q = 0;
    const grad = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      q += (x[i]! - 1) ** 2;
      grad[i] = 2e-7 * (x[i]! - 1);
    }
    return { loss: Math.fround(1 + 1e-7 * q), grad };
  };
  const steps: number[] = [];
  const r = await lbfgs(f, new Float32Array(n), { maxEvals: 80, onStep: (s) => { steps.push(s.evaluations); } });
  assert.ok(steps[0]! >= 6, `the first step widened over several trials (accepted after ${steps[0]} evaluations)`);
  assert.ok(maxDiff(r.x, 1) < 0.05, `x = ${Array.from(r.x).map((v) => v.toFixed(3))}`);
  assert.ok(r.loss < Math.fround(1 + 1e-6), `loss ${r.loss}`);
  assert.ok(calls <= 80);
});

test('Adam reports each step with the loss and terms of the image it reports, and returns an evaluated point', async () => {
  const seen = new Map<string, number>();
  const f: Objective = async (x) => {
    const loss = x.reduce((a, v) => a + (v - 3) ** 2, 0);
    seen.set(Array.from(x).join(), loss);
    return { loss, grad: x.map((v) => 2 * (v - 3)), terms: { quad: loss } };
  };
  const r = await adam(f, new Float32Array(3), {
    maxEvals: 12, lr: 0.5,
    onStep: (s) => {
      assert.equal(seen.get(Array.from(s.x).join()), s.loss, `step ${s.iteration}: the loss is that of the image reported`);
      assert.equal(s.terms.quad, s.loss);
    },
  });
  assert.equal(r.evaluations, 12);
  assert.equal(r.iterations, 11);
  assert.equal(seen.get(Array.from(r.x).join()), r.loss, 'the returned image was evaluated, with the returned loss');
});

/** f(x) = ½‖Ax − b‖² with A = I + 0.4·(shift up + shift down) (coupled variables), b from a seed-free formula. */
function coupled(n: number): Objective {
  const b = Float64Array.from({ length: n }, (_, i) => 3 * Math.sin(1.7 * i) + 0.5);
  return async (x) => {
    const r = new Float64Array(n);
    for (let i = 0; i < n; i++) r[i] = x[i]! + 0.4 * ((x[i - 1] ?? 0) + (x[i + 1] ?? 0)) - b[i]!;
    const grad = new Float32Array(n);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      loss += 0.5 * r[i]! ** 2;
      grad[i] = r[i]! + 0.4 * ((r[i - 1] ?? 0) + (r[i + 1] ?? 0));
    }
    return { loss, grad };
  };
}

test('projected L-BFGS keeps every evaluated point in the box and meets the KKT conditions of the box-constrained minimum', async () => {
  const n = 60;
  const f0 = coupled(n);
  const box = { lower: -1, upper: 2 };
  let outside = 0;
  const f: Objective = async (x) => {
    for (const v of x) if (v < box.lower || v > box.upper) outside++;
    return f0(x);
  };
  const r = await lbfgs(f, new Float32Array(n), { maxEvals: 300, bounds: { ...box, mode: 'project' }, gradTol: 1e-6 });
  assert.equal(outside, 0, 'no evaluated point left the box');
  const { grad } = await f0(r.x);
  let atBound = 0;
  for (let i = 0; i < n; i++) {
    const x = r.x[i]!;
    const g = grad[i]!;
    if (x <= box.lower) { atBound++; assert.ok(g >= -1e-4, `x_${i} at lower bound with g ${g}`); }
    else if (x >= box.upper) { atBound++; assert.ok(g <= 1e-4, `x_${i} at upper bound with g ${g}`); }
    else assert.ok(Math.abs(g) <= 1e-4, `free x_${i} = ${x} with g ${g}`);
  }
  assert.ok(atBound >= 10 && atBound <= n - 10, `${atBound} variables at a bound: the box matters`);
  // Better than optimising without the box and clipping afterwards.
  const free = await lbfgs(f0, new Float32Array(n), { maxEvals: 300 });
  const clipped = Float32Array.from(free.x, (v) => Math.min(box.upper, Math.max(box.lower, v)));
  const lossClipped = (await f0(clipped)).loss;
  assert.ok(r.loss < 0.9 * lossClipped, `projected ${r.loss} vs clipped afterwards ${lossClipped}`);
  // The per-step clamp also stays in the box, and gets no lower than the projected method.
  const c = await lbfgs(f0, new Float32Array(n), { maxEvals: 300, bounds: { ...box, mode: 'clamp' } });
  assert.ok(c.x.every((v) => v >= box.lower && v <= box.upper));
  assert.ok(r.loss <= c.loss * (1 + 1e-6), `projected ${r.loss}, clamp ${c.loss}`);
});

test('Adam with bounds clamps each update; maxIterations stops both optimisers at that many steps', async () => {
  const n = 60;
  const f = coupled(n);
  const a = await adam(f, new Float32Array(n), { maxEvals: 200, lr: 0.5, bounds: { lower: -1, upper: 2, mode: 'project' } });
  assert.ok(a.x.every((v) => v >= -1 && v <= 2));
  assert.ok(a.x.some((v) => v === 2) && a.x.some((v) => v === -1), 'some variables sit at each bound');
  const steps: number[] = [];
  const l = await lbfgs(f, new Float32Array(n), { maxEvals: 1000, maxIterations: 7, onStep: (s) => { steps.push(s.iteration); } });
  assert.deepEqual([l.iterations, steps.at(-1), l.stopReason], [7, 7, 'budget']);
  assert.ok(l.evaluations >= 7);
  const m = await adam(f, new Float32Array(n), { maxEvals: 1000, maxIterations: 7 });
  assert.deepEqual([m.iterations, m.evaluations], [7, 8], 'Adam: 7 updates between 8 evaluated points');
});

test('resume: both optimisers continue from a step boundary to the very iterate an uninterrupted run reaches', async () => {
  for (const method of ['lbfgs', 'adam'] as const) {
    const run = (opts: Parameters<typeof lbfgs>[2]) => (method === 'lbfgs' ? lbfgs(rosenbrock, Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1.2)), opts) : adam(rosenbrock, new Float32Array(10), { ...opts, lr: 0.05 }));
    const whole = await run({ maxIterations: 30, maxEvals: 1000, history: 4 });
    let saved: ReturnType<NonNullable<Parameters<typeof lbfgs>[2]>['onStep'] & {}> | undefined;
    let state: import('../../src/optimizers/types.js').OptimiserState | undefined;
    const ac = new AbortController();
    const first = await run({
      maxIterations: 30, maxEvals: 1000, history: 4, signal: ac.signal,
      onStep: (s) => {
        if (s.iteration === 12) {
          // serialise as a checkpoint would: copies of every array
          const st = s.state();
          state = st.kind === 'lbfgs'
            ? { ...st, x: Float32Array.from(st.x), grad: Float32Array.from(st.grad), s: st.s.map((v) => Float32Array.from(v)), y: st.y.map((v) => Float32Array.from(v)) }
            : { ...st, x: Float32Array.from(st.x), grad: Float32Array.from(st.grad), m: Float32Array.from(st.m), v: Float32Array.from(st.v) };
          ac.abort();
        }
        return saved;
      },
    });
    assert.equal(first.stopReason, 'aborted');
    assert.equal(first.iterations, 12);
    const rest = await run({ maxIterations: 30, maxEvals: 1000, history: 4, resume: state });
    assert.equal(rest.iterations, whole.iterations, method);
    assert.equal(rest.evaluations, whole.evaluations, `${method}: the budget counts the inherited evaluations`);
    assert.deepEqual(Array.from(rest.x), Array.from(whole.x), `${method}: the same iterate, bit for bit`);
    assert.equal(rest.loss, whole.loss);
  }
});

test('tolerance: the run stops (converged) at the first step where the loss fell by less than the tolerance over the window', async () => {
  const { f } = quadratic(100);
  const losses: number[] = [];
  // Adam's slow linear convergence on a quadratic (L-BFGS reaches its exact minimum first).
  const r = await adam(f, new Float32Array(100), { maxEvals: 5000, lr: 0.01, tolerance: 1e-3, window: 5, onStep: (s) => { losses.push(s.loss); } });
  assert.equal(r.stopReason, 'converged');
  const all = [(await f(new Float32Array(100))).loss, ...losses];
  const k = all.length - 1;
  assert.ok((all[k - 5]! - all[k]!) / all[k - 5]! < 1e-3, 'the window condition holds at the stop');
  for (let j = 5; j < k; j++) assert.ok((all[j - 5]! - all[j]!) / all[j - 5]! >= 1e-3, `and at no earlier step (${j})`);
  const off = await adam(f, new Float32Array(100), { maxEvals: 5000, lr: 0.01, maxIterations: k + 20 });
  assert.ok(off.iterations > k, 'without a tolerance it goes on');
  const l = await lbfgs(rosenbrock, Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 1 : -1.2)), { maxEvals: 1000, tolerance: 0.5, window: 3 });
  assert.equal(l.stopReason, 'converged', 'L-BFGS stops too');
});

test('both optimisers check their arguments at the library boundary, before any evaluation (a history of 0 used to loop forever)', async () => {
  let calls = 0;
  const f: Objective = async (x) => { calls++; return { loss: x.reduce((a, v) => a + v * v, 0), grad: x.map((v) => 2 * v) }; };
  const x0 = new Float32Array([1, 2]);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['no objective', () => lbfgs(null as never, x0), /^lbfgs: invalid objective: expected a function/],
    ['an Array x0', () => adam(f, [1, 2] as never), /^adam: invalid x0: expected a non-empty Float32Array, received Array$/],
    ['an empty x0', () => lbfgs(f, new Float32Array(0)), /^lbfgs: invalid x0: expected a non-empty Float32Array/],
    ['a NaN in x0', () => lbfgs(f, new Float32Array([1, NaN])), /^lbfgs: invalid x0: expected finite values/],
    ['null options', () => adam(f, x0, null as never), /^adam: invalid options: expected an object, received null$/],
    ['history 0', () => lbfgs(f, x0, { history: 0 }), /^lbfgs: invalid history: expected an integer ≥ 1, received 0$/],
    ['history 2.5', () => lbfgs(f, x0, { history: 2.5 }), /invalid history/],
    ['maxEvals 0', () => lbfgs(f, x0, { maxEvals: 0 }), /^lbfgs: invalid maxEvals: expected an integer ≥ 1 \(or Infinity\), received 0$/],
    ['maxIterations NaN', () => adam(f, x0, { maxIterations: NaN }), /^adam: invalid maxIterations/],
    ['tolerance −1', () => adam(f, x0, { tolerance: -1 }), /^adam: invalid tolerance: expected a number ≥ 0, received -1$/],
    ['window 0', () => lbfgs(f, x0, { window: 0 }), /invalid window/],
    ['a line search', () => lbfgs(f, x0, { lineSearch: 'armijo' as never }), /^lbfgs: invalid lineSearch: expected 'strong-wolfe' or 'fixed', received armijo$/],
    ['lr 0', () => adam(f, x0, { lr: 0 }), /^adam: invalid lr: expected a number > 0, received 0$/],
    ['beta2 1', () => adam(f, x0, { beta2: 1 }), /^adam: invalid beta2: expected a number in \[0, 1\), received 1$/],
    ['bounds upside down', () => lbfgs(f, x0, { bounds: { lower: 1, upper: 0, mode: 'project' } }), /^lbfgs: invalid bounds: expected \{ lower < upper/],
    ['a signal that is not one', () => adam(f, x0, { signal: 'stop' as never }), /^adam: invalid signal: expected an AbortSignal, received stop$/],
  ];
  for (const [name, run, message] of cases) {
    await assert.rejects(run(), (e: Error) => e.name === 'OptionError' && message.test(e.message), name);
  }
  assert.equal(calls, 0, 'nothing was evaluated');
  // Budgets may be Infinity when another stop ends the run.
  const r = await lbfgs(rosenbrock, new Float32Array([-1.2, 1]), { maxEvals: Infinity, maxIterations: 3 });
  assert.equal(r.iterations, 3);
  assert.equal(r.stopReason, 'budget');
});

test('the two-loop direction (fused passes) equals a plain float64 two-loop recursion and meets the secant equation H·y = s of the newest pair', () => {
  const n = 1001; // odd: the unrolled loops' tails run too
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const S: Float32Array[] = [];
  const Y: Float32Array[] = [];
  for (let k = 0; k < 5; k++) {
    const s = Float32Array.from({ length: n }, rand);
    // y = D·s + noise with D in [1, 3]: sᵀy > 0, as the pairs L-BFGS keeps.
    Y.push(Float32Array.from(s, (v, i) => (1 + (2 * i) / n) * v + 0.1 * rand()));
    S.push(s);
  }
  const rho = S.map((s, k) => 1 / s.reduce((a, v, i) => a + v * Y[k]![i]!, 0));
  const g = Float32Array.from({ length: n }, rand);
  // Reference: Nocedal & Wright Algorithm 7.4, in float64 throughout.
  const q = Float64Array.from(g);
  const dot64 = (a: ArrayLike<number>, b: ArrayLike<number>) => { let t = 0; for (let i = 0; i < n; i++) t += a[i]! * b[i]!; return t; };
  const alpha: number[] = [];
  for (let k = 4; k >= 0; k--) {
    alpha[k] = rho[k]! * dot64(S[k]!, q);
    for (let i = 0; i < n; i++) q[i]! -= alpha[k]! * Y[k]![i]!;
  }
  const gamma = dot64(S[4]!, Y[4]!) / dot64(Y[4]!, Y[4]!);
  for (let i = 0; i < n; i++) q[i]! *= gamma;
  for (let k = 0; k < 5; k++) {
    const beta = rho[k]! * dot64(Y[k]!, q);
    for (let i = 0; i < n; i++) q[i]! += (alpha[k]! - beta) * S[k]![i]!;
  }
  const d = new Float32Array(n);
  twoLoopDirection(d, g, S, Y, rho, new Float64Array(5));
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a, (v, i) => (v - b[i]!) ** 2).reduce((x, y) => x + y, 0) / dot64(b, b));
  assert.ok(rel(d, Float64Array.from(q, (v) => -v)) < 1e-5, `direction off the reference by ${rel(d, Float64Array.from(q, (v) => -v))}`);
  // Secant equation: with g = −y_newest, d = −H·g = H·y_newest = s_newest.
  twoLoopDirection(d, Float32Array.from(Y[4]!, (v) => -v), S, Y, rho, new Float64Array(5));
  assert.ok(rel(d, S[4]!) < 1e-5, `H·y off s by ${rel(d, S[4]!)}`);
  // No pairs: steepest descent.
  twoLoopDirection(d, g, [], [], [], new Float64Array(0));
  assert.deepEqual(Array.from(d), Array.from(g, (v) => -v));
});
