/**
 * The temporal loss (src/losses/temporal.ts): its value by hand, its gradient against float64
 * finite differences, its warp, certainty and term against PyTorch float64
 * (tools/fixtures/make_temporal.py → tests/fixtures/reference/temporal.json), the warp and the
 * masks on known synthetic motion (a translation, an occluding square), the long-term masks, λ_t,
 * and the optical flow (flow.ts) on a known translation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { asImage } from '../../src/losses/types.js';
import { certainty, DEFAULT_TEMPORAL_WEIGHT, longTermCertainties, temporalLoss, temporalScale, temporalTermWeight, temporalWeights, UNTRUSTED, warp, type Flow } from '../../src/losses/temporal.js';
import { flowBetween } from '../../src/video/flow.js';
import { readImage, resizeImage, toPlanar } from '../../src/image/io-node.js';
import { checkVjp64, sessionFor } from '../helpers.js';

/** Evaluates L_temporal and its gradient in a float32 graph (as the objective does). */
async function evaluate(x: Float32Array, warped: Float32Array, c: Float32Array, h: number, w: number): Promise<{ loss: number; grad: Float32Array }> {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = t.watch(b.input('image', [1, 3, h, w]));
  const loss = temporalLoss(t, asImage(image), b.input('warped', [1, 3, h, w]), b.input('c', [1, 1, h, w]), 'temporal');
  b.output('loss', loss);
  b.output('grad', t.gradient(loss, [image])[0]!);
  const s = await sessionFor(b);
  const out = await s.run({ image: { data: x, dims: [1, 3, h, w] }, warped: { data: warped, dims: [1, 3, h, w] }, c: { data: c, dims: [1, 1, h, w] } });
  await s.dispose();
  return { loss: Number(out.loss!.data[0]), grad: out.grad!.data as Float32Array };
}

const flat = (a: unknown): number[] => (Array.isArray(a) ? a.flatMap(flat) : [a as number]);
const constFlow = (w: number, h: number, u: number, v: number): Flow => ({ width: w, height: h, u: new Float32Array(w * h).fill(u), v: new Float32Array(w * h).fill(v) });

test('L_temporal by hand: x, ω over 3 channels × 2 pixels, c = [1, ½]: (13 + ½·116)/6 = 71/6', async () => {
  // channel-major [3,1,2]: pixel 0 differs by (−2, −3, 0), pixel 1 by (0, 4, 10).
  const x = Float32Array.from([10, 20, 0, 5, 100, 50]);
  const omega = Float32Array.from([12, 20, 3, 1, 100, 40]);
  const { loss, grad } = await evaluate(x, omega, Float32Array.from([1, 0.5]), 1, 2);
  assert.ok(Math.abs(loss - 71 / 6) < 1e-5, `loss ${loss}`);
  // d/dx = 2c(x − ω)/D
  const expected = [2 * -2 / 6, 0, 2 * -3 / 6, 2 * 0.5 * 4 / 6, 0, 2 * 0.5 * 10 / 6];
  grad.forEach((g, i) => assert.ok(Math.abs(g - expected[i]!) < 1e-6, `grad[${i}] ${g} vs ${expected[i]}`));
});

test('L_temporal gradient matches float64 finite differences', async () => {
  const h = 3, w = 4;
  await checkVjp64([[1, 3, h, w]], (t, [x]) => {
    const omega = t.b.constant('omega', Float64Array.from({ length: 3 * h * w }, (_, i) => Math.sin(i)), [1, 3, h, w]);
    const c = t.b.constant('c', Float64Array.from({ length: h * w }, (_, i) => (i % 3) / 2), [1, 1, h, w]);
    return temporalLoss(t, asImage(x!), omega, c, 'temporal');
  });
});

