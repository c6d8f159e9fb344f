/**
 * Spatial control (Gatys et al. 2017 §4): guide propagation against receptive fields worked out
 * by hand, the guided Gram term, and two styles in complementary halves end to end.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { erode, normaliseGuide, propagateGuide, resizeGuide, type Guide, type GuideStep } from '../../src/losses/guides.js';
import { randomVggWeights, vggNet } from '../../src/networks/vgg.js';
import { untrainedNet } from '../../src/networks/untrained.js';
import { resolveEngine } from '../../src/engine/index.js';
import { readImage, resizeImage, toPlanar } from '../../src/image/io-node.js';
import { histogramDistance, styleDistance } from '../../src/metrics/quality.js';
import { stylize } from '../../src/pipeline/stylize.js';
import type { Image255 } from '../../src/pipeline/problem.js';
import { mulberry32 } from '../../src/util/random.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { guidedGram } from '../../src/losses/guided-gram.js';
import { gramStyle } from '../../src/losses/gram-style.js';
import { asFeatureMap } from '../../src/losses/types.js';
import { checkVjp64, sessionFor } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
let dir = '';
before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-masks-')); });
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/**
 * The receptive field of neuron (i, j) after `steps`, by hand: walking back from the layer, a
 * k×k same window widens a row interval [a, b] to [a − r, b + r] clipped to that level's size,
 * and a 2×2 pool maps [a, b] to [2a, 2b + 1]. Returns the pixel rows and columns it covers.
 */
function receptiveField(i: number, j: number, steps: readonly GuideStep[], sizes: readonly [number, number][]): { rows: [number, number]; cols: [number, number] } {
  let rows: [number, number] = [i, i];
  let cols: [number, number] = [j, j];
  for (let s = steps.length - 1; s >= 0; s--) {
    const step = steps[s]!;
    const [h, w] = sizes[s]!; // the size at the input of this step
    if (step.kind === 'pool') {
      rows = [2 * rows[0], 2 * rows[1] + 1];
      cols = [2 * cols[0], 2 * cols[1] + 1];
    } else {
      const r = (step.size - 1) / 2;
      rows = [Math.max(0, rows[0] - r), Math.min(h - 1, rows[1] + r)];
      cols = [Math.max(0, cols[0] - r), Math.min(w - 1, cols[1] + r)];
    }
  }
  return { rows, cols };
}

test('propagation: all = max and inside = min of the guide over each neuron\'s receptive field, worked out by hand', () => {
  const steps: GuideStep[] = [{ kind: 'window', size: 3 }, { kind: 'window', size: 3 }, { kind: 'pool' }, { kind: 'window', size: 5 }];
  const [h, w] = [13, 10];
  const sizes: [number, number][] = [[h, w], [h, w], [h, w], [6, 5]];
  const u = mulberry32(3);
  // A blob region plus scattered pixels, so that all and inside differ everywhere near edges.
  const g: Guide = { data: Float32Array.from({ length: h * w }, (_, k) => ((Math.floor(k / w) - 6) ** 2 + ((k % w) - 4) ** 2 < 16 || u() < 0.1 ? 1 : 0)), width: w, height: h };
  for (const mode of ['all', 'inside'] as const) {
    const got = propagateGuide(g, steps, mode, [6, 5]);
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 5; j++) {
        const { rows, cols } = receptiveField(i, j, steps, sizes);
        let want = mode === 'all' ? 0 : 1;
        for (let y = rows[0]; y <= rows[1]; y++) for (let x = cols[0]; x <= cols[1]; x++) want = mode === 'all' ? Math.max(want, g.data[y * w + x]!) : Math.min(want, g.data[y * w + x]!);
        assert.equal(got.data[i * 5 + j], want, `${mode} at (${i}, ${j}): receptive field rows ${rows}, cols ${cols}`);
      }
    }
  }
  // simple: a zoom, each neuron the mean of the pixels it covers (10 × 13 → 5 × 6: 2 × 2.1666 px each)
  const simple = propagateGuide(g, steps, 'simple', [6, 5]);
  const direct = resizeGuide(g, 5, 6);
  assert.deepEqual([...simple.data], [...direct.data]);
  const ones = resizeGuide({ data: new Float32Array(26 * 20).fill(1), width: 20, height: 26 }, 7, 9);
  assert.ok(ones.data.every((v) => Math.abs(v - 1) < 1e-6), 'an area resize keeps a constant');
});

