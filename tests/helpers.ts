/** Shared test helpers: run a built graph on the node engine, seeded random numbers, error norms. */
import { GraphBuilder } from '../src/graph/builder.js';
import { resolveEngine, HostTensor, Session } from '../src/engine/index.js';

/** Creates a session for `b`'s graph on the node engine (1 thread: tests run side by side). */
export async function sessionFor(b: GraphBuilder): Promise<Session> {
  const engine = await resolveEngine('node');
  return engine.createSession(b.toModel(), { threads: 1 });
}

/** Mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` seeded uniform values in [lo, hi) as float64. */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
}

export function tensor(data: Float32Array | Float64Array, dims: number[]): HostTensor {
  return { data, dims };
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

export function num(t: HostTensor | undefined): number {
  if (!t) throw new Error('missing output');
  return Number(t.data[0]);
}