test('warp, certainty and L_temporal match PyTorch float64 (grid_sample bicubic and bilinear, autograd)', async () => {
  const ref = JSON.parse(await readFile(new URL('../fixtures/reference/temporal.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const h = 12, w = 16, n = h * w;
  const [bu, bv] = [flat((ref.backward as unknown[])[0]), flat((ref.backward as unknown[])[1])];
  const [fu, fv] = [flat((ref.forward as unknown[])[0]), flat((ref.forward as unknown[])[1])];
  const b: Flow = { width: w, height: h, u: Float32Array.from(bu), v: Float32Array.from(bv) };
  const f: Flow = { width: w, height: h, u: Float32Array.from(fu), v: Float32Array.from(fv) };
  const previous = { data: Float32Array.from(flat(ref.previous)), width: w, height: h };
  const { data: warped, inside } = warp(previous, b);
  const refWarped = flat(ref.warped);
  let maxErr = 0;
  for (let i = 0; i < n; i++) {
    if (!inside[i]) continue; // outside, PyTorch extrapolates from clamped taps and Impasto reads the edge; c is 0 there
    for (let ch = 0; ch < 3; ch++) maxErr = Math.max(maxErr, Math.abs(warped[ch * n + i]! - refWarped[ch * n + i]!));
  }
  assert.ok(maxErr < 2e-3, `ω differs by up to ${maxErr} (0–255 units)`);
  const { certainty: c, why } = certainty(b, f);
  assert.deepEqual(Array.from(why), flat(ref.why), 'each pixel untrusted for the same reasons');
  assert.deepEqual(ref.counts, { disocclusion: 13, motionBoundary: 28, outside: 38, trusted: 118 }, 'the case exercises every rule');
  const { loss, grad } = await evaluate(Float32Array.from(flat(ref.x)), warped, c, h, w);
  assert.ok(Math.abs(loss - (ref.loss as number)) / (ref.loss as number) < 1e-5, `loss ${loss} vs ${ref.loss as number}`);
  const g = flat(ref.grad);
  let num = 0, den = 0;
  for (let i = 0; i < g.length; i++) { num += (grad[i]! - g[i]!) ** 2; den += g[i]! ** 2; }
  assert.ok(Math.sqrt(num / den) < 1e-5, `gradient relative L2 error ${Math.sqrt(num / den)}`);
});

test('warp along a known translation: ω(p) = image(p + (2, −1)) exactly, and only pixels that come from inside are inside', () => {
  const w = 8, h = 6, n = w * h;
  const data = Float32Array.from({ length: 3 * n }, (_, i) => (i * 37) % 251);
  const { data: omega, inside } = warp({ data, width: w, height: h }, constFlow(w, h, 2, -1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const from = x + 2 <= w - 1 && y - 1 >= 0;
      assert.equal(inside[i], from ? 1 : 0, `inside at ${x},${y}`);
      if (from) for (let ch = 0; ch < 3; ch++) assert.ok(Math.abs(omega[ch * n + i]! - data[ch * n + (y - 1) * w + x + 2]!) < 1e-4);
    }
  }
});

test('certainty on a known translation: trusted everywhere but the band that came from outside the frame', () => {
  const w = 20, h = 14;
  const { certainty: c, why } = certainty(constFlow(w, h, -3, 2), constFlow(w, h, 3, -2));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const outside = x - 3 < 0 || y + 2 > h - 1;
      assert.equal(why[y * w + x], outside ? UNTRUSTED.outside : 0, `${x},${y}`);
      assert.equal(c[y * w + x], outside ? 0 : 1);
    }
  }
});

test('certainty with an occluding square: its uncovered place fails the forward–backward check, its edge is a motion boundary, the rest is trusted', () => {
  // A static background; an 8×8 square at (10, 8) in frame t−1 moves by (4, 2) to (14, 10) in frame t.
  const w = 32, h = 24, n = w * h;
  const inSquare = (x: number, y: number, x0: number, y0: number) => x >= x0 && x < x0 + 8 && y >= y0 && y < y0 + 8;
  const b: Flow = { width: w, height: h, u: new Float32Array(n), v: new Float32Array(n) };
  const f: Flow = { width: w, height: h, u: new Float32Array(n), v: new Float32Array(n) };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (inSquare(x, y, 14, 10)) { b.u[y * w + x] = -4; b.v[y * w + x] = -2; }
      if (inSquare(x, y, 10, 8)) { f.u[y * w + x] = 4; f.v[y * w + x] = 2; }
    }
  }
  const { certainty: c, why } = certainty(b, f);
  let uncovered = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      // central differences see the edge from the 4 neighbours across it
      const nearEdge = [[-1, 0], [1, 0], [0, -1], [0, 1]].some(([dx, dy]) => inSquare(x + dx!, y + dy!, 14, 10) !== inSquare(x, y, 14, 10));
      if (inSquare(x, y, 10, 8) && !inSquare(x, y, 14, 10)) {
        uncovered++;
        assert.ok(why[i]! & UNTRUSTED.disocclusion, `uncovered ${x},${y} fails the check`);
        assert.equal(c[i], 0);
      } else if (nearEdge) {
        assert.ok(why[i]! & UNTRUSTED.motionBoundary, `${x},${y} on the square's edge is a motion boundary`);
      } else {
        assert.equal(why[i], 0, `${x},${y} is trusted`);
        assert.equal(c[i], 1);
      }
    }
  }
  assert.equal(uncovered, 8 * 8 - 4 * 6, 'the uncovered L-shaped region: 64 − the 4×6 overlap');
});

test('long-term certainties, closest first: each offset keeps only what no closer one covers', () => {
  const c1 = Float32Array.from([1, 0, 1, 0]);
  const c2 = Float32Array.from([1, 1, 0, 0]);
  const c4 = Float32Array.from([1, 1, 1, 1]);
  const [l1, l2, l4] = longTermCertainties([c1, c2, c4]).map((a) => Array.from(a));
  assert.deepEqual(l1, [1, 0, 1, 0]);
  assert.deepEqual(l2, [0, 1, 0, 0]);
  assert.deepEqual(l4, [0, 0, 0, 1]);
});

