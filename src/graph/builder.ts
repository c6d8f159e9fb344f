/**
 * GraphBuilder: describes a computation as ONNX nodes with static shapes and serialises it to an
 * ONNX ModelProto (IR 8, opset 17).
 *
 * Every value carries its full static shape, so shape errors are caught while the graph is built
 * and reported with the layer's name and sizes, never as an ONNX Runtime stack trace. One graph is
 * built per problem (per image size); building is cheap (milliseconds) next to session creation.
 */
import { encodeModel, TensorDataType, AttributeType } from './onnx-encode.js';

/** Element types used in Impasto graphs. */
export type DType = 'float32' | 'float64' | 'int64' | 'bool';

/** A tensor-valued node output, graph input or initializer, with its static shape. */
export interface Value {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Attribute values accepted on a node: numbers are INT unless their key is listed in `EmitOptions.floats`. */
export type AttrValue = number | number[] | string;

/** Typed array holding the data of an initializer. */
export type TensorData = Float32Array | Float64Array | BigInt64Array;

/** Error raised while building a graph: a shape or argument that cannot work. */
export class GraphBuildError extends Error {
  override name = 'GraphBuildError';
  /** A shape that cannot work comes from the user's sizes or layers: exit code 2 (usage). */
  readonly exitCode: number = 2;
}

const DTYPE_CODE: Record<DType, number> = {
  float32: TensorDataType.FLOAT,
  float64: TensorDataType.DOUBLE,
  int64: TensorDataType.INT64,
  bool: TensorDataType.BOOL,
};

/** Number of elements of a shape; `[]` (a scalar) has one. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/** Human-readable shape, e.g. `[1,64,128,128]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

interface NodeRecord {
  op_type: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Record<string, unknown>[];
}

/** Options for {@link GraphBuilder.emit}. */
export interface EmitOptions {
  /** Attributes; numbers become INT/INTS unless the key is in `floats`. */
  attrs?: Record<string, AttrValue | undefined>;
  /** Attribute keys whose numbers are FLOAT/FLOATS. */
  floats?: string[];
  /** A readable prefix for the node's name and its outputs (e.g. `conv1_1`). */
  label?: string;
}

/**
 * Accumulates nodes, inputs, initializers and outputs; `toModel()` serialises them.
 * Names are made unique by a counter, so callers only choose readable labels.
 */
export class GraphBuilder {
  private readonly nodes: NodeRecord[] = [];
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly initializers: { value: Value; data: TensorData }[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  private readonly work = { values: 0, macs: 0 };
  /** Elements of each node output, by value name (for `workload`'s liveness count). */
  private readonly sizes = new Map<string, number>();

  /** @param dtype the floating type of this graph's tensors (float64 is used by tests). */
  constructor(readonly dtype: 'float32' | 'float64' = 'float32') {}

  /** A fresh unique name derived from `label`. */
  fresh(label: string): string {
    let name = label;
    while (this.used.has(name)) name = `${label}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /** Declares a graph input of the given static shape (float type of the graph unless given). */
  input(name: string, shape: readonly number[], dtype: DType = this.dtype): Value {
    if (this.used.has(name)) throw new GraphBuildError(`graph input name '${name}' is already used`);
    this.used.add(name);
    const v: Value = { name, shape: [...shape], dtype };
    this.inputs.push(v);
    return v;
  }

  /** Adds a constant tensor (ONNX initializer). `data.length` must equal the shape's size. */
  constant(label: string, data: TensorData | number[], shape: readonly number[], dtype?: DType): Value {
    const dt: DType = dtype ?? (data instanceof BigInt64Array ? 'int64' : this.dtype);
    let arr: TensorData;
    if (Array.isArray(data)) {
      arr = dt === 'int64' ? BigInt64Array.from(data.map((d) => BigInt(d)))
        : dt === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
    } else {
      arr = data;
    }
    if (arr.length !== sizeOf(shape)) {
      throw new GraphBuildError(`constant '${label}': ${arr.length} values do not fill shape ${fmtShape(shape)}`);
    }
    if (dt === 'float64' && !(arr instanceof Float64Array)) arr = Float64Array.from(arr as Float32Array);
    if (dt === 'float32' && !(arr instanceof Float32Array)) arr = Float32Array.from(arr as Float64Array);
    const value: Value = { name: this.fresh(label), shape: [...shape], dtype: dt };
    this.initializers.push({ value, data: arr });
    return value;
  }

  /** A scalar constant (shape `[]`) in the graph's float type. */
  scalar(v: number, label = 'const'): Value {
    return this.constant(label, [v], []);
  }

  /** An int64 vector constant, as ONNX shape-like inputs (Reshape shape, Slice starts) need. */
  ints(values: readonly number[], label = 'ints'): Value {
    return this.constant(label, BigInt64Array.from(values.map((d) => BigInt(d))), [values.length], 'int64');
  }

  /**
   * Appends one ONNX node. The caller states each output's shape and dtype; this is where the op
   * table's shape inference lands.
   * @returns the node's outputs, in order.
   */
  emit(
    opType: string,
    inputs: (Value | null)[],
    outputs: { shape: readonly number[]; dtype?: DType }[],
    options: EmitOptions = {},
  ): Value[] {
    const label = options.label ?? opType.toLowerCase();
    const nodeName = this.fresh(`${label}/${opType}`);
    const outs: Value[] = outputs.map((o, i) => ({
      name: this.fresh(outputs.length === 1 ? `${label}:${opType}` : `${label}:${opType}:${i}`),
      shape: [...o.shape],
      dtype: o.dtype ?? this.dtype,
    }));
    const attribute: Record<string, unknown>[] = [];
    for (const [key, val] of Object.entries(options.attrs ?? {})) {
      if (val === undefined) continue;
      const isFloat = options.floats?.includes(key) ?? false;
      if (typeof val === 'string') attribute.push({ name: key, type: AttributeType.STRING, s: new TextEncoder().encode(val) });
      else if (Array.isArray(val)) attribute.push(isFloat ? { name: key, type: AttributeType.FLOATS, floats: val } : { name: key, type: AttributeType.INTS, ints: val });
      else attribute.push(isFloat ? { name: key, type: AttributeType.FLOAT, f: val } : { name: key, type: AttributeType.INT, i: val });
    }
    this.count(opType, inputs, outs);
    this.nodes.push({
      op_type: opType,
      name: nodeName,
      input: inputs.map((v) => (v === null ? '' : v.name)),
      output: outs.map((o) => o.name),
      attribute,
    });
    return outs;
  }

  /** Convenience for a single-output node. */
  emit1(opType: string, inputs: (Value | null)[], shape: readonly number[], options: EmitOptions & { dtype?: DType } = {}): Value {
    return this.emit(opType, inputs, [{ shape, dtype: options.dtype }], options)[0]!;
  }

  /**
   * Peephole used by VJP rules: when `v` is the only use so far of the output of a bias-free Conv
   * whose weight is not a graph input, scales that weight by `c` instead of emitting a separate
   * elementwise Mul over `v`. Returns true when it did; the caller then treats `v` as already
   * multiplied by `c`. The check is only that the weight is no graph input: a weight computed at
   * run time from inputs would be scaled correctly but each run; Impasto's conv weights are
   * initializers (or Transpose/flip nodes of them), which ORT constant-folds, scaled weight included.
   */
  foldScaleIntoConv(v: Value, c: number): boolean {
    const at = this.nodes.findIndex((n) => n.output.includes(v.name));
    const node = this.nodes[at];
    if (!node || node.op_type !== 'Conv' || node.input.length !== 2) return false;
    if (this.nodes.some((n) => n.input.includes(v.name)) || this.outputs.some((o) => o.name === v.name)) return false;
    const weight = node.input[1]!;
    if (this.inputs.some((i) => i.name === weight)) return false;
    const factor = this.fresh(`${node.name}.fold`);
    const scaled = this.fresh(`${node.name}.scaled_weight`);
    this.initializers.push({ value: { name: factor, shape: [], dtype: this.dtype }, data: this.dtype === 'float64' ? Float64Array.of(c) : Float32Array.of(c) });
    this.nodes.splice(at, 0, { op_type: 'Mul', name: this.fresh(`${node.name}.fold/Mul`), input: [weight, factor], output: [scaled], attribute: [] });
    node.input[1] = scaled;
    return true;
  }

  /** Marks `value` as a graph output under `name` (an Identity node renames it when needed). */
  output(name: string, value: Value): Value {
    let v = value;
    if (value.name !== name) {
      if (this.used.has(name)) throw new GraphBuildError(`graph output name '${name}' is already used`);
      this.used.add(name);
      this.nodes.push({ op_type: 'Identity', name: `${name}/Identity`, input: [value.name], output: [name], attribute: [] });
      v = { ...value, name };
    }
    this.outputs.push(v);
    return v;
  }

  /** Count of nodes per op type, e.g. `{Conv: 26, Relu: 13}`. */
  /**
   * The graph's work, for the memory and time model (pipeline/memory.ts): `values`, the elements
   * of every node output (the activations the runtime allocates, forward and backward); `macs`,
   * the multiply-adds of Conv, ConvTranspose, MatMul and Gemm; `constants`, the bytes of the
   * initializers (the weights); `peakLive`, the most elements alive at once when the nodes run
   * in the order they were emitted (each output lives from its node to its last reader; the
   * graph's outputs to the end): the activations the runtime must hold at its peak.
   */
  workload(): { values: number; macs: number; constants: number; peakLive: number } {
    const constants = this.initializers.reduce((a, i) => a + i.data.length * (i.value.dtype === 'float64' || i.value.dtype === 'int64' ? 8 : 4), 0);
    const lastUse = new Map<string, number>();
    this.nodes.forEach((n, i) => n.input.forEach((v) => lastUse.set(v, i)));
    for (const o of this.outputs) lastUse.set(o.name, Infinity);
    let live = 0;
    let peakLive = 0;
    this.nodes.forEach((n, i) => {
      for (const o of n.output) live += this.sizes.get(o) ?? 0;
      peakLive = Math.max(peakLive, live);
      for (const v of new Set([...n.input, ...n.output])) if (lastUse.get(v) === i || (!lastUse.has(v) && n.output.includes(v))) live -= this.sizes.get(v) ?? 0;
    });
    return { ...this.work, constants, peakLive };
  }

  private count(opType: string, inputs: readonly (Value | null)[], outs: readonly Value[]): void {
    const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);
    for (const o of outs) {
      this.work.values += size(o.shape);
      this.sizes.set(o.name, size(o.shape));
    }
    const w = inputs[1]?.shape;
    if (opType === 'Conv' && w) this.work.macs += size(outs[0]!.shape) * size(w.slice(1));
    else if (opType === 'ConvTranspose' && w) this.work.macs += size(inputs[0]!.shape) * size(w.slice(1));
    else if ((opType === 'MatMul' || opType === 'Gemm') && inputs[0] && outs[0]!.shape.length === 2) {
      this.work.macs += (size(outs[0]!.shape) * size(inputs[0].shape)) / outs[0]!.shape[0]!; // out elements × the contracted length
    }
  }

  opHistogram(): Record<string, number> {
    const h: Record<string, number> = {};
    for (const n of this.nodes) h[n.op_type] = (h[n.op_type] ?? 0) + 1;
    return h;
  }

  /** Serialises the graph to ONNX ModelProto bytes (IR 8, default domain opset 17). */
  toModel(graphName = 'impasto'): Uint8Array {
    const valueInfo = (v: Value) => ({
      name: v.name,
      type: { tensor_type: { elem_type: DTYPE_CODE[v.dtype], shape: { dim: v.shape.map((d) => ({ dim_value: d })) } } },
    });
    const initializer = this.initializers.map(({ value, data }) => {
      const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return { name: value.name, dims: [...value.shape], data_type: DTYPE_CODE[value.dtype], raw_data: raw };
    });
    return encodeModel({
      ir_version: 8,
      producer_name: 'impasto',
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
  }
}
