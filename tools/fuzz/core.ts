/**
 * Loader fuzzing: randomly mutated copies of valid small weight files, parsed in a worker thread
 * under a time and memory cap, each outcome classified:
 *
 * - `ok`: parsed (a mutation can leave a file valid, e.g. a flipped bit inside a weight);
 * - `typed`: refused with a WeightFormatError that names the file, from a check the parser made;
 * - `wrapped`: refused with a WeightFormatError that names the file, but only because the parser
 *   tripped on a structure it did not check and load.ts turned that into a typed error (counted
 *   apart: each is a check a parser still lacks);
 * - `untyped`: any other error, or a WeightFormatError that does not name the file (a bug);
 * - `hang`: no answer within the time cap (the worker is terminated and restarted);
 * - `crash`: the worker died (out of its heap cap, or a fault).
 *
 * Mutations (seeded, mulberry32): flip 1–8 random bits; truncate at a random length; insert 1–64
 * random bytes; overwrite 4 or 8 bytes at a random place with a boundary value (0, 1, 0x7fffffff,
 * 0xffffffff, −1 as int64, 2^53) to hit length fields.
 */
import { Worker } from 'node:worker_threads';
import { mulberry32 } from '../../src/util/random.js';

export type Outcome = 'ok' | 'typed' | 'wrapped' | 'untyped' | 'hang' | 'crash';

export interface FuzzReport {
  readonly loader: string;
  readonly counts: Record<Outcome, number>;
  /** Up to 10 examples of each bad outcome: the mutation and the message. */
  readonly examples: { outcome: Outcome; mutation: string; message: string }[];
}

const BOUNDARIES: number[][] = [
  [0, 0, 0, 0], [1, 0, 0, 0], [0xff, 0xff, 0xff, 0x7f], [0xff, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0, 0, 0, 0, 0, 0, 0x20, 0],
];

/** One seeded mutation of `seed`; returns the bytes and a description. */
export function mutate(seed: Uint8Array, rand: () => number): { bytes: Uint8Array; mutation: string } {
  const pick = (n: number) => Math.floor(rand() * n);
  const kind = pick(4);
  if (kind === 0) {
    const out = Uint8Array.from(seed);
    const flips = 1 + pick(8);
    const at: number[] = [];
    for (let i = 0; i < flips; i++) {
      const p = pick(out.length);
      out[p]! ^= 1 << pick(8);
      at.push(p);
    }
    return { bytes: out, mutation: `flip bits at ${at.join(',')}` };
  }
  if (kind === 1) {
    const n = pick(seed.length);
    return { bytes: seed.slice(0, n), mutation: `truncate to ${n}` };
  }
  if (kind === 2) {
    const p = pick(seed.length + 1);
    const ins = Uint8Array.from({ length: 1 + pick(64) }, () => pick(256));
    const out = new Uint8Array(seed.length + ins.length);
    out.set(seed.subarray(0, p));
    out.set(ins, p);
    out.set(seed.subarray(p), p + ins.length);
    return { bytes: out, mutation: `insert ${ins.length} bytes at ${p}` };
  }
  const v = BOUNDARIES[pick(BOUNDARIES.length)]!;
  const p = pick(Math.max(1, seed.length - v.length));
  const out = Uint8Array.from(seed);
  out.set(v.slice(0, Math.min(v.length, out.length - p)), p);
  return { bytes: out, mutation: `write [${v.map((x) => x.toString(16)).join(' ')}] at ${p}` };
}

const WORKER = `
const { parentPort } = require('node:worker_threads');
let parse, WeightFormatError;
parentPort.on('message', async (m) => {
  if (m.init) {
    if (m.tsx) (await import(m.tsx)).register();
    ({ parseWeights: parse, WeightFormatError } = await import(m.init));
    parentPort.postMessage({ ready: true });
    return;
  }
  try {
    await parse(m.bytes, m.name);
    parentPort.postMessage({ i: m.i, outcome: 'ok', message: '' });
  } catch (e) {
    const typed = e instanceof WeightFormatError && String(e.message).includes(m.name);
    parentPort.postMessage({ i: m.i, outcome: typed ? (e.internal ? 'wrapped' : 'typed') : 'untyped', message: (e && e.name ? e.name + ': ' : '') + String(e && e.message).split('\\n')[0].slice(0, 300) });
  }
});
`;

/**
 * Fuzzes `parseWeights` with `count` mutations of `seedBytes`.
 * @param loadModule URL of src/networks/weights/load.ts (as the worker imports it).
 * @param tsxApi URL of tsx's ESM API, registered in the worker when the module is TypeScript.
 */
export async function fuzz(
  loader: string, seedBytes: Uint8Array, count: number, seed: number,
  opts: { loadModule: string; timeoutMs?: number; heapMb?: number; tsxApi?: string },
): Promise<FuzzReport> {
  const counts: Record<Outcome, number> = { ok: 0, typed: 0, wrapped: 0, untyped: 0, hang: 0, crash: 0 };
  const examples: FuzzReport['examples'] = [];
  const rand = mulberry32(seed);
  const cases = Array.from({ length: count }, () => mutate(seedBytes, rand));
  const timeoutMs = opts.timeoutMs ?? 15_000;
  let worker: Worker | null = null;
  const start = async () => {
    worker = new Worker(WORKER, { eval: true, resourceLimits: { maxOldGenerationSizeMb: opts.heapMb ?? 1024 } });
    await new Promise<void>((resolve, reject) => {
      worker!.once('message', () => resolve());
      worker!.once('error', reject);
      worker!.postMessage({ init: opts.loadModule, tsx: opts.tsxApi });
    });
  };
  const note = (outcome: Outcome, mutation: string, message: string) => {
    counts[outcome]++;
    if (outcome !== 'ok' && outcome !== 'typed' && examples.filter((e) => e.outcome === outcome).length < 10) examples.push({ outcome, mutation, message });
  };
  for (let i = 0; i < cases.length; i++) {
    if (!worker) await start();
    const w = worker!;
    const { bytes, mutation } = cases[i]!;
    const result = await new Promise<{ outcome: Outcome; message: string }>((resolve) => {
      const timer = setTimeout(() => resolve({ outcome: 'hang', message: `no answer within ${timeoutMs} ms` }), timeoutMs);
      const onMessage = (m: { i: number; outcome: Outcome; message: string }) => {
        if (m.i !== i) return;
        clearTimeout(timer);
        w.off('error', onError);
        w.off('message', onMessage);
        resolve(m);
      };
      const onError = (e: Error) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        resolve({ outcome: 'crash', message: `${(e as NodeJS.ErrnoException).code ?? e.name}: ${e.message}` });
      };
      w.on('message', onMessage);
      w.once('error', onError);
      w.postMessage({ i, bytes, name: `fuzz-${loader}-${i}` });
    });
    if (result.outcome === 'hang' || result.outcome === 'crash') {
      await w.terminate();
      worker = null;
    }
    note(result.outcome, mutation, result.message);
  }
  if (worker) await (worker as Worker).terminate();
  return { loader, counts, examples };
}