test("λ_t: T itself under jcjohnson's normalisation (α 5, k_c 1/(N·M)); (T/5)·α·u·½·N·M under the paper's", () => {
  assert.equal(temporalTermWeight(1000, 5, 'mean', [{ weight: 1, channels: 512, positions: 32 * 32 }]), 1000);
  assert.equal(temporalTermWeight(1000, 2, 'half-sum', [{ weight: 3, channels: 4, positions: 10 }]), (1000 / 5) * 2 * 3 * 0.5 * 40);
});

test('optical flow (Farneback, opencv.js) recovers a known translation of a photo: median error under 0.02 px, three quarters of pixels within 0.25 px', async () => {
  const photo = toPlanar(await resizeImage(await readImage(new URL('../fixtures/images/tubingen.jpg', import.meta.url).pathname), 140, 105));
  const W = 120, H = 90;
  // frame t−1 is the window at (10, 8), frame t the window at (13, 10): the scene moved by (−3, −2).
  const crop = (x0: number, y0: number) => {
    const data = new Float32Array(3 * W * H);
    for (let ch = 0; ch < 3; ch++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[ch * W * H + y * W + x] = photo.data[ch * photo.width * photo.height + (y + y0) * photo.width + x + x0]!;
    return { data, width: W, height: H };
  };
  const before = crop(10, 8), now = crop(13, 10);
  const back = await flowBetween(now, before); // frame t's p was at p + (3, 2) in frame t−1
  const errors: number[] = [];
  for (let y = 10; y < H - 10; y++) for (let x = 10; x < W - 10; x++) errors.push(Math.hypot(back.u[y * W + x]! - 3, back.v[y * W + x]! - 2));
  errors.sort((a, b) => a - b);
  const median = errors[errors.length >> 1]!;
  const within = errors.filter((e) => e < 0.25).length / errors.length;
  // Exact where there is texture; the flat sky (the top of the photo) shows no motion to measure.
  assert.ok(median < 0.02, `median endpoint error ${median.toFixed(4)} px`);
  assert.ok(within > 0.75, `${(100 * within).toFixed(0)} % of pixels within 0.25 px`);
});

test('λ_t of scale-free terms: α·T / s_t with s_t = (1/D) Σ c ω², the term at x = 0; default T by kind; an all-untrusted target weighs 0', async () => {
  const target = { warped: Float32Array.from([10, 20, 0, 5, 100, 50]), certainty: Float32Array.from([1, 0.5]) };
  const s = (100 + 0 + 10000 + 0.5 * (400 + 25 + 2500)) / 6;
  assert.ok(Math.abs(temporalScale(target) - s) < 1e-9);
  const { loss } = await evaluate(new Float32Array(6), target.warped, target.certainty, 1, 2);
  assert.ok(Math.abs(loss - s) / s < 1e-6, 'the scale is the term at x = 0');
  const none = { warped: target.warped, certainty: new Float32Array(2) };
  assert.deepEqual(temporalWeights(undefined, true, 2, 'half-sum', [], [target, none]), [(2 * DEFAULT_TEMPORAL_WEIGHT.scaleFree) / s, 0]);
  assert.deepEqual(temporalWeights(undefined, false, 5, 'mean', [{ weight: 1, channels: 8, positions: 9 }], [target]), [DEFAULT_TEMPORAL_WEIGHT.raw]);
});

test('warp, certainty, longTermCertainties and flowBetween refuse arguments whose arrays do not match their sizes (out-of-range reads gave NaN)', async () => {
  const w = 4, h = 3;
  const frame = { data: new Float32Array(3 * w * h), width: w, height: h };
  const lying = { data: new Float32Array(5), width: w, height: h };
  const flow = constFlow(w, h, 1, 0);
  const short: Flow = { ...flow, u: new Float32Array(2) };
  const refuses = (run: () => unknown, message: RegExp) => assert.throws(run, (e: Error) => e.name === 'OptionError' && message.test(e.message));
  refuses(() => warp(lying, flow), /^warp: the image: expected \{data: Float32Array of 3·width·height values, width, height\}, received 5 values for 4×3$/);
  refuses(() => warp(frame, short), /^the flow is 4×3 \(2 values\), but the frame is 4×3$/);
  refuses(() => certainty(short, flow), /^the backward flow is 4×3 \(2 values\)/);
  refuses(() => certainty(flow, constFlow(w, 2, 1, 0)), /^the forward flow is 4×2/);
  refuses(() => longTermCertainties([new Float32Array(3), new Float32Array(4)]), /one length/);
  await assert.rejects(flowBetween(frame, lying), (e: Error) => e.name === 'OptionError' && /^flowBetween: frame b: expected/.test(e.message));
  await assert.rejects(flowBetween(frame, { data: new Float32Array(3 * 8), width: 2, height: 4 }), /OptionError: optical flow needs frames of one size, received 4×3 and 2×4/);
  assert.equal(warp(frame, flow).data.length, 3 * w * h, 'well-formed arguments pass');
});
