/**
 * The op table: for every differentiable op, its forward node(s) with shape inference, and its
 * vector-Jacobian product (VJP) rule, side by side.
 *
 * Conventions:
 * - A VJP rule receives `gys` (one cotangent per forward output, or null where nothing flows back)
 *   and `needs` (which inputs need a cotangent) and returns one cotangent per input (null where not
 *   needed). Rules emit plain ONNX nodes through the builder; they are not themselves recorded, so
 *   only first derivatives exist.
 * - Shapes are static. Broadcasting in the elementwise ops follows numpy rules; cotangents are
 *   summed back to each input's shape (`unbroadcast`).
 * - Gradients with respect to weights are never taken: Conv's VJP covers its data input only.
 *
 * Choices measured as fastest and exact on ORT (the Relu note below gives the figures):
 * Conv's input gradient is a Conv with flipped, transposed weights (constant-folded by ORT when the
 * weights are initializers); ReLU's is Mul(g, Cast(Greater(y, 0))); average-pool's is a nearest
 * Resize ×2 (plus a zero Pad for odd sizes); max-pool's is MaxUnpool with the forward's indices.
 */
import { GraphBuilder, GraphBuildError, Value, fmtShape, sizeOf } from './builder.js';

/** What a VJP rule sees of its forward application. */
export interface OpContext<A> {
  readonly b: GraphBuilder;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Extra forward values the rule saved for its backward pass (e.g. max-pool indices). */
  readonly saved: readonly Value[];
  readonly attrs: A;
  readonly label: string;
}

