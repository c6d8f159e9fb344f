/**
 * Reverse-mode differentiation over the op table in `ops.ts`.
 *
 * A Tape wraps a GraphBuilder. Each differentiable op applied through the tape emits its forward
 * nodes and, when any input depends on a watched value, records itself. `gradient(loss, wrt)`
 * then walks the records in reverse, calls each op's VJP rule and sums cotangents that meet at a
 * value with Add. Only values that lie on a path from `wrt` to `loss` get cotangents, so weights
 * (initializers) never do.
 */
import { GraphBuilder, GraphBuildError, Value, fmtShape } from './builder.js';
import * as ops from './ops.js';
import type { OpRule } from './ops.js';

interface TapeRecord {
  rule: OpRule<any>;
  inputs: Value[];
  outputs: Value[];
  saved: Value[];
  attrs: unknown;
  label: string;
}

/** A differentiable view of a GraphBuilder; methods mirror the op table. */
export class Tape {
  private readonly records: TapeRecord[] = [];
  private readonly tracked = new Set<string>();

  constructor(readonly b: GraphBuilder) {}

  /** Marks `v` as a variable: everything computed from it is recorded for differentiation. */
  watch(v: Value): Value {
    this.tracked.add(v.name);
    return v;
  }

  /** True when `v` depends on a watched value. */
  isTracked(v: Value): boolean {
    return this.tracked.has(v.name);
  }

  /** Applies one op rule, recording it when any input is tracked. */
  apply<A>(rule: OpRule<A>, inputs: (Value | undefined)[], attrs: A, label: string): Value[] {
    const ins = inputs.filter((v): v is Value => v !== undefined);
    const recording = ins.some((v) => this.tracked.has(v.name));
    const { outputs, saved = [] } = rule.forward(this.b, ins, attrs, label, recording);
    if (recording) {
      for (const o of outputs) this.tracked.add(o.name);
      this.records.push({ rule, inputs: ins, outputs, saved, attrs, label });
    }
    return outputs;
  }

  /**
   * Emits the backward pass: d`loss`/d`wrt` for each value in `wrt`.
   * @param loss a scalar (shape `[]`) computed through this tape.
   * @param wrt watched values; each gets a cotangent of its own shape (zeros if `loss` does not depend on it).
   */
  gradient(loss: Value, wrt: readonly Value[]): Value[] {
    if (loss.shape.length !== 0) throw new GraphBuildError(`gradient: the loss must be a scalar, received shape ${fmtShape(loss.shape)}`);
    const b = this.b;
    const grads = new Map<string, Value>([[loss.name, b.scalar(1, 'seed')]]);
    // Values whose cotangent is needed: those on a path from a wrt value (forward-reachable).
    const needed = new Set(wrt.map((v) => v.name));
    for (const r of this.records) {
      if (r.inputs.some((v) => needed.has(v.name))) for (const o of r.outputs) needed.add(o.name);
    }
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      const gys = r.outputs.map((o) => grads.get(o.name) ?? null);
      if (gys.every((g) => g === null)) continue;
      const needs = r.inputs.map((v) => needed.has(v.name));
      if (!needs.some(Boolean)) continue;
      const filled = gys.map((g, k) => g ?? b.constant('zeros', new Float64Array(r.outputs[k]!.shape.reduce((a, d) => a * d, 1)), r.outputs[k]!.shape));
      const gxs = r.rule.vjp({ b, inputs: r.inputs, outputs: r.outputs, saved: r.saved, attrs: r.attrs, label: r.label }, filled, needs);
      r.inputs.forEach((v, k) => {
        const gx = gxs[k];
        if (!needs[k] || !gx) return;
        const prev = grads.get(v.name);
        grads.set(v.name, prev ? b.emit1('Add', [prev, gx], v.shape, { label: `${r.label}.acc` }) : gx);
      });
    }
    return wrt.map((v) => grads.get(v.name) ?? b.constant('zeros', new Float64Array(v.shape.reduce((a, d) => a * d, 1)), v.shape));
  }

  // --- the op table, as methods ---------------------------------------------------------------

  conv(x: Value, w: Value, bias: Value | undefined, attrs: ops.ConvAttrs, label: string): Value {
    return this.apply(ops.Conv, [x, w, bias], attrs, label)[0]!;
  }
  relu(x: Value, label: string): Value {
    return this.apply(ops.Relu, [x], {}, label)[0]!;
  }
  maxPool(x: Value, label: string): Value {
    return this.apply(ops.MaxPool, [x], {}, label)[0]!;
  }
  avgPool(x: Value, label: string): Value {
    return this.apply(ops.AveragePool, [x], {}, label)[0]!;
  }
  reshape(x: Value, shape: number[], label: string): Value {
    return this.apply(ops.Reshape, [x], { shape }, label)[0]!;
  }
  transpose(x: Value, perm: number[], label: string): Value {
    return this.apply(ops.Transpose, [x], { perm }, label)[0]!;
  }
  matmul(a: Value, m: Value, label: string): Value {
    return this.apply(ops.MatMul, [a, m], {}, label)[0]!;
  }
  gemm(a: Value, m: Value, attrs: ops.GemmAttrs, label: string): Value {
    return this.apply(ops.Gemm, [a, m], attrs, label)[0]!;
  }
  /** G = F·Fᵀ, un-normalised, for features F [C,M]. */
  gram(f: Value, label: string): Value {
    return this.apply(ops.Gram, [f], {}, label)[0]!;
  }
  add(x: Value, y: Value, label: string): Value {
    return this.apply(ops.Add, [x, y], {}, label)[0]!;
  }
  sub(x: Value, y: Value, label: string): Value {
    return this.apply(ops.Sub, [x, y], {}, label)[0]!;
  }
  mul(x: Value, y: Value, label: string): Value {
    return this.apply(ops.Mul, [x, y], {}, label)[0]!;
  }
  div(x: Value, y: Value, label: string): Value {
    return this.apply(ops.Div, [x, y], {}, label)[0]!;
  }
  /** x · c for a JS number c (a scalar constant). */
  scale(x: Value, c: number, label: string): Value {
    return this.mul(x, this.b.scalar(c, `${label}.factor`), label);
  }
  abs(x: Value, label: string): Value {
    return this.apply(ops.Abs, [x], {}, label)[0]!;
  }
  sqrt(x: Value, label: string): Value {
    return this.apply(ops.Sqrt, [x], {}, label)[0]!;
  }
  /** tr(A^½) of A [N,N] with real positive eigenvalues, by `iterations` Newton–Schulz steps (ops.ts). */
  traceSqrtm(a: Value, iterations: number, label: string): Value {
    return this.apply(ops.TraceSqrtm, [a], { iterations }, label)[0]!;
  }
  reduceSum(x: Value, label: string, attrs: ops.ReduceAttrs = {}): Value {
    return this.apply(ops.ReduceSum, [x], attrs, label)[0]!;
  }
  reduceMean(x: Value, label: string, attrs: ops.ReduceAttrs = {}): Value {
    return this.apply(ops.ReduceMean, [x], attrs, label)[0]!;
  }
  reduceSumSquare(x: Value, label: string, attrs: ops.ReduceAttrs = {}): Value {
    return this.apply(ops.ReduceSumSquare, [x], attrs, label)[0]!;
  }
  slice(x: Value, attrs: ops.SliceAttrs, label: string): Value {
    return this.apply(ops.Slice, [x], attrs, label)[0]!;
  }
  pad(x: Value, pads: number[], label: string): Value {
    return this.apply(ops.Pad, [x], { pads }, label)[0]!;
  }
}
