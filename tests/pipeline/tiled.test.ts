/**
 * Tiled evaluation (src/pipeline/tiled.ts): the layout's invariants, and the loss and gradient in
 * forced small blocks against the whole image's, at 512 px, for the offline network and VGG-19.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareSetup, problemAt } from '../../src/pipeline/prepare.js';
import { reachOf, tileLayout, TiledProblem, tiledWorkload } from '../../src/pipeline/tiled.js';
import { objectiveWorkload } from '../../src/losses/objective.js';
import { planRequest } from '../../src/pipeline/plan-request.js';
import { untrainedNet, DEFAULT_UNTRAINED } from '../../src/networks/untrained.js';
import { randomVggWeights, vggNet } from '../../src/networks/vgg.js';
import { gaussian } from '../../src/util/random.js';
import { relL2 } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');

test('reach and stride: VGG-19 to relu5_1 sees 70 px beyond its 16-px cell; the offline network 95 px beyond 32', () => {
  // VGG-19: 3×3 convolutions at strides 1,1 | 2,2 | 4×4 | 8×4 | 16 → (2 + 4 + 16 + 32 + 16) = 70.
  const vgg = vggNet(randomVggWeights('vgg19', 0), 'avg');
  assert.deepEqual(reachOf(vgg, ['relu1_1', 'relu5_1']), { stride: 16, reach: 70 });
  assert.deepEqual(reachOf(vgg, ['relu4_2']), { stride: 8, reach: 2 + 4 + 16 + 16 });
  // Offline pyramid: a 3×3 blur before each of 5 poolings (1+2+4+8+16) and a 5×5 filter at 32 (2·32).
  assert.deepEqual(reachOf(untrainedNet(DEFAULT_UNTRAINED), ['scale0', 'scale5']), { stride: 32, reach: 31 + 64 });
});

test('the time model counts a tiled evaluation from its graphs: pass 1 a forward, pass 2 the objective\'s forward and backward', async () => {
  for (const network of ['offline', 'random-vgg19'] as const) {
    const { spec } = await prepareSetup({ content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network, size: 256, minSize: 256 });
    // Style only: pass 1 is the forward F to the deepest style layer; pass 2 is the objective's
    // graph with masks, F and its backward, whose transposed convolutions cost F again: 3F = 1.5 × the objective.
    const styleOnly = { ...spec, content: [] };
    const whole = objectiveWorkload({ ...styleOnly, width: 256, height: 256 });
    const w = tiledWorkload(styleOnly, 256, 256);
    assert.equal(w.runs, 2);
    assert.ok(Math.abs(w.macs / (1.5 * whole.macs) - 1) < 1e-12, `${network}: ${w.macs} multiply-adds against 1.5 × ${whole.macs}`);
    assert.ok(w.values > whole.values, `${network}: pass 1's values on top of the objective's`);
    // the content's forward (its features come from the content block inside pass 2) adds to it
    assert.ok(tiledWorkload(spec, 256, 256).macs > w.macs);
    // twice the block, twice the multiply-adds; no style term, no pass 1
    assert.equal(tiledWorkload(spec, 512, 256).macs, 2 * tiledWorkload(spec, 256, 256).macs);
    assert.equal(tiledWorkload({ ...spec, style: [] }, 256, 256).runs, 1);
  }
  // the plan's seconds: smaller forced blocks cost more (more margin computed again), and any blocks more than whole
  const req = { content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network: 'offline' as const, size: 1024, minSize: 1024 };
  const [whole, big, small] = await Promise.all([planRequest(req), planRequest({ ...req, tileSize: 640 }), planRequest({ ...req, tileSize: 320 })]);
  const s = [whole, big, small].map((p) => p.scales.at(-1)!);
  assert.deepEqual(s.map((x) => x.blocks), [0, 4, 54]);
  assert.ok(s[0]!.seconds < s[1]!.seconds && s[1]!.seconds < s[2]!.seconds, s.map((x) => x.seconds).join(' < '));
});

test('the owned regions partition the image, cuts and origins are multiples of the stride, margins hold the reach', () => {
  const net = vggNet(randomVggWeights('vgg19', 0), 'avg');
  for (const [w, h, side] of [[512, 384, 320], [1000, 731, 400], [4000, 3000, 1024], [300, 200, 512]] as const) {
    const L = tileLayout(w, h, net, ['relu1_1', 'relu5_1'], side);
    const owner = new Uint8Array(w * h);
    for (const b of L.blocks) {
      assert.equal(b.x % 16, 0);
      assert.equal(b.y % 16, 0);
      assert.ok(b.x + L.blockWidth <= w && b.y + L.blockHeight <= h, 'inside the image');
      const { x0, x1, y0, y1 } = b.owned;
      for (const c of [x0, y0]) assert.equal(c % 16, 0);
      if (x0 > 0) assert.ok(x0 - b.x >= L.margin);
      if (y0 > 0) assert.ok(y0 - b.y >= L.margin);
      if (x1 < w) assert.ok(b.x + L.blockWidth - x1 >= L.margin);
      if (y1 < h) assert.ok(b.y + L.blockHeight - y1 >= L.margin);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) owner[y * w + x]! += 1;
    }
    assert.ok(owner.every((c) => c === 1), `${w}×${h}: every pixel owned exactly once`);
    assert.ok(L.margin >= 70 && L.blockWidth <= Math.max(side, 0) + 16 && L.blockWidth <= w);
  }
});

/** The whole-image problem and the tiled one at 512 px, evaluated at one noisy image. */
async function compare(request: Parameters<typeof prepareSetup>[0], blockSide: number) {
  const setup = await prepareSetup({ ...request, threads: 2 });
  const whole = await problemAt(setup, setup.size);
  const layout = tileLayout(setup.size.width, setup.size.height, setup.net, setup.layers, blockSide);
  const tiled = await problemAt(setup, setup.size, layout);
  const g = gaussian(7);
  const x = Float32Array.from(whole.content!.data, (v) => Math.min(255, Math.max(0, v + 20 * g())));
  const a = await whole.problem.evaluate(x);
  const aGrad = Float32Array.from(a.grad);
  const b = await tiled.problem.evaluate(x);
  await whole.problem.dispose();
  await tiled.problem.dispose();
  assert.ok(tiled.problem instanceof TiledProblem);
  return { a, aGrad, b, layout };
}

