/**
 * Checkpoints: a run's state at a step boundary, written atomically, read back with every size
 * checked against the file before anything is allocated, and the header's contents checked too:
 * the checksum finds corruption, not a forged file, which can carry a matching one.
 *
 * File layout (little-endian):
 *   bytes 0–7     magic `IMPCKPT1`
 *   bytes 8–11    u32 J, the header's length (at most 1 MiB)
 *   J bytes       the header, UTF-8 JSON ({@link CheckpointHeader})
 *   the arrays    float32, in the header's `arrays` order, each of its stated length: `x` (the
 *                 iterate, or the scale's starting image), the optimiser's (`grad`; `s<i>`, `y<i>`
 *                 or `m`, `v`), `average` (the iterate average's accumulator), `m0`, `v0` (Adam's
 *                 moments carried into a scale)
 *   32 bytes      SHA-256 of everything before it
 * The file's size must be exactly 8 + 4 + J + 4·Σ lengths + 32.
 *
 * `fingerprint` is the SHA-256 of what decides the result (the options that shape it, the input
 * images' bytes, the network and the scale plan): a checkpoint is only resumed by a run with the
 * same one, so resuming gives the run that was interrupted.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CheckpointError, OptionError } from '../errors.js';
import type { OptimiserState } from '../optimizers/types.js';

const MAGIC = 'IMPCKPT1';
const MAX_HEADER = 2 ** 20;

/** What a checkpoint says besides its arrays. */
export interface CheckpointHeader {
  readonly version: 1;
  readonly fingerprint: string;
  /** The scale being optimised (index into the plan), and its size. */
  readonly scale: number;
  readonly width: number;
  readonly height: number;
  /** Steps and evaluations of the scales before this one, and the starting image's loss. */
  readonly doneIterations: number;
  readonly doneEvaluations: number;
  readonly initialLoss: number;
  /** Per finished scale: size, steps, evaluations, why it stopped. */
  readonly scales: readonly ScaleReport[];
  /** The optimiser's state (without its arrays), or null at the start of the scale. */
  readonly optimiser: null | ({ kind: OptimiserState['kind']; loss: number; terms: Record<string, number>; iterations: number; evaluations: number; recent: number[]; pairs: number; offset: number });
  /** The iterate average's step count (0: none). */
  readonly averaged: number;
  /** At a scale's start with Adam's resized moments (arrays `m0`, `v0`): the updates they had seen. */
  readonly momentsSteps: number;
  /** Names and lengths of the float32 arrays that follow. */
  readonly arrays: readonly { name: string; length: number }[];
}

/** One scale's outcome. */
export interface ScaleReport {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
  readonly evaluations: number;
  readonly stopReason: string;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  readonly header: CheckpointHeader;
  /** `x`: the image at the start of the scale (no optimiser state) or the iterate; with an optimiser, its arrays; `average` with the average. */
  readonly arrays: Readonly<Record<string, Float32Array>>;
}

/** The arrays of an optimiser state, by name. */
export function stateArrays(s: OptimiserState): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = { x: s.x, grad: s.grad };
  if (s.kind === 'adam') Object.assign(out, { m: s.m, v: s.v });
  else s.s.forEach((v, i) => Object.assign(out, { [`s${i}`]: v, [`y${i}`]: s.y[i]! }));
  return out;
}

/** The header's description of an optimiser state (its arrays go in `stateArrays`). */
export function stateHeader(s: OptimiserState): NonNullable<CheckpointHeader['optimiser']> {
  return {
    kind: s.kind, loss: s.loss, terms: { ...s.terms }, iterations: s.iterations, evaluations: s.evaluations, recent: [...s.recent],
    pairs: s.kind === 'lbfgs' ? s.s.length : 0, offset: s.kind === 'adam' ? s.offset : 0,
  };
}

/**
 * What is wrong with a checkpoint's optimiser state and finished scales, or null when they are
 * well formed: each number an integer ≥ 0 where it counts, and each array the state needs
 * present, with one value per pixel and channel. (A stranger's file can carry a matching
 * checksum, so its contents are checked as well as its bytes.)
 */
function stateProblem(header: CheckpointHeader, a: Readonly<Record<string, Float32Array>>): string | null {
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const scalesOk = header.scales.every((r) => typeof r === 'object' && r !== null && typeof r.stopReason === 'string'
    && [r.width, r.height, r.iterations, r.evaluations].every(count));
  if (!scalesOk) return 'a finished scale in its header is malformed';
  const o = header.optimiser;
  if (!o) return null;
  const wellFormed = (o.kind === 'lbfgs' || o.kind === 'adam') && typeof o.loss === 'number' && typeof o.terms === 'object' && o.terms !== null
    && Array.isArray(o.recent) && o.recent.every((v) => typeof v === 'number') && [o.pairs, o.offset, o.iterations, o.evaluations].every(count);
  if (!wellFormed) return 'its optimiser state is malformed';
  // Two arrays a pair: a count beyond the arrays present is refused before any list is built.
  if (2 * o.pairs > Object.keys(a).length) return `its header claims ${o.pairs} L-BFGS pairs, more than its arrays hold`;
  const n = a.x?.length;
  const want = ['grad', ...(o.kind === 'adam' ? ['m', 'v'] : Array.from({ length: o.pairs }, (_, i) => [`s${i}`, `y${i}`]).flat())];
  for (const name of want) {
    if (a[name]?.length !== n) return `its ${o.kind} state lacks its array '${name}' of ${n} values`;
  }
  return null;
}

/**
 * The optimiser state of a checkpoint, or undefined at the start of a scale.
 * @throws CheckpointError when the state is malformed (`readCheckpoint` has checked a read one).
 */
