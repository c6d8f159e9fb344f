/**
 * Every op in the table: forward on hand-computable inputs, and its VJP against central finite
 * differences. Float64 per-element checks where ORT's CPU provider has a float64 kernel; Conv,
 * AveragePool and MaxPool/MaxUnpool have float32 kernels only, so they are checked as directional
 * derivatives in float32 (they are linear or piecewise linear, so the difference quotient is exact
 * up to rounding; tolerance 1e-5 relative).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, Value, GraphBuildError } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { sessionFor, uniform, dot, lossAndGrad, checkVjp64, Build } from '../helpers.js';

/** Runs `build` forward on the given inputs and returns its single output. */
async function forward(dtype: 'float32' | 'float64', inputs: { data: number[]; dims: number[] }[], build: Build) {
  const b = new GraphBuilder(dtype);
  const t = new Tape(b);
  const xs = inputs.map((inp, i) => b.input(`x${i}`, inp.dims));
  b.output('y', build(t, xs));
  const s = await sessionFor(b);
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;
  const feeds = Object.fromEntries(inputs.map((inp, i) => [`x${i}`, { data: Arr.from(inp.data), dims: inp.dims }]));
  const out = (await s.run(feeds)).y!;
  await s.dispose();
  return { data: Array.from(out.data as Float64Array), dims: out.dims };
}

/** Float32 directional derivative along a random direction v, with step ε; rel. error ≤ tol. */
async function checkVjp32(shape: number[], build: Build, x0: Float64Array, eps: number, tol = 1e-5) {
  const { run, dispose } = await lossAndGrad('float32', [shape], build);
  const v = uniform(x0.length, 1234);
  const g = (await run([x0])).g0!.data as Float32Array;
  const lp = Number((await run([x0.map((xi, k) => xi + eps * v[k]!)])).loss!.data[0]);
  const lm = Number((await run([x0.map((xi, k) => xi - eps * v[k]!)])).loss!.data[0]);
  const fd = (lp - lm) / (2 * eps);
  const an = dot(g, v);
  assert.ok(Math.abs(an) > 1e-3, 'directional derivative is not trivially zero');
  assert.ok(Math.abs(fd - an) <= tol * Math.abs(an), `FD ${fd} vs VJP ${an} (rel ${Math.abs(fd - an) / Math.abs(an)})`);
  await dispose();
}

const seq = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

// ---------------------------------------------------------------------------------------------

test('Conv: 3×3 ones kernel with pads 1 and bias sums each 3×3 neighbourhood', async () => {
  const y = await forward('float32', [{ data: seq(9), dims: [1, 1, 3, 3] }], (t, [x]) =>
    t.conv(x!, t.b.constant('w', new Float32Array(9).fill(1), [1, 1, 3, 3]), t.b.constant('bias', [0.5], [1]), { pads: [1, 1, 1, 1] }, 'c'));
  assert.deepEqual(y.dims, [1, 1, 3, 3]);
  // corners: 1+2+4+5=12, 2+3+5+6=16, 4+5+7+8=24, 5+6+8+9=28; edges 1+2+3+4+5+6=21 …; centre 45.
  assert.deepEqual(y.data, [12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5));
});

test('Conv VJP matches finite differences (float32, 5×7 px, 3×3 and 5×5 kernels, asymmetric pads)', async () => {
  for (const [k, pads] of [[3, [1, 1, 1, 1]], [5, [2, 1, 0, 3]]] as const) {
    const w = uniform(3 * 2 * k * k, 7);
    await checkVjp32([1, 2, 5, 7], (t, [x]) => t.conv(x!, t.b.constant('w', w, [3, 2, k, k]), t.b.constant('b', [0.1, -0.2, 0.3], [3]), { pads: [...pads] }, 'c'),
      uniform(70, 3), 1);
  }
});

test('Relu forward and VJP', async () => {
  const y = await forward('float64', [{ data: [-1, 0, 2, -3.5], dims: [4] }], (t, [x]) => t.relu(x!, 'r'));
  assert.deepEqual(y.data, [0, 0, 2, 0]);
  await checkVjp64([[2, 3, 4]], (t, [x]) => t.relu(x!, 'r'));
});

test('AveragePool 2×2/2 forward, odd sizes dropping the last row and column', async () => {
  const y = await forward('float32', [{ data: seq(15), dims: [1, 1, 3, 5] }], (t, [x]) => t.avgPool(x!, 'p'));
  assert.deepEqual(y.dims, [1, 1, 1, 2]);
  assert.deepEqual(y.data, [(1 + 2 + 6 + 7) / 4, (3 + 4 + 8 + 9) / 4]);
});

test('AveragePool VJP matches finite differences on an odd 5×7 input', async () => {
  await checkVjp32([1, 2, 5, 7], (t, [x]) => t.avgPool(x!, 'p'), uniform(70, 4), 1);
});