/** One differentiable op: forward emission and VJP rule. */
export interface OpRule<A> {
  /**
   * Emits the forward node(s). `recording` is true when a backward pass may follow, so the rule
   * can keep what its VJP needs (`saved`).
   * @throws GraphBuildError naming `label` and the sizes when the shapes cannot work.
   */
  forward(b: GraphBuilder, inputs: readonly Value[], attrs: A, label: string, recording: boolean): { outputs: Value[]; saved?: Value[] };
  /** Emits the VJP; returns one cotangent per input (null where `needs[i]` is false). */
  vjp(ctx: OpContext<A>, gys: readonly (Value | null)[], needs: readonly boolean[]): (Value | null)[];
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by several rules
// ---------------------------------------------------------------------------------------------

function fail(label: string, message: string): never {
  throw new GraphBuildError(`${label}: ${message}`);
}

/** Numpy broadcast of two shapes, or a GraphBuildError naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[], label: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      fail(label, `cannot broadcast shapes ${fmtShape(a)} and ${fmtShape(b)}`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Sums a cotangent of a broadcast result back to `target`'s shape. */
export function unbroadcast(b: GraphBuilder, g: Value, target: readonly number[], label: string): Value {
  if (g.shape.length === target.length && g.shape.every((d, i) => d === target[i])) return g;
  const lead = g.shape.length - target.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < lead || (target[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const keep = g.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const summed = axes.length ? b.emit1('ReduceSum', [g, b.ints(axes)], keep, { attrs: { keepdims: 1 }, label }) : g;
  return reshape(b, summed, target, label);
}

function reshape(b: GraphBuilder, v: Value, shape: readonly number[], label: string): Value {
  if (v.shape.length === shape.length && v.shape.every((d, i) => d === shape[i])) return v;
  return b.emit1('Reshape', [v, b.ints(shape)], shape, { label });
}

function transpose2d(b: GraphBuilder, v: Value, label: string): Value {
  return b.emit1('Transpose', [v], [v.shape[1]!, v.shape[0]!], { attrs: { perm: [1, 0] }, label });
}

/** Broadcasts a reduced cotangent (kept dims of size 1) back over `shape`. */
function expandTo(b: GraphBuilder, g: Value, keptShape: readonly number[], shape: readonly number[], label: string): Value {
  const kept = reshape(b, g, keptShape, label);
  return b.emit1('Expand', [kept, b.ints(shape)], shape, { label });
}

function normAxes(axes: readonly number[] | undefined, rank: number, label: string): number[] {
  const all = [...Array(rank).keys()];
  if (!axes || axes.length === 0) return all;
  return axes.map((a) => {
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) fail(label, `axis ${a} is out of range for rank ${rank}`);
    return r;
  });
}

function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean): { out: number[]; kept: number[] } {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = keepdims ? kept : shape.filter((_, i) => !axes.includes(i));
  return { out, kept };
}

// ---------------------------------------------------------------------------------------------
// Conv: y = conv2d(x, w) + bias, stride 1, dilation 1, group 1, explicit pads [top,left,bottom,right].
// VJP wrt x: conv2d(gy, flip(wᵀ)) with pads k−1−p, which returns exactly x's shape.
// ---------------------------------------------------------------------------------------------

/** Attributes of {@link Conv}: explicit zero pads `[top, left, bottom, right]` in pixels. */
export interface ConvAttrs {
  pads: [number, number, number, number];
}

export const Conv: OpRule<ConvAttrs> = {
  forward(b, [x, w, bias], { pads }, label) {
    if (!x || !w) fail(label, 'Conv needs an input and a weight');
    if (x.shape.length !== 4 || w.shape.length !== 4) {
      fail(label, `Conv expects input [N,C,H,W] and weight [O,C,kh,kw], received ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`);
    }
    const [n, c, h, wd] = x.shape as [number, number, number, number];
    const [o, ci, kh, kw] = w.shape as [number, number, number, number];
    if (ci !== c) fail(label, `weight expects ${ci} input channels but the input has ${c} (input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)})`);
    if (kh % 2 !== 1 || kw % 2 !== 1) fail(label, `only odd kernel sizes are supported, received ${kh}×${kw}`);
    const [pt, pl, pb, pr] = pads;
    if ([pt, pb].some((p) => p < 0 || p > kh - 1) || [pl, pr].some((p) => p < 0 || p > kw - 1)) {
      fail(label, `pads ${fmtShape(pads)} must lie in 0..k−1 for a ${kh}×${kw} kernel`);
    }
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== o)) fail(label, `bias must be [${o}], received ${fmtShape(bias.shape)}`);
    const ho = h + pt + pb - kh + 1;
    const wo = wd + pl + pr - kw + 1;
    if (ho < 1 || wo < 1) {
      fail(label, `input of ${h}×${wd} px is smaller than the ${kh}×${kw} kernel allows with pads ${fmtShape(pads)}`);
    }
    const y = b.emit1('Conv', bias ? [x, w, bias] : [x, w], [n, o, ho, wo], {
      attrs: { kernel_shape: [kh, kw], pads: [pt, pl, pb, pr], strides: [1, 1], dilations: [1, 1], group: 1 },
      label,
    });
    return { outputs: [y] };
  },
  vjp({ b, inputs: [x, w], attrs: { pads }, label }, [gy], needs) {
    if (needs[1] || needs[2]) fail(label, 'gradients with respect to Conv weights or bias are not supported');
    const [o, c, kh, kw] = w!.shape as [number, number, number, number];
    // flip(wᵀ)[c,o,i,j] = w[o,c,kh−1−i,kw−1−j]; ORT constant-folds this when w is an initializer.
    const wt = b.emit1('Transpose', [w!], [c, o, kh, kw], { attrs: { perm: [1, 0, 2, 3] }, label: `${label}.flip` });
    const big = -(2 ** 62);
    const wf = b.emit1('Slice', [wt, b.ints([-1, -1]), b.ints([big, big]), b.ints([2, 3]), b.ints([-1, -1])], [c, o, kh, kw], { label: `${label}.flip` });
    const [pt, pl, pb, pr] = pads;
    const gx = Conv.forward(b, [gy!, wf], { pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr] }, `${label}.grad`, false).outputs[0]!;
    if (gx.shape.some((d, i) => d !== x!.shape[i])) fail(label, 'internal error: Conv input gradient has the wrong shape');
    return [gx, null, null];
  },
};

// ---------------------------------------------------------------------------------------------
// Relu: y = max(x, 0).  VJP: gx = gy · [y > 0]  (y > 0 exactly where x > 0).
// ---------------------------------------------------------------------------------------------

export const Relu: OpRule<Record<string, never>> = {
  forward(b, [x], _a, label) {
    return { outputs: [b.emit1('Relu', [x!], x!.shape, { label })] };
  },
  vjp({ b, outputs: [y], label }, [gy]) {
    // Cast(Greater)·g measured faster than Where(Greater, g, 0) and Sign(y)·g (engine notes §4.2;
    // re-measured at 512², 2 threads: 1.17–1.19 s against 1.24–1.28 s and 1.25 s), and no slower
    // than Min(y·1e38, 1)·g or Tanh(y·1e38)·g (both still reorder out of ORT's NCHWc layout).
    const pos = b.emit1('Greater', [y!, b.scalar(0)], y!.shape, { dtype: 'bool', label: `${label}.grad` });
    const mask = b.emit1('Cast', [pos], y!.shape, { attrs: { to: b.dtype === 'float64' ? 11 : 1 }, label: `${label}.grad` });
    return [b.emit1('Mul', [gy!, mask], y!.shape, { label: `${label}.grad` })];
  },
};