for (const [name, request, side] of [
  ['offline network', { network: 'offline' as const }, 320],
  ['VGG-19 (seeded random weights, the paper\'s layers, max pooling under preset jcjohnson)', { network: 'random-vgg19' as const, preset: 'jcjohnson' }, 320],
] as const) {
  test(`tiling is exact at 512 px (${name}): loss within 1e-4, gradient within 1e-3 relative L2, in forced small blocks`, async (t) => {
    const { a, aGrad, b, layout } = await compare({ content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), size: 512, minSize: 512, ...request }, side);
    assert.ok(layout.blocks.length >= 4, `${layout.blocks.length} blocks of ${layout.blockWidth}×${layout.blockHeight}`);
    const rel = Math.abs(a.loss - b.loss) / Math.abs(a.loss);
    assert.ok(rel < 1e-4, `loss ${a.loss} whole vs ${b.loss} tiled: ${rel}`);
    // Each raw term within 2e-3: the whole-image graph sums up to 25 M float32 squares in one
    // ReduceSumSquare and is itself that far off. Measured on the offline network's content term:
    // float64 truth 25745.14, whole graph 25709.71 (−1.4e-3), 6 blocks 25742.00 (−1.2e-4).
    for (const [k, v] of Object.entries(a.terms)) assert.ok(Math.abs(v - b.terms[k]!) <= 2e-3 * Math.abs(v) + 1e-12, `term ${k}: ${v} vs ${b.terms[k]}`);
    const g = relL2(b.grad, aGrad);
    assert.ok(g < 1e-3, `gradient relative L2 ${g}`);
    t.diagnostic(`${layout.blocks.length} blocks of ${layout.blockWidth}×${layout.blockHeight} (margin ${layout.margin}): loss ${a.loss} whole, ${b.loss} tiled (relative ${rel.toExponential(2)}); gradient relative L2 ${g.toExponential(2)}`);
  });
}