test('the networks describe how their layers see the image; erode/dilate and normalisation', () => {
  const vgg = vggNet(randomVggWeights('vgg16', 0), 'avg');
  assert.deepEqual(vgg.guideSteps('relu2_1'), [{ kind: 'window', size: 3 }, { kind: 'window', size: 3 }, { kind: 'pool' }, { kind: 'window', size: 3 }]);
  const pyr = untrainedNet({ kind: 'pyramid', levels: 3, kernel: 5, filters: 4, seed: 0, blur: true });
  assert.deepEqual(pyr.guideSteps('scale2'), [{ kind: 'window', size: 3 }, { kind: 'pool' }, { kind: 'window', size: 3 }, { kind: 'pool' }, { kind: 'window', size: 5 }]);
  assert.deepEqual(pyr.guideSteps('luma1'), [{ kind: 'window', size: 3 }, { kind: 'pool' }]);
  const dot: Guide = { data: Float32Array.from({ length: 25 }, (_, k) => (k === 12 ? 1 : 0)), width: 5, height: 5 };
  assert.equal(erode(dot, 1).data.reduce((a, v) => a + v, 0), 9, 'dilation by 1 px: a 3×3 square');
  assert.equal(erode(erode(dot, 1), -1).data.reduce((a, v) => a + v, 0), 1, 'then erosion by 1 px: the dot again');
  const n = normaliseGuide({ data: Float32Array.from([0, 0, 1, 1]), width: 2, height: 2 }, 'x');
  assert.deepEqual([...n.data], [0, 0, Math.SQRT2, Math.SQRT2].map((v) => Math.fround(v)), 'T / √mean(T²)');
  assert.throws(() => normaliseGuide({ data: new Float32Array(4), width: 2, height: 2 }, 'the region of mask 1 at relu5_1'), /the region of mask 1 at relu5_1 is empty/);
});

async function halfMask(file: string, left: boolean, w: number, h: number): Promise<void> {
  await sharp({ create: { width: w, height: h, channels: 3, background: '#000000' } })
    .composite([{ input: { create: { width: w / 2, height: h, channels: 3, background: '#ffffff' } }, left: left ? 0 : w / 2, top: 0 }]).png().toFile(file);
}

test('two styles in complementary halves: each half is nearer its own painting in Gram statistics and in colour', async () => {
  const [w, h] = [128, 96];
  await halfMask(path.join(dir, 'left.png'), true, w, h);
  await halfMask(path.join(dir, 'right.png'), false, w, h);
  const styles = ['starry_night.jpg', 'the_scream.jpg'].map((f) => path.join(images, f));
  const r = await stylize({ content: path.join(images, 'tubingen.jpg'), style: styles, contentMasks: [path.join(dir, 'left.png'), path.join(dir, 'right.png')], network: 'offline', size: w, iterations: 80, threads: 1 });
  const out = toPlanar(r.image);
  const half = (img: Image255, left: boolean): Image255 => {
    const hw = img.width / 2;
    const data = new Float32Array(3 * hw * img.height);
    for (let c = 0; c < 3; c++) for (let i = 0; i < img.height; i++) for (let j = 0; j < hw; j++) data[(c * img.height + i) * hw + j] = img.data[(c * img.height + i) * img.width + j + (left ? 0 : hw)]!;
    return { data, width: hw, height: img.height };
  };
  const engine = await resolveEngine('node');
  const judge = untrainedNet({ kind: 'multiscale', sizes: [3, 9, 17], filters: 32, seed: 99 });
  const paintings = await Promise.all(styles.map(async (s) => toPlanar(await resizeImage(await readImage(s), 64, 64))));
  for (const [k, left] of [[0, true], [1, false]] as const) {
    const part = half(out, left);
    const own = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], part, paintings[k]!);
    const other = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], part, paintings[1 - k]!);
    assert.ok(own < other, `${left ? 'left' : 'right'} half: Gram distance to its own painting ${own}, to the other ${other}`);
    const ownColour = histogramDistance(part, paintings[k]!);
    const otherColour = histogramDistance(part, paintings[1 - k]!);
    assert.ok(ownColour < otherColour, `${left ? 'left' : 'right'} half: colour distance to its own painting ${ownColour}, to the other ${otherColour}`);
  }
  assert.ok(Object.keys(r.terms).includes('style/scale0@1'), 'one term per layer and region');
});