test('MaxPool 2×2/2 forward', async () => {
  const y = await forward('float32', [{ data: seq(16), dims: [1, 1, 4, 4] }], (t, [x]) => t.maxPool(x!, 'p'));
  assert.deepEqual(y.data, [6, 8, 14, 16]);
});

test('MaxPool VJP (MaxUnpool) matches finite differences on an odd 5×7 input', async () => {
  // Distinct values 1 apart, so a step of at most 0.4 per element never changes a window's argmax
  // and the difference quotient of this piecewise-linear map is exact up to rounding.
  const r = uniform(70, 5);
  const order = [...r.keys()].sort((a, b) => r[a]! - r[b]!);
  const x0 = new Float64Array(70);
  order.forEach((k, rank) => (x0[k] = rank - 35));
  await checkVjp32([1, 2, 5, 7], (t, [x]) => t.maxPool(x!, 'p'), x0, 0.4);
});

test('Reshape and Transpose forward and VJP', async () => {
  const y = await forward('float64', [{ data: seq(6), dims: [2, 3] }], (t, [x]) => t.transpose(x!, [1, 0], 'tr'));
  assert.deepEqual(y.data, [1, 4, 2, 5, 3, 6]);
  await checkVjp64([[2, 3, 4]], (t, [x]) => t.reshape(t.transpose(x!, [2, 0, 1], 'tr'), [4, 6], 'rs'));
});

test('MatMul forward and VJP for both operands', async () => {
  const y = await forward('float64', [{ data: [1, 2, 3, 4], dims: [2, 2] }, { data: [5, 6, 7, 8], dims: [2, 2] }], (t, [a, m]) => t.matmul(a!, m!, 'mm'));
  assert.deepEqual(y.data, [19, 22, 43, 50]);
  await checkVjp64([[3, 4], [4, 2]], (t, [a, m]) => t.matmul(a!, m!, 'mm'));
});

test('Gemm forward and VJP for every transA/transB combination and α', async () => {
  const y = await forward('float64', [{ data: [1, 2, 3, 4], dims: [2, 2] }, { data: [5, 6, 7, 8], dims: [2, 2] }], (t, [a, m]) => t.gemm(a!, m!, { transB: 1, alpha: 2 }, 'g'));
  assert.deepEqual(y.data, [2 * 17, 2 * 23, 2 * 39, 2 * 53]);
  for (const transA of [0, 1] as const) {
    for (const transB of [0, 1] as const) {
      const sa = transA ? [4, 3] : [3, 4];
      const sb = transB ? [2, 4] : [4, 2];
      await checkVjp64([sa, sb], (t, [a, m]) => t.gemm(a!, m!, { transA, transB, alpha: 1.5 }, 'g'));
    }
  }
});

test('Gram G = F·Fᵀ forward and its fused VJP', async () => {
  const y = await forward('float64', [{ data: [1, 2, 3, 4], dims: [2, 2] }], (t, [f]) => t.gram(f!, 'g'));
  assert.deepEqual(y.data, [5, 11, 11, 25]);
  await checkVjp64([[3, 5]], (t, [f]) => t.gram(f!, 'g'));
});

test('Add, Sub, Mul, Div by tensor and by broadcast scalar or row', async () => {
  const two = [{ data: [1, 2, 3, 4], dims: [2, 2] }, { data: [2, 4], dims: [2] }];
  assert.deepEqual((await forward('float64', two, (t, [a, c]) => t.add(a!, c!, 'o'))).data, [3, 6, 5, 8]);
  assert.deepEqual((await forward('float64', two, (t, [a, c]) => t.sub(a!, c!, 'o'))).data, [-1, -2, 1, 0]);
  assert.deepEqual((await forward('float64', two, (t, [a, c]) => t.mul(a!, c!, 'o'))).data, [2, 8, 6, 16]);
  assert.deepEqual((await forward('float64', two, (t, [a, c]) => t.div(a!, c!, 'o'))).data, [0.5, 0.5, 1.5, 1]);
  const positive = (i: number, n: number) => uniform(n, 20 + i, 0.5, 2);
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    await checkVjp64([[2, 3], [2, 3]], (t, [a, c]) => t[op](a!, c!, 'o'), positive);
    await checkVjp64([[2, 3], [3]], (t, [a, c]) => t[op](a!, c!, 'o'), positive);
    await checkVjp64([[2, 3], []], (t, [a, c]) => t[op](a!, c!, 'o'), positive);
    await checkVjp64([[2, 1], [1, 3]], (t, [a, c]) => t[op](a!, c!, 'o'), positive);
  }
});