// ---------------------------------------------------------------------------------------------
// Pooling, 2×2 windows, stride 2, floor mode: [N,C,H,W] → [N,C,⌊H/2⌋,⌊W/2⌋]. An odd last row or
// column is dropped by the forward pass and gets a zero gradient.
// ---------------------------------------------------------------------------------------------

function poolShape(x: Value, label: string): number[] {
  if (x.shape.length !== 4) fail(label, `pooling expects [N,C,H,W], received ${fmtShape(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (h < 2 || w < 2) {
    fail(label, `a 2×2 pool needs at least 2×2 px, but its input is ${h}×${w} px; use a larger image`);
  }
  return [n, c, Math.floor(h / 2), Math.floor(w / 2)];
}

/** Scatters a [N,C,h,w] cotangent ×2 (nearest) and zero-pads it to the pool input's H×W. */
function upsample2(b: GraphBuilder, gy: Value, x: Value, label: string): Value {
  const [n, c, h, w] = gy.shape as [number, number, number, number];
  const up = b.emit1('Resize', [gy, null, b.constant(`${label}.scales`, [1, 1, 2, 2], [4], 'float32')], [n, c, 2 * h, 2 * w], {
    attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
    label,
  });
  const dh = x.shape[2]! - 2 * h;
  const dw = x.shape[3]! - 2 * w;
  if (dh === 0 && dw === 0) return up;
  return b.emit1('Pad', [up, b.ints([0, 0, 0, 0, 0, 0, dh, dw])], x.shape, { attrs: { mode: 'constant' }, label });
}

export const AveragePool: OpRule<Record<string, never>> = {
  forward(b, [x], _a, label) {
    const shape = poolShape(x!, label);
    return { outputs: [b.emit1('AveragePool', [x!], shape, { attrs: { kernel_shape: [2, 2], strides: [2, 2] }, label })] };
  },
  vjp({ b, inputs: [x], label }, [gy]) {
    // Each input pixel of a window receives ¼ of the window's cotangent. When gy comes straight
    // from a conv input-gradient, the ¼ goes into that conv's (constant) weights instead: one
    // full-size elementwise pass less (measured 6 % of an evaluation at 256²).
    const quarter = b.foldScaleIntoConv(gy!, 0.25) ? gy! : b.emit1('Mul', [gy!, b.scalar(0.25)], gy!.shape, { label: `${label}.grad` });
    return [upsample2(b, quarter, x!, `${label}.grad`)];
  },
};

export const MaxPool: OpRule<Record<string, never>> = {
  forward(b, [x], _a, label, recording) {
    const shape = poolShape(x!, label);
    const attrs = { kernel_shape: [2, 2], strides: [2, 2] };
    if (!recording) return { outputs: [b.emit1('MaxPool', [x!], shape, { attrs, label })] };
    const [y, idx] = b.emit('MaxPool', [x!], [{ shape }, { shape, dtype: 'int64' }], { attrs, label });
    return { outputs: [y!], saved: [idx!] };
  },
  vjp({ b, inputs: [x], saved: [idx], label }, [gy]) {
    // MaxUnpool puts each cotangent at its window's (first) argmax and zeros elsewhere.
    const gx = b.emit1('MaxUnpool', [gy!, idx!, b.ints(x!.shape)], x!.shape, {
      attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      label: `${label}.grad`,
    });
    return [gx];
  },
};

// ---------------------------------------------------------------------------------------------
// Reshape and Transpose: the VJP undoes the forward on the cotangent.
// ---------------------------------------------------------------------------------------------

export const Reshape: OpRule<{ shape: number[] }> = {
  forward(b, [x], { shape }, label) {
    if (sizeOf(shape) !== sizeOf(x!.shape)) fail(label, `cannot reshape ${fmtShape(x!.shape)} to ${fmtShape(shape)}`);
    return { outputs: [b.emit1('Reshape', [x!, b.ints(shape)], shape, { label })] };
  },
  vjp({ b, inputs: [x], label }, [gy]) {
    return [reshape(b, gy!, x!.shape, `${label}.grad`)];
  },
};

export const Transpose: OpRule<{ perm: number[] }> = {
  forward(b, [x], { perm }, label) {
    if (perm.length !== x!.shape.length || [...perm].sort().some((p, i) => p !== i)) {
      fail(label, `perm ${fmtShape(perm)} is not a permutation of the axes of ${fmtShape(x!.shape)}`);
    }
    return { outputs: [b.emit1('Transpose', [x!], perm.map((p) => x!.shape[p]!), { attrs: { perm }, label })] };
  },
  vjp({ b, inputs: [x], attrs: { perm }, label }, [gy]) {
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [b.emit1('Transpose', [gy!], x!.shape, { attrs: { perm: inv }, label: `${label}.grad` })];
  },
};

// ---------------------------------------------------------------------------------------------
// MatMul (2-D): Y = A·B.  VJP: dA = gY·Bᵀ, dB = Aᵀ·gY.
// Gemm (2-D, no C): Y = α·op(A)·op(B), op = transpose when transA/transB.
// Gram: G = F·Fᵀ for F [C,M]; its VJP dF = (gG + gGᵀ)·F is Gemm's rule with A = B = F, fused.
// ---------------------------------------------------------------------------------------------

export const MatMul: OpRule<Record<string, never>> = {
  forward(b, [a, m], _x, label) {
    if (a!.shape.length !== 2 || m!.shape.length !== 2 || a!.shape[1] !== m!.shape[0]) {
      fail(label, `MatMul expects [m,k]·[k,n], received ${fmtShape(a!.shape)}·${fmtShape(m!.shape)}`);
    }
    return { outputs: [b.emit1('MatMul', [a!, m!], [a!.shape[0]!, m!.shape[1]!], { label })] };
  },
  vjp({ b, inputs: [a, m], label }, [gy], needs) {
    const l = `${label}.grad`;
    return [
      needs[0] ? b.emit1('MatMul', [gy!, transpose2d(b, m!, l)], a!.shape, { label: l }) : null,
      needs[1] ? b.emit1('MatMul', [transpose2d(b, a!, l), gy!], m!.shape, { label: l }) : null,
    ];
  },
};

/** Attributes of {@link Gemm}: transposes (0/1) and the scalar factor α. */
export interface GemmAttrs {
  transA?: 0 | 1;
  transB?: 0 | 1;
  alpha?: number;
}

function gemm(b: GraphBuilder, a: Value, m: Value, { transA = 0, transB = 0, alpha = 1 }: GemmAttrs, label: string): Value {
  if (a.shape.length !== 2 || m.shape.length !== 2) fail(label, `Gemm expects 2-D operands, received ${fmtShape(a.shape)} and ${fmtShape(m.shape)}`);
  const [rows, k1] = transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [k2, cols] = transB ? [m.shape[1]!, m.shape[0]!] : [m.shape[0]!, m.shape[1]!];
  if (k1 !== k2) fail(label, `Gemm inner sizes differ: op(A) is ${rows}×${k1}, op(B) is ${k2}×${cols}`);
  return b.emit1('Gemm', [a, m], [rows, cols], { attrs: { transA, transB, alpha }, floats: ['alpha'], label });
}

export const Gemm: OpRule<GemmAttrs> = {
  forward(b, [a, m], attrs, label) {
    return { outputs: [gemm(b, a!, m!, attrs, label)] };
  },
  vjp({ b, inputs: [a, m], attrs: { transA = 0, transB = 0, alpha = 1 }, label }, [gy], needs) {
    const l = `${label}.grad`;
    const flip = (t: 0 | 1) => (1 - t) as 0 | 1;
    const da = !needs[0] ? null
      : transA === 0 ? gemm(b, gy!, m!, { transB: flip(transB), alpha }, l) // α·gY·op(B)ᵀ
        : gemm(b, m!, gy!, { transA: transB, transB: 1, alpha }, l); // α·op(B)·gYᵀ
    const dm = !needs[1] ? null
      : transB === 0 ? gemm(b, a!, gy!, { transA: flip(transA), alpha }, l) // α·op(A)ᵀ·gY
        : gemm(b, gy!, a!, { transA: 1, transB: transA, alpha }, l); // α·gYᵀ·op(A)
    return [da, dm];
  },
};

export const Gram: OpRule<Record<string, never>> = {
  forward(b, [f], _a, label) {
    if (f!.shape.length !== 2) fail(label, `Gram expects features [C,M], received ${fmtShape(f!.shape)}`);
    return { outputs: [gemm(b, f!, f!, { transB: 1 }, label)] };
  },
  vjp({ b, inputs: [f], label }, [gg]) {
    const l = `${label}.grad`;
    const sym = b.emit1('Add', [gg!, transpose2d(b, gg!, l)], gg!.shape, { label: l });
    return [b.emit1('MatMul', [sym, f!], f!.shape, { label: l })];
  },
};

// ---------------------------------------------------------------------------------------------
// Elementwise binary ops with numpy broadcasting.
//   Add: dA = g, dB = g.   Sub: dA = g, dB = −g.   Mul: dA = g·B, dB = g·A.
//   Div: dA = g/B, dB = −g·Y/B (= −g·A/B²).   All summed back to the input's shape.
// ---------------------------------------------------------------------------------------------

function binaryForward(op: string) {
  return (b: GraphBuilder, [x, y]: readonly Value[], _a: Record<string, never>, label: string) => ({
    outputs: [b.emit1(op, [x!, y!], broadcastShapes(x!.shape, y!.shape, label), { label })],
  });
}

export const Add: OpRule<Record<string, never>> = {
  forward: binaryForward('Add'),
  vjp({ b, inputs: [x, y], label }, [g], needs) {
    const l = `${label}.grad`;
    return [needs[0] ? unbroadcast(b, g!, x!.shape, l) : null, needs[1] ? unbroadcast(b, g!, y!.shape, l) : null];
  },
};

export const Sub: OpRule<Record<string, never>> = {
  forward: binaryForward('Sub'),
  vjp({ b, inputs: [x, y], label }, [g], needs) {
    const l = `${label}.grad`;
    const neg = needs[1] ? b.emit1('Neg', [g!], g!.shape, { label: l }) : null;
    return [needs[0] ? unbroadcast(b, g!, x!.shape, l) : null, neg ? unbroadcast(b, neg, y!.shape, l) : null];
  },
};

export const Mul: OpRule<Record<string, never>> = {
  forward: binaryForward('Mul'),
  vjp({ b, inputs: [x, y], label }, [g], needs) {
    const l = `${label}.grad`;
    const dx = needs[0] ? b.emit1('Mul', [g!, y!], g!.shape, { label: l }) : null;
    const dy = needs[1] ? b.emit1('Mul', [g!, x!], g!.shape, { label: l }) : null;
    return [dx && unbroadcast(b, dx, x!.shape, l), dy && unbroadcast(b, dy, y!.shape, l)];
  },
};

export const Div: OpRule<Record<string, never>> = {
  forward: binaryForward('Div'),
  vjp({ b, inputs: [x, y], outputs: [q], label }, [g], needs) {
    const l = `${label}.grad`;
    const dx = needs[0] ? b.emit1('Div', [g!, y!], g!.shape, { label: l }) : null;
    let dy: Value | null = null;
    if (needs[1]) {
      const gq = b.emit1('Mul', [g!, q!], g!.shape, { label: l });
      const ratio = b.emit1('Div', [gq, y!], g!.shape, { label: l });
      dy = b.emit1('Neg', [ratio], g!.shape, { label: l });
    }
    return [dx && unbroadcast(b, dx, x!.shape, l), dy && unbroadcast(b, dy, y!.shape, l)];
  },
};

/** Abs: y = |x|.  VJP: gx = g·sign(x) (0 at x = 0, the subgradient used by every TV-L1 code). */
export const Abs: OpRule<Record<string, never>> = {
  forward(b, [x], _a, label) {
    return { outputs: [b.emit1('Abs', [x!], x!.shape, { label })] };
  },
  vjp({ b, inputs: [x], label }, [g]) {
    const l = `${label}.grad`;
    return [b.emit1('Mul', [g!, b.emit1('Sign', [x!], x!.shape, { label: l })], x!.shape, { label: l })];
  },
};

/** Sqrt: y = √x (x ≥ 0).  VJP: gx = g / (2y); infinite where y = 0, so callers keep x > 0. */
export const Sqrt: OpRule<Record<string, never>> = {
  forward(b, [x], _a, label) {
    return { outputs: [b.emit1('Sqrt', [x!], x!.shape, { label })] };
  },
  vjp({ b, outputs: [y], label }, [g]) {
    const l = `${label}.grad`;
    const twoY = b.emit1('Mul', [y!, b.scalar(2)], y!.shape, { label: l });
    return [b.emit1('Div', [g!, twoY], y!.shape, { label: l })];
  },
};

// ---------------------------------------------------------------------------------------------
// TraceSqrtm: y = tr(A^½) for A [N,N] whose eigenvalues are real and positive (A = P·Q with P, Q
// symmetric positive definite, or A itself SPD), by the coupled Newton–Schulz iteration
// (Higham 2008, eq. 6.35) on Y₀ = A/c, Z₀ = I with c = tr(A):
//   T = ½(3I − Z Y);  Y ← Y T;  Z ← T Z;   Y → (A/c)^½, Z → (A/c)^−½,   y = √c · tr(Y).
// Every iterate is a polynomial in A, so the iteration needs only A's eigenvalues in (0, 1] after
// the scaling (tr(A) ≥ the largest). Eigenvalues of A/c below ~1.5^−2k are not converged after
// k iterations: callers regularise A so that none is that small.
// VJP (implicit, not through the unrolled iteration): d tr(A^½) = ½ tr(A^−½ dA), so
//   gA = g · ½ (A^−½)ᵀ = g · ½ Zᵀ / √c,
// exact where the iteration has converged.
// ---------------------------------------------------------------------------------------------

/** Attributes of {@link TraceSqrtm}: the number of Newton–Schulz iterations. */
export interface TraceSqrtmAttrs {
  iterations: number;
}

export const TraceSqrtm: OpRule<TraceSqrtmAttrs> = {
  forward(b, [a], { iterations }, label) {
    if (a!.shape.length !== 2 || a!.shape[0] !== a!.shape[1]) fail(label, `trace of a square root needs a square matrix, received ${fmtShape(a!.shape)}`);
    const n = a!.shape[0]!;
    const eye = b.constant(`${label}.eye`, Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0)), [n, n]);
    const c = b.emit1('ReduceSum', [b.emit1('Mul', [a!, eye], [n, n], { label }), b.ints([0, 1])], [], { attrs: { keepdims: 0 }, label });
    let y = b.emit1('Div', [a!, c], [n, n], { label });
    let z = eye;
    const threeHalvesI = b.emit1('Mul', [eye, b.scalar(1.5)], [n, n], { label });
    for (let k = 0; k < iterations; k++) {
      const l = `${label}.ns${k}`;
      const zy = b.emit1('MatMul', [z, y], [n, n], { label: l });
      const tk = b.emit1('Sub', [threeHalvesI, b.emit1('Mul', [zy, b.scalar(0.5)], [n, n], { label: l })], [n, n], { label: l });
      y = b.emit1('MatMul', [y, tk], [n, n], { label: l });
      z = b.emit1('MatMul', [tk, z], [n, n], { label: l });
    }
    const rootC = b.emit1('Sqrt', [c], [], { label });
    const trY = b.emit1('ReduceSum', [b.emit1('Mul', [y, eye], [n, n], { label }), b.ints([0, 1])], [], { attrs: { keepdims: 0 }, label });
    return { outputs: [b.emit1('Mul', [trY, rootC], [], { label })], saved: [z, rootC] };
  },
  vjp({ b, saved: [z, rootC], label }, [g]) {
    const l = `${label}.grad`;
    const n = z!.shape[0]!;
    const zt = transpose2d(b, z!, l);
    const factor = b.emit1('Div', [b.emit1('Mul', [g!, b.scalar(0.5)], [], { label: l }), rootC!], [], { label: l });
    return [b.emit1('Mul', [zt, factor], [n, n], { label: l })];
  },
};

// ---------------------------------------------------------------------------------------------
// Reductions over `axes` (all axes when omitted), keepdims 0 or 1.
//   ReduceSum: gx = expand(g).   ReduceMean: gx = expand(g)/count.   ReduceSumSquare: gx = 2·x·expand(g).
// ---------------------------------------------------------------------------------------------

/** Attributes of the reductions: axes (default: all) and keepdims (default 0: drop them). */
export interface ReduceAttrs {
  axes?: number[];
  keepdims?: boolean;
}

function reduceRule(op: 'ReduceSum' | 'ReduceMean' | 'ReduceSumSquare'): OpRule<ReduceAttrs> {
  return {
    forward(b, [x], { axes, keepdims = false }, label) {
      const ax = normAxes(axes, x!.shape.length, label);
      const { out } = reducedShape(x!.shape, ax, keepdims);
      const kd = keepdims ? 1 : 0;
      // Opset 17: ReduceSum takes axes as an input; ReduceMean and ReduceSumSquare as an attribute.
      const y = op === 'ReduceSum'
        ? b.emit1(op, [x!, b.ints(ax)], out, { attrs: { keepdims: kd }, label })
        : b.emit1(op, [x!], out, { attrs: { axes: ax, keepdims: kd }, label });
      return { outputs: [y] };
    },
    vjp({ b, inputs: [x], attrs: { axes }, label }, [g]) {
      const l = `${label}.grad`;
      const ax = normAxes(axes, x!.shape.length, label);
      const { kept } = reducedShape(x!.shape, ax, true);
      let gx = expandTo(b, g!, kept, x!.shape, l);
      if (op === 'ReduceMean') {
        const count = ax.reduce((acc, a) => acc * x!.shape[a]!, 1);
        gx = b.emit1('Mul', [gx, b.scalar(1 / count)], x!.shape, { label: l });
      } else if (op === 'ReduceSumSquare') {
        const twoX = b.emit1('Mul', [x!, b.scalar(2)], x!.shape, { label: l });
        gx = b.emit1('Mul', [gx, twoX], x!.shape, { label: l });
      }
      return [gx];
    },
  };
}

export const ReduceSum = reduceRule('ReduceSum');
export const ReduceMean = reduceRule('ReduceMean');
export const ReduceSumSquare = reduceRule('ReduceSumSquare');

// ---------------------------------------------------------------------------------------------
// Slice (step 1) and constant zero Pad are each other's VJP.
// ---------------------------------------------------------------------------------------------

/** Attributes of {@link Slice}: per listed axis, the half-open range [start, end) (no negatives). */
export interface SliceAttrs {
  axes: number[];
  starts: number[];
  ends: number[];
}

export const Slice: OpRule<SliceAttrs> = {
  forward(b, [x], { axes, starts, ends }, label) {
    const shape = [...x!.shape];
    axes.forEach((a, i) => {
      const s = starts[i]!;
      const e = ends[i]!;
      if (a < 0 || a >= shape.length || s < 0 || e > shape[a]! || e <= s) {
        fail(label, `slice [${s},${e}) on axis ${a} does not fit shape ${fmtShape(x!.shape)}`);
      }
      shape[a] = e - s;
    });
    return { outputs: [b.emit1('Slice', [x!, b.ints(starts), b.ints(ends), b.ints(axes)], shape, { label })] };
  },
  vjp({ b, inputs: [x], attrs: { axes, starts, ends }, label }, [g]) {
    const r = x!.shape.length;
    const pads = new Array<number>(2 * r).fill(0);
    axes.forEach((a, i) => {
      pads[a] = starts[i]!;
      pads[a + r] = x!.shape[a]! - ends[i]!;
    });
    return [b.emit1('Pad', [g!, b.ints(pads)], x!.shape, { attrs: { mode: 'constant' }, label: `${label}.grad` })];
  },
};

/** Attributes of {@link Pad}: ONNX order `[x1_begin, x2_begin, …, x1_end, x2_end, …]`, all ≥ 0. */
export interface PadAttrs {
  pads: number[];
}

export const Pad: OpRule<PadAttrs> = {
  forward(b, [x], { pads }, label) {
    const r = x!.shape.length;
    if (pads.length !== 2 * r || pads.some((p) => p < 0)) fail(label, `pads ${fmtShape(pads)} must be ${2 * r} non-negative numbers`);
    const shape = x!.shape.map((d, i) => d + pads[i]! + pads[i + r]!);
    return { outputs: [b.emit1('Pad', [x!, b.ints(pads)], shape, { attrs: { mode: 'constant' }, label })] };
  },
  vjp({ b, inputs: [x], attrs: { pads }, label }, [g]) {
    const r = x!.shape.length;
    const axes = [...Array(r).keys()];
    const starts = axes.map((a) => pads[a]!);
    const ends = axes.map((a) => pads[a]! + x!.shape[a]!);
    return [b.emit1('Slice', [g!, b.ints(starts), b.ints(ends), b.ints(axes)], x!.shape, { label: `${label}.grad` })];
  },
};
