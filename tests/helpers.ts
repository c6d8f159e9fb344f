/** Shared test helpers: run a built graph on the node engine, seeded random numbers, error norms. */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { GraphBuilder, Value } from '../src/graph/builder.js';
import { Tape } from '../src/graph/autodiff.js';
import { mulberry32 } from '../src/util/random.js';
import { resolveEngine, Session } from '../src/engine/index.js';

/** Creates a session for `b`'s graph on the node engine (1 thread: tests run side by side). */
export async function sessionFor(b: GraphBuilder): Promise<Session> {
  const engine = await resolveEngine('node');
  return engine.createSession(b.toModel(), { threads: 1 });
}

/** `n` seeded uniform values in [lo, hi) as float64. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}


/** Builds a differentiable expression of the graph inputs `xs`. */
export type Build = (t: Tape, xs: Value[]) => Value;

/**
 * Builds L(x) = Σ r ⊙ f(x) with a fixed random r, returns L and dL/dx for every input, from one
 * session, so that finite differences of L check the VJP.
 */
export async function lossAndGrad(dtype: 'float32' | 'float64', shapes: number[][], build: Build) {
  const b = new GraphBuilder(dtype);
  const t = new Tape(b);
  const xs = shapes.map((s, i) => t.watch(b.input(`x${i}`, s)));
  const y = build(t, xs);
  const r = b.constant('r', uniform(y.shape.reduce((a, d) => a * d, 1), 99), y.shape);
  const loss = t.reduceSum(t.mul(y, r, 'weigh'), 'loss');
  b.output('loss', loss);
  const grads = t.gradient(loss, xs);
  grads.forEach((g, i) => b.output(`g${i}`, g));
  const s = await sessionFor(b);
  const Arr = dtype === 'float64' ? Float64Array : Float32Array;
  const run = async (vals: Float64Array[]) => {
    const feeds = Object.fromEntries(vals.map((v, i) => [`x${i}`, { data: Arr.from(v), dims: shapes[i]! }]));
    return s.run(feeds);
  };
  return { run, dispose: () => s.dispose() };
}

/** Float64 per-element central differences, ε = 1e-6; max abs error ≤ 1e-7·(1 + max|g|). */
export async function checkVjp64(shapes: number[][], build: Build, init?: (i: number, n: number) => Float64Array) {
  const { run, dispose } = await lossAndGrad('float64', shapes, build);
  const x = shapes.map((s, i) => (init ? init(i, s.reduce((a, d) => a * d, 1)) : uniform(s.reduce((a, d) => a * d, 1), 10 + i)));
  const out = await run(x);
  const eps = 1e-6;
  for (let i = 0; i < x.length; i++) {
    const g = out[`g${i}`]!.data as Float64Array;
    assert.equal(g.length, x[i]!.length, 'gradient has the input shape');
    let maxErr = 0;
    let maxG = 0;
    for (let k = 0; k < x[i]!.length; k++) {
      const xp = x.map((v) => v.slice());
      const xm = x.map((v) => v.slice());
      xp[i]![k] += eps;
      xm[i]![k] -= eps;
      const lp = Number((await run(xp)).loss!.data[0]);
      const lm = Number((await run(xm)).loss!.data[0]);
      maxErr = Math.max(maxErr, Math.abs((lp - lm) / (2 * eps) - g[k]!));
      maxG = Math.max(maxG, Math.abs(g[k]!));
    }
    assert.ok(maxG > 0, 'gradient is not identically zero');
    assert.ok(maxErr <= 1e-7 * (1 + maxG), `input ${i}: max |FD − VJP| = ${maxErr} (max |g| ${maxG})`);
  }
  await dispose();
}


/**
 * A valid PNG whose header claims width×height (8-bit RGB) but whose data is one tiny row: its
 * size can be read from the header, and decoding it would need the full 3·width·height bytes.
 */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (tag: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(tag), data])) >>> 0);
    return Buffer.concat([len, Buffer.from(tag), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(3 * width + 1))), chunk('IEND', Buffer.alloc(0))]);
}