test('Abs forward and VJP', async () => {
  assert.deepEqual((await forward('float64', [{ data: [-2, 3], dims: [2] }], (t, [x]) => t.abs(x!, 'a'))).data, [2, 3]);
  await checkVjp64([[2, 5]], (t, [x]) => t.abs(x!, 'a'));
});

test('Sqrt forward and VJP', async () => {
  assert.deepEqual((await forward('float64', [{ data: [4, 2.25], dims: [2] }], (t, [x]) => t.sqrt(x!, 's'))).data, [2, 1.5]);
  await checkVjp64([[2, 5]], (t, [x]) => t.sqrt(x!, 's'), (_i, n) => uniform(n, 5, 0.5, 3));
});

test('ReduceSum, ReduceMean and ReduceSumSquare over all axes and over chosen axes', async () => {
  const x = [{ data: seq(6), dims: [2, 3] }];
  assert.deepEqual((await forward('float64', x, (t, [v]) => t.reduceSum(v!, 'r'))).data, [21]);
  assert.deepEqual((await forward('float64', x, (t, [v]) => t.reduceMean(v!, 'r', { axes: [1] }))).data, [2, 5]);
  assert.deepEqual((await forward('float64', x, (t, [v]) => t.reduceSumSquare(v!, 'r', { axes: [0], keepdims: true }))).data, [17, 29, 45]);
  for (const attrs of [{}, { axes: [1] }, { axes: [0, 2], keepdims: true }]) {
    await checkVjp64([[2, 3, 2]], (t, [v]) => t.reduceSum(v!, 'r', attrs));
    await checkVjp64([[2, 3, 2]], (t, [v]) => t.reduceMean(v!, 'r', attrs));
    await checkVjp64([[2, 3, 2]], (t, [v]) => t.reduceSumSquare(v!, 'r', attrs));
  }
});

test('Slice and Pad forward and VJP', async () => {
  const x = [{ data: seq(6), dims: [2, 3] }];
  assert.deepEqual((await forward('float64', x, (t, [v]) => t.slice(v!, { axes: [1], starts: [1], ends: [3] }, 's'))).data, [2, 3, 5, 6]);
  assert.deepEqual((await forward('float64', x, (t, [v]) => t.pad(v!, [0, 1, 1, 0], 'p'))).data, [0, 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0]);
  await checkVjp64([[3, 4]], (t, [v]) => t.slice(v!, { axes: [0, 1], starts: [1, 0], ends: [3, 3] }, 's'));
  await checkVjp64([[3, 4]], (t, [v]) => t.pad(v!, [1, 0, 0, 2], 'p'));
});

test('a value used twice gets the sum of both cotangents (y = x·x + x)', async () => {
  await checkVjp64([[4]], (t, [x]) => t.add(t.mul(x!, x!, 'sq'), x!, 'sum'));
});

test('shape errors name the layer and the sizes', () => {
  const b = new GraphBuilder();
  const t = new Tape(b);
  const x = b.input('x', [1, 3, 1, 5]);
  assert.throws(() => t.maxPool(x, 'pool4'), (e: Error) => e instanceof GraphBuildError && /pool4/.test(e.message) && /1×5 px/.test(e.message));
  const w = b.constant('w', new Float32Array(64 * 4 * 9), [64, 4, 3, 3]);
  assert.throws(() => t.conv(x, w, undefined, { pads: [1, 1, 1, 1] }, 'conv1_1'), /conv1_1: weight expects 4 input channels but the input has 3/);
  assert.throws(() => t.add(x, b.input('y', [2, 3]), 'sum'), /sum: cannot broadcast shapes \[1,3,1,5\] and \[2,3\]/);
});

test('TraceSqrtm: tr(A^½) by Newton–Schulz, for SPD and for products of SPD matrices; implicit VJP', async () => {
  // diag(4, 9): 2 + 3. P·Q with P = [[2,1],[1,2]], Q = diag(1, 4): eigenvalues of PQ = those of
  // Q^½PQ^½ = [[2,2],[2,8]]: 5 ± √13, so tr((PQ)^½) = √(5+√13) + √(5−√13).
  const tr = async (a: number[]) => (await forward('float64', [{ data: a, dims: [2, 2] }], (t, [x]) => t.traceSqrtm(x!, 40, 'ts'))).data[0]!;
  assert.ok(Math.abs((await tr([4, 0, 0, 9])) - 5) < 1e-12);
  assert.ok(Math.abs((await tr([2, 4, 1, 8])) - (Math.sqrt(5 + Math.sqrt(13)) + Math.sqrt(5 - Math.sqrt(13)))) < 1e-12);
  await checkVjp64([[3, 3]], (t, [x]) => t.traceSqrtm(x!, 40, 'ts'), () => Float64Array.from([2, 0.3, 0.1, 0.2, 1.5, -0.2, 0.1, 0.1, 1]));
});
