/**
 * Coarse-to-fine, iterate averaging, the tolerance stop, checkpoints and resume, and the plan.
 * All on the offline network at small sizes (one thread, so every run is deterministic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stylize, type StylizeEvent, type StylizeRequest } from '../../src/pipeline/stylize.js';
import { scaleSizes } from '../../src/pipeline/plan.js';
import { planRequest } from '../../src/pipeline/plan-request.js';
import { readCheckpoint, stateOf, writeCheckpoint, type CheckpointHeader } from '../../src/pipeline/checkpoint.js';
import { CheckpointError, exitCodeOf, OptionError } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
const base: StylizeRequest = {
  content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network: 'offline', threads: 1,
  size: 96, minSize: 48, iterations: 6,
};

test('scales: from --min-size by --scale-factor to --size, the aspect ratio kept; one scale when --min-size ≥ --size', () => {
  const long = (s: { width: number; height: number }[]) => s.map((x) => Math.max(x.width, x.height));
  assert.deepEqual(long(scaleSizes({ width: 512, height: 384 }, { minSize: 128, scaleFactor: Math.SQRT2 }, 1)), [128, 181, 256, 362, 512]);
  assert.deepEqual(scaleSizes({ width: 512, height: 384 }, { minSize: 128, scaleFactor: 2 }, 1), [{ width: 128, height: 96 }, { width: 256, height: 192 }, { width: 512, height: 384 }]);
  // 181 would be within √√2 of 192: left out rather than repeat nearly all the final work
  assert.deepEqual(long(scaleSizes({ width: 192, height: 144 }, { minSize: 128, scaleFactor: Math.SQRT2 }, 1)), [128, 192]);
  assert.deepEqual(scaleSizes({ width: 512, height: 384 }, { minSize: 512, scaleFactor: Math.SQRT2 }, 1), [{ width: 512, height: 384 }]);
  // scales too small for the deepest layer are left out
  assert.deepEqual(long(scaleSizes({ width: 512, height: 128 }, { minSize: 128, scaleFactor: 2 }, 64)), [256, 512]);
});

test('coarse-to-fine: each scale starts from the last one\'s result, upsampled, not from the content', async () => {
  const events: StylizeEvent[] = [];
  const r = await stylize({ ...base, iterations: 10 }, { onEvent: (e) => events.push(e) });
  const scales = events.filter((e): e is Extract<StylizeEvent, { type: 'scale' }> => e.type === 'scale');
  assert.deepEqual(scales.map((s) => [s.width, s.height]), [[48, 36], [68, 51], [96, 72]]);
  assert.deepEqual(r.scales.map((s) => s.iterations), [10, 10, 10]);
  assert.equal(r.iterations, 30);
  const firstLoss = (k: number) => (events.find((e) => e.type === 'iterate' && e.scale === k && e.scaleIteration === 1) as { loss: number }).loss;
  const lastLoss = (k: number) => (events.filter((e) => e.type === 'iterate' && e.scale === k).at(-1) as { loss: number }).loss;
  // Started from the content, a scale's first step is far above where the last scale ended; the
  // warm start begins near it (the scale-free loss reads alike at every size).
  const cold = await stylize({ ...base, minSize: 96, iterations: 1 });
  assert.ok(firstLoss(2) < 0.5 * cold.loss, `the last scale begins at ${firstLoss(2)}, the content at ${cold.loss}`);
  assert.ok(firstLoss(2) < 3 * lastLoss(1), `and near the previous scale's end (${lastLoss(1)})`);
});

test('--average: the output is the bias-corrected average of the iterates, not the last iterate', async () => {
  // One scale, so the average is over this scale's iterates, reported with every event's image.
  const iterates: Float32Array[] = [];
  const plain = await stylize({ ...base, minSize: 96, iterations: 4, imageEvery: 1 }, { onEvent: (e) => { if (e.type === 'iterate') iterates.push(Float32Array.from(e.image!.data)); } });
  const averaged = await stylize({ ...base, minSize: 96, iterations: 4, average: 0.5 });
  // x̄ = Σ_t (1−d) d^(T−t) x_t / (1 − d^T), from the 8-bit iterates: within rounding of the float ones.
  const d = 0.5;
  const T = iterates.length;
  let maxDiff = 0;
  for (let i = 0; i < iterates[0]!.length; i++) {
    let acc = 0;
    for (let t = 0; t < T; t++) acc += (1 - d) * d ** (T - 1 - t) * iterates[t]![i]!;
    maxDiff = Math.max(maxDiff, Math.abs(acc / (1 - d ** T) - averaged.image.data[i]!));
  }
  assert.ok(maxDiff <= 1.5, `the output is the average of the iterates (max difference ${maxDiff} levels)`);
  let moved = 0;
  for (let i = 0; i < plain.image.data.length; i++) moved = Math.max(moved, Math.abs(plain.image.data[i]! - averaged.image.data[i]!));
  assert.ok(moved > 5, 'and not the last iterate');
});

test('--tolerance ends a scale early and says so; the CLI-facing result lists why each scale stopped', async () => {
  const r = await stylize({ ...base, iterations: 200, tolerance: 0.05 });
  assert.ok(r.scales.every((s) => s.stopReason === 'converged' && s.iterations < 200), JSON.stringify(r.scales));
  assert.equal(r.stopReason, 'converged');
});

test('checkpoint and resume: an interrupted run, resumed, ends where the uninterrupted one does (L-BFGS; Adam with averaging and resized moments)', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-ckpt-'));
  try {
    for (const [name, extra, stopAt] of [
      ['lbfgs, within the second scale', {}, 14],
      ['lbfgs, at the first scale', {}, 3],
      ['adam, averaged, moments resized', { optimizer: 'adam' as const, average: 0.9, adamMoments: 'resize' as const, learningRate: 4 }, 15],
      // interrupted as the third scale begins: resumed from the scale's start, with Adam's carried moments
      ['adam at a scale\'s start, moments resized', { optimizer: 'adam' as const, adamMoments: 'resize' as const, learningRate: 4 }, 'scale 2'],
    ] as const) {
      const req = { ...base, iterations: 8, ...extra };
      const whole = await stylize(req);
      const file = path.join(dir, `${name.split(',')[0]}.ckpt`);
      const ac = new AbortController();
      const written: number[] = [];
      const cut = await stylize({ ...req, checkpoint: file, checkpointEvery: 4 }, {
        signal: ac.signal,
        onEvent: (e) => {
          if (e.type === 'iterate' && e.iteration === stopAt) ac.abort();
          if (e.type === 'scale' && `scale ${e.index}` === stopAt) ac.abort();
          if (e.type === 'checkpoint') written.push(e.iteration);
        },
      });
      assert.equal(cut.stopReason, 'aborted', name);
      const ckpt = await readCheckpoint(file);
      if (typeof stopAt === 'number') {
        assert.ok(written.length >= 2 && written.at(-1) === stopAt, `${name}: checkpoints at ${written.join(', ')}, the last on the interrupt`);
        assert.ok(ckpt.header.optimiser, 'it holds the optimiser state');
      } else {
        assert.equal(ckpt.header.optimiser, null, 'a scale\'s start: its starting image and no optimiser state');
        assert.equal(ckpt.header.scale, 2);
        assert.ok(ckpt.arrays.m0 && ckpt.header.momentsSteps === 16, `Adam's moments carried in, after 16 updates (${ckpt.header.momentsSteps})`);
      }
      const resumed = await stylize({ ...req, checkpoint: file, checkpointEvery: 4, resume: file });
      assert.equal(resumed.iterations, whole.iterations, name);
      assert.equal(resumed.evaluations, whole.evaluations, name);
      const rel = Math.abs(resumed.loss - whole.loss) / whole.loss;
      assert.ok(rel <= 1e-4, `${name}: resumed ${resumed.loss} vs uninterrupted ${whole.loss} (${rel})`);
      assert.deepEqual(resumed.image.data, whole.image.data, `${name}: the same image`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a checkpoint from other options, or a corrupt one, is refused with a message and exit code 3', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-ckpt-'));
  try {
    const file = path.join(dir, 'run.ckpt');
    const ac = new AbortController();
    await stylize({ ...base, checkpoint: file, checkpointEvery: 2 }, { signal: ac.signal, onEvent: (e) => { if (e.type === 'iterate' && e.iteration === 3) ac.abort(); } });
    const refused = async (req: StylizeRequest, message: RegExp) => {
      const err = await stylize(req).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof CheckpointError, `refused: ${String(err)}`);
      assert.match((err as Error).message, message);
      assert.equal(exitCodeOf(err), 3);
    };
    await refused({ ...base, strength: 0.8, resume: file }, /was written by a run with other images, options or memory plan; resume with the command that wrote it/);
    await refused({ ...base, style: path.join(images, 'the_scream.jpg'), resume: file }, /other images, options/);
    const good = await readFile(file);
    const variants: [string, Buffer, RegExp][] = [
      ['flipped byte', Buffer.from(good.map((b, i) => (i === good.length - 100 ? b ^ 1 : b))), /checksum does not match/],
      ['truncated', good.subarray(0, good.length - 10), /header lists \d+ bytes of arrays, but the file holds \d+/],
      ['not a checkpoint', Buffer.from('PNG not at all a checkpoint, just some bytes of text to be long enough'), /does not start with IMPCKPT1/],
      ['lying header length', Buffer.concat([good.subarray(0, 8), Buffer.from([0xff, 0xff, 0xff, 0x7f]), good.subarray(12)]), /header length \d+ does not fit/],
      ['empty', Buffer.alloc(0), /fewer than any checkpoint/],
    ];
    for (const [name, bytes, message] of variants) {
      const bad = path.join(dir, `${name}.ckpt`);
      await writeFile(bad, bytes);
      await refused({ ...base, resume: bad }, message);
    }
    await refused({ ...base, resume: path.join(dir, 'missing.ckpt') }, /cannot read checkpoint .*missing\.ckpt: ENOENT/);
    // A stranger's file can hash right: well-formed bytes with a forged header are refused too,
    // naming the file, before any list the header sizes is built.
    const { header, arrays } = await readCheckpoint(file);
    assert.ok(header.optimiser?.kind === 'lbfgs', 'the interrupted run saved its L-BFGS state');
    const { arrays: _list, ...rest } = header;
    const { grad: _grad, ...noGrad } = arrays;
    const forged: [string, Omit<CheckpointHeader, 'arrays'>, Record<string, Float32Array>, RegExp][] = [
      ['pairs', { ...rest, optimiser: { ...header.optimiser, pairs: 1e9 } }, { ...arrays }, /its header claims 1000000000 L-BFGS pairs, more than its arrays hold/],
      ['no gradient', rest, noGrad, /its lbfgs state lacks its array 'grad' of \d+ values/],
      ['kind', { ...rest, optimiser: { ...header.optimiser, kind: 'sgd' as 'lbfgs' } }, { ...arrays }, /its optimiser state is malformed/],
      ['infinite', rest, { ...arrays, x: arrays.x!.map((v, i) => (i === 7 ? Infinity : v)) }, /its array 'x' holds a value that is not finite/],
      ['scales', { ...rest, scales: [{ width: -1, height: 2, iterations: 0, evaluations: 0, stopReason: 'budget' }] }, { ...arrays }, /a finished scale in its header is malformed/],
    ];
    for (const [name, h, a, message] of forged) {
      const bad = path.join(dir, `forged ${name}.ckpt`);
      await writeCheckpoint(bad, h, a);
      await refused({ ...base, resume: bad }, new RegExp(`forged ${name}\\.ckpt is not a usable Impasto checkpoint: ${message.source}`));
    }
    assert.ok(stateOf({ header, arrays }), 'the real one reads back');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the plan: blocks when the image does not fit whole, the L-BFGS history lowered when it was not given, refusal with the largest size that fits', async () => {
  const req = { content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network: 'offline' as const };
  const small = await planRequest({ ...req, size: 512 });
  assert.ok(small.scales.every((s) => s.blocks === 0), 'a small image fits whole');
  assert.deepEqual(small.scales.map((s) => s.width), [128, 181, 256, 362, 512]);
  const big = await planRequest({ ...req, size: 4000, maxMemory: 4 });
  const last = big.scales.at(-1)!;
  assert.ok(last.blocks > 1 && last.bytes <= 4e9, `4000 px in 4 GB: ${last.blocks} blocks, ${last.bytes / 1e9} GB`);
  assert.ok(big.history! < 20, `history lowered to ${big.history}`);
  assert.ok(big.scales[0]!.blocks === 0, 'the small scales stay whole');
  const err = await planRequest({ ...req, size: 4000, maxMemory: 4, history: 50 }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof OptionError);
  assert.match((err as Error).message, /needs about .* GB of memory, more than the 4\.00 GB allowed .*; use --size (\d+) or less/);
  const fits = Number(/use --size (\d+) or less/.exec((err as Error).message)![1]);
  assert.ok((await planRequest({ ...req, size: fits, maxMemory: 4, history: 50 })).bytes <= 4e9, `the suggested ${fits} px fits`);
  const masks = await planRequest({ ...req, size: 4000, maxMemory: 4, styleLoss: 'mean-std' }).then(() => null, (e: unknown) => e);
  assert.match(String(masks), /cannot be evaluated in blocks .*use --size \d+ or less/);
});