test('mask usage errors: the wrong count, a blank mask, a mask that is not an image, another style loss', async () => {
  await sharp({ create: { width: 32, height: 32, channels: 3, background: '#000000' } }).png().toFile(path.join(dir, 'black.png'));
  await halfMask(path.join(dir, 'l.png'), true, 32, 32);
  await writeFile(path.join(dir, 'text.png'), 'not an image');
  const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), path.join(images, 'tubingen.jpg'), path.join(images, 'starry_night.jpg'), '--network', 'offline', '-o', path.join(dir, 'never.png'), ...args]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  const cases: [string[], number, RegExp][] = [
    [['--content-masks', `${path.join(dir, 'l.png')},${path.join(dir, 'l.png')}`], 2, /invalid --content-masks: expected 1 mask, one per style image; received 2/],
    [['--content-masks', path.join(dir, 'black.png')], 2, /content mask .*black\.png is all black/],
    [['--content-masks', path.join(dir, 'text.png')], 3, /text\.png/],
    [['--content-masks', path.join(dir, 'l.png'), '--style-loss', 'w2'], 2, /masks need the Gram style loss/],
  ];
  for (const [args, code, message] of cases) {
    const r = await run(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('guided Gram on the 2×2×2 example: bottom-row guide √2·[0,0,1,1] gives G = [[50,106],[106,226]], E = 75498/256; an all-ones guide is the Gram loss; gradient matches float64 finite differences', async () => {
  const F = [1, 2, 3, 4, 5, 6, 7, 8];
  const A = [1, 0, 0, 1];
  const bottom = normaliseGuide({ data: Float32Array.from([0, 0, 1, 1]), width: 2, height: 2 }, 'bottom row');
  const ones = { data: new Float32Array(4).fill(1), width: 2, height: 2 };
  const term = (guide: Guide | null) => async () => {
    const b = new GraphBuilder('float64');
    const t = new Tape(b);
    const x = b.input('x', [1, 2, 2, 2]);
    const unit = guide ? guidedGram('paper', ones, guide) : gramStyle('paper');
    b.output('y', unit.term(t, asFeatureMap(x), { gram: b.constant('A', A, [2, 2]) }, 'g'));
    const s = await sessionFor(b);
    const y = Number((await s.run({ x: { data: Float64Array.from(F), dims: [1, 2, 2, 2] } })).y!.data[0]);
    await s.dispose();
    return y;
  };
  const guided = await term(bottom)();
  assert.ok(Math.abs(guided - 75498 / 256) <= 1e-6 * (75498 / 256), `guided ${guided} vs ${75498 / 256}`);
  assert.equal(await term(ones)(), await term(null)(), 'an all-ones guide is the plain Gram loss');
  const guide3: Guide = normaliseGuide({ data: Float32Array.from([1, 0.5, 0, 0, 1, 1, 0.25, 0, 1, 0.75, 1, 0]), width: 4, height: 3 }, 'g');
  await checkVjp64([[1, 2, 3, 4]], (t, [f]) => guidedGram('paper', guide3, guide3).term(t, asFeatureMap(f!), { gram: t.b.constant('A', [1, 0.5, 0.5, 2], [2, 2]) }, 'guided'));
});