export function stateOf(c: Checkpoint): OptimiserState | undefined {
  const why = stateProblem(c.header, c.arrays);
  if (why) throw new CheckpointError(`the checkpoint is not usable: ${why}; start the run again without --resume`);
  const o = c.header.optimiser;
  if (!o) return undefined;
  const a = c.arrays;
  const common = { x: a.x!, grad: a.grad!, loss: o.loss, terms: o.terms, iterations: o.iterations, evaluations: o.evaluations, recent: o.recent };
  if (o.kind === 'adam') return { kind: 'adam', ...common, m: a.m!, v: a.v!, offset: o.offset };
  return { kind: 'lbfgs', ...common, s: Array.from({ length: o.pairs }, (_, i) => a[`s${i}`]!), y: Array.from({ length: o.pairs }, (_, i) => a[`y${i}`]!) };
}

/** Writes a checkpoint to `file` through a temporary file and a rename, so no half-written file is ever left under that name. */
export async function writeCheckpoint(file: string, header: Omit<CheckpointHeader, 'arrays'>, arrays: Record<string, Float32Array>): Promise<void> {
  const list = Object.entries(arrays).map(([name, a]) => ({ name, length: a.length }));
  const json = Buffer.from(JSON.stringify({ ...header, arrays: list }), 'utf8');
  if (json.length > MAX_HEADER) throw new Error(`checkpoint header of ${json.length} bytes exceeds ${MAX_HEADER}`);
  const head = Buffer.alloc(12);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length, 8);
  const hash = createHash('sha256');
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await fs.open(tmp, 'w');
  try {
    const write = async (b: Uint8Array) => {
      hash.update(b);
      await fh.write(b);
    };
    await write(head);
    await write(json);
    for (const [, a] of Object.entries(arrays)) await write(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    await fh.write(hash.digest());
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Reads and checks a checkpoint: magic, header, every length against the file's size, the hash,
 * every array value finite, and the optimiser state and finished scales the header describes.
 * @throws CheckpointError naming the file, what was expected and what to do; OptionError when
 *         `file` is not a non-empty string.
 */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  if (typeof file !== 'string' || file === '') throw new OptionError(`readCheckpoint: expected a file path, received ${file === '' ? 'an empty string' : typeof file}`);
  const bad = (why: string) => new CheckpointError(`${file} is not a usable Impasto checkpoint: ${why}; start the run again without --resume (or point --resume at another checkpoint)`);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check the path given to --resume`);
  }
  try {
    const { size } = await fh.stat();
    if (size < 12 + 32) throw bad(`it has ${size} bytes, fewer than any checkpoint`);
    const head = Buffer.alloc(12);
    await fh.read(head, 0, 12, 0);
    if (head.toString('latin1', 0, 8) !== MAGIC) throw bad(`it does not start with ${MAGIC}`);
    const j = head.readUInt32LE(8);
    if (j > MAX_HEADER || 12 + j + 32 > size) throw bad(`its header length ${j} does not fit in its ${size} bytes`);
    const jsonBuf = Buffer.alloc(j);
    await fh.read(jsonBuf, 0, j, 12);
    let header: CheckpointHeader;
    try {
      header = JSON.parse(jsonBuf.toString('utf8')) as CheckpointHeader;
    } catch {
      throw bad('its header is not JSON');
    }
    const ints = [header?.scale, header?.width, header?.height, header?.doneIterations, header?.doneEvaluations, header?.averaged, header?.momentsSteps];
    if (header?.version !== 1 || !Array.isArray(header.arrays) || typeof header.fingerprint !== 'string' || !ints.every((v) => Number.isInteger(v) && v >= 0)
      || !Array.isArray(header.scales) || (header.optimiser !== null && typeof header.optimiser !== 'object')) {
      throw bad('its header is not a version-1 checkpoint header');
    }
    if (header.width * header.height > 2 ** 28) throw bad(`its image of ${header.width}×${header.height} px is larger than any run`);
    let total = 0;
    for (const a of header.arrays) {
      if (typeof a?.name !== 'string' || !Number.isInteger(a.length) || a.length < 0) throw bad('an array entry of its header is malformed');
      total += 4 * a.length;
    }
    if (12 + j + total + 32 !== size) throw bad(`its header lists ${total} bytes of arrays, but the file holds ${size - 12 - j - 32}`);
    const body = Buffer.alloc(total);
    await fh.read(body, 0, total, 12 + j);
    const digest = Buffer.alloc(32);
    await fh.read(digest, 0, 32, 12 + j + total);
    const check = createHash('sha256').update(head).update(jsonBuf).update(body).digest();
    if (!check.equals(digest)) throw bad('its checksum does not match (the file is corrupt or truncated)');
    const arrays: Record<string, Float32Array> = {};
    let off = 0;
    for (const a of header.arrays) {
      const copy = new Float32Array(a.length);
      new Uint8Array(copy.buffer).set(body.subarray(off, off + 4 * a.length));
      arrays[a.name] = copy;
      off += 4 * a.length;
    }
    const n = 3 * header.width * header.height;
    if (!arrays.x || arrays.x.length !== n) throw bad(`its image does not hold 3×${header.width}×${header.height} values`);
    for (const name of ['average', 'm0', 'v0']) if (arrays[name] && arrays[name].length !== n) throw bad(`its array '${name}' does not hold ${n} values`);
    for (const [name, values] of Object.entries(arrays)) {
      if (!values.every(Number.isFinite)) throw bad(`its array '${name}' holds a value that is not finite`);
    }
    const why = stateProblem(header, arrays);
    if (why) throw bad(why);
    return { header, arrays };
  } finally {
    await fh.close();
  }
}

/** SHA-256 (hex) of the given parts, in order. */
export function fingerprintOf(parts: readonly (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p;
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    h.update(len).update(b);
  }
  return h.digest('hex');
}
