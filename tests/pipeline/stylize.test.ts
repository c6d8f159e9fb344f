/**
 * The library driver: event order, AbortSignal, several style images with blend weights, init from
 * a file, original colours, snapshots through the CLI, and option validation messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { stylize, texture, StylizeEvent } from '../../src/pipeline/stylize.js';
import { planRequest } from '../../src/pipeline/plan-request.js';
import { stylizeVideo } from '../../src/video/video.js';
import { planBatch, runBatch } from '../../src/jobs/batch.js';
import { validateOptions } from '../../src/pipeline/options.js';
import { score } from '../../src/pipeline/score.js';
import { prepareProblem } from '../../src/pipeline/prepare.js';
import type { TargetedTerm } from '../../src/losses/unit.js';
import { readImage, resizeImage, writeImage, type RgbImage } from '../../src/image/io-node.js';
import { exitCodeOf } from '../../src/errors.js';
import { pngHeaderOnly } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shared = path.join(root, 'tests/fixtures/images');
const net = path.join(root, 'tests/fixtures/reference/net-avg.safetensors');

test('stylize emits start, iterate… and done in order, and stops on an AbortSignal with the current image', async () => {
  const events: StylizeEvent[] = [];
  const ac = new AbortController();
  const r = await stylize(
    { content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), weights: net, size: 64, iterations: 1000, threads: 1, imageEvery: 2 },
    { signal: ac.signal, onEvent: (e) => { events.push(e); if (e.type === 'iterate' && e.iteration === 4) ac.abort(); } },
  );
  assert.deepEqual(events.map((e) => e.type).filter((t) => t !== 'stage' && t !== 'notice'), ['start', 'scale', 'iterate', 'iterate', 'iterate', 'iterate', 'done']);
  // The network comes first: the run is planned (memory) before any image is decoded.
  assert.deepEqual(events.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage.split(' ')[0]), ['loading', 'reading', 'computing', 'building'], 'each set-up stage is announced');
  assert.equal(r.stopReason, 'aborted');
  assert.equal(r.iterations, 4);
  assert.deepEqual([r.image.width, r.image.height], [64, 48]);
  const iterates = events.filter((e) => e.type === 'iterate');
  const it2 = iterates[1] as Extract<StylizeEvent, { type: 'iterate' }>;
  assert.ok(it2.image && it2.image.width === 64, 'every 2nd iteration carries the image');
  assert.equal((iterates[0] as Extract<StylizeEvent, { type: 'iterate' }>).image, undefined);
  assert.ok(r.loss < r.initialLoss);
});

test('the CLI with two blended styles, init from a file, original colours and snapshots', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-opts-'));
  try {
    const out = path.join(dir, 'mix.png');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'),
        path.join(shared, 'tubingen.jpg'), path.join(shared, 'starry_night.jpg'), path.join(shared, 'the_scream.jpg'),
        '--style-blend', '3,1', '--init', path.join(shared, 'shipwreck.jpg'), '--original-colors', '--snapshot-every', '2',
        '--weights', net, '--size', '64', '--iterations', '25', '-o', out, '-q'], { env: { ...process.env, IMPASTO_HOME: path.join(dir, 'cache') }, stdio: 'ignore' });
      child.on('close', resolve);
    });
    assert.equal(code, 0);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.png')).sort();
    assert.ok(files.includes('mix.png') && files.includes('mix_2.png') && files.includes('mix_4.png'), files.join(', '));
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [64, 48]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('option validation says what was expected and what was received', () => {
  assert.throws(() => validateOptions({ size: 0 }), /invalid size: expected an integer ≥ 16 and ≤ 16384, received 0/);
  assert.throws(() => validateOptions({ pooling: 'median' as never }), /invalid pooling: expected one of max, avg, received 'median'/);
  assert.throws(() => validateOptions({ colour: 1 } as never), /unknown option 'colour'; expected one of: weights, network/);
  assert.equal(validateOptions({}).preset, 'impasto');
  assert.throws(() => validateOptions({ strength: 1.5 }), /invalid strength: expected a number ≥ 0 and ≤ 1, received 1\.5/);
  assert.throws(() => validateOptions({ bounds: 'box' as never }), /invalid bounds: expected one of project, clamp, none, received 'box'/);
});

test('stylize and score share one set-up: the same bad options give the same error from both', async () => {
  const image = path.join(shared, 'tubingen.jpg');
  const style = path.join(shared, 'starry_night.jpg');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ styleLayers: ['relu1_1', 'relu2_1'], styleLayerWeights: [1] }, /invalid --style-layer-weights: expected 2 weights, one per layer of relu1_1, relu2_1; received 1/],
    [{ styleBlend: [0] }, /invalid --style-blend: the weights must not all be zero, received 0/],
    [{ styleBlend: [1, 2] }, /invalid --style-blend: expected 1 weights, one per style image; received 2/],
    [{ styleLayers: ['relu1_1', 'relu1_1'] }, /invalid --style-layers: relu1_1 named more than once/],
    [{ contentLayers: ['relu9_9'] }, /unknown layer name 'relu9_9' for vgg19/],
    [{ preset: 'gatys' }, /invalid preset: expected one of impasto, paper, .*, received 'gatys'/],
  ];
  for (const [bad, message] of cases) {
    const common = { ...bad, weights: net, threads: 1 } as unknown as Record<string, never>;
    const fromStylize = await stylize({ ...common, size: 32, iterations: 1, content: image, style }).then(() => null, (e: Error) => e);
    const fromScore = await score({ ...common, image, content: image, style }).then(() => null, (e: Error) => e);
    assert.ok(fromStylize && fromScore, `both refuse ${JSON.stringify(bad)}`);
    assert.match(fromStylize.message, message);
    assert.equal(fromScore.message, fromStylize.message);
    assert.equal(fromScore.constructor, fromStylize.constructor);
    assert.equal(exitCodeOf(fromStylize), 2, `${fromStylize.message} is a usage error (exit 2)`);
  }
});

test('without --weights a cached VGG-19 is used when present, else the offline network with a notice', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-default-'));
  const saved = process.env.IMPASTO_HOME;
  process.env.IMPASTO_HOME = dir;
  try {
    const run = async () => {
      const events: StylizeEvent[] = [];
      await stylize({ content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), size: 64, iterations: 2, threads: 1 }, { onEvent: (e) => events.push(e) });
      return events;
    };
    const offline = await run();
    assert.match((offline.find((e) => e.type === 'notice') as { message: string }).message, /using the offline network.*run 'impasto weights fetch'/);
    assert.match((offline.find((e) => e.type === 'start') as { network: string }).network, /^untrained pyramid network/);
    // A cached timm VGG-19 (here the narrow test network under that file name) becomes the default.
    await mkdir(path.join(dir, 'models'), { recursive: true });
    await copyFile(net, path.join(dir, 'models', 'vgg19.tv_in1k.safetensors'));
    const cached = await run();
    assert.equal(cached.filter((e) => e.type === 'notice').length, 0);
    assert.match((cached.find((e) => e.type === 'start') as { network: string }).network, /vgg19 \(.*models\/vgg19\.tv_in1k\.safetensors\), avg pooling/);
  } finally {
    if (saved === undefined) delete process.env.IMPASTO_HOME;
    else process.env.IMPASTO_HOME = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test('the offline network drops its default style layers that need more pixels than the images have, and says so', async () => {
  const events: StylizeEvent[] = [];
  const saved = process.env.IMPASTO_HOME;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-small-'));
  process.env.IMPASTO_HOME = dir;
  try {
    // 48 px wide output; Starry Night at that size is 48×30, too small for scale5 (32 px).
    await stylize({ content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), size: 48, iterations: 2, threads: 1 }, { onEvent: (e) => events.push(e) });
  } finally {
    if (saved === undefined) delete process.env.IMPASTO_HOME;
    else process.env.IMPASTO_HOME = saved;
    await rm(dir, { recursive: true, force: true });
  }
  const notices = events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
  assert.ok(notices.some((m) => /style layers scale5 need more than the 30 px of the smallest image side; using scale0, scale1, scale2, scale3, scale4/.test(m)), notices.join('\n'));
  assert.equal(events.at(-1)!.type, 'done');
});

test('--init FILE: the first iterate is that file, resized to the output', async () => {
  const init = path.join(shared, 'shipwreck.jpg');
  const firsts: RgbImage[] = [];
  // One evaluation: L-BFGS returns the point it evaluated, which is the start.
  const r = await stylize({ content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), weights: net, size: 64, iterations: 1, maxEvaluations: 1, threads: 1, init });
  firsts.push(r.image);
  const expected = await resizeImage(await readImage(init), 64, 48);
  let maxDiff = 0;
  for (let i = 0; i < expected.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected.data[i]! - r.image.data[i]!));
  assert.equal(r.iterations, 0);
  assert.ok(maxDiff <= 1, `max difference from the resized init file: ${maxDiff} levels`);
  // And the loss reported for it is the score of that image.
  const s = await score({ image: expected, content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), weights: net, threads: 1 });
  assert.ok(Math.abs(s.total - r.initialLoss) <= 1e-5 * s.total, `score ${s.total} vs initial loss ${r.initialLoss}`);
});

test('--original-colors: the output keeps the content image’s chroma (BT.601 Cb, Cr) within rounding', async () => {
  const request = { content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), weights: net, size: 64, iterations: 20, threads: 1, styleWeight: 1e5, preset: 'paper' };
  const plain = await stylize(request);
  const kept = await stylize({ ...request, originalColors: true });
  const content = await resizeImage(await readImage(path.join(shared, 'tubingen.jpg')), 64, 48);
  const chroma = (img: RgbImage, i: number) => {
    const [r, g, b] = [img.data[3 * i]!, img.data[3 * i + 1]!, img.data[3 * i + 2]!];
    return [-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b];
  };
  const dist = (img: RgbImage) => {
    const d: number[] = [];
    for (let i = 0; i < 64 * 48; i++) {
      const [a, b] = [chroma(img, i), chroma(content, i)];
      d.push(Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!)));
    }
    return d.sort((x, y) => x - y);
  };
  const withColours = dist(kept.image);
  const without = dist(plain.image);
  // Rounding to 8 bits moves Cb/Cr by at most ~1 level; clipping at 0 or 255 can move a few more.
  assert.ok(withColours[Math.floor(0.99 * withColours.length)]! <= 1.5, `99th percentile chroma difference ${withColours[Math.floor(0.99 * withColours.length)]}`);
  assert.ok(without[Math.floor(0.5 * without.length)]! > 3, `without the option the chroma changes (median ${without[Math.floor(0.5 * without.length)]})`);
});

test('--style-blend: each blended target lies between the single-style targets, at the blend weights', async () => {
  const styles = [path.join(shared, 'starry_night.jpg'), path.join(shared, 'the_scream.jpg')];
  for (const styleLoss of ['gram', 'mean-std', 'w2'] as const) {
    const setup = (style: string[], styleBlend?: number[]) =>
      prepareProblem({ content: path.join(shared, 'tubingen.jpg'), style, styleBlend, styleLoss, weights: net, size: 64, threads: 1 });
    const [a, b, mix] = await Promise.all([setup([styles[0]!]), setup([styles[1]!]), setup(styles, [3, 1])]);
    for (const p of [a, b, mix]) await p.problem.dispose();
    const stat = styleLoss === 'gram' ? 'gram' : 'mean';
    for (let l = 0; l < mix.objective.style.length; l++) {
      const get = (p: typeof a) => ((p.objective.style[l] as TargetedTerm).target.tensors as Record<string, { data: Float32Array }>)[stat]!.data;
      const [ta, tb, tm] = [get(a), get(b), get(mix)];
      let worst = 0;
      for (let i = 0; i < tm.length; i++) {
        const expected = 0.75 * ta[i]! + 0.25 * tb[i]!;
        worst = Math.max(worst, Math.abs(tm[i]! - expected) / (Math.abs(ta[i]!) + Math.abs(tb[i]!) + 1e-6));
        assert.ok(tm[i]! >= Math.min(ta[i]!, tb[i]!) - 1e-3 * Math.abs(ta[i]! - tb[i]!) - 1e-6 && tm[i]! <= Math.max(ta[i]!, tb[i]!) + 1e-3 * Math.abs(ta[i]! - tb[i]!) + 1e-6, `${styleLoss} ${mix.objective.style[l]!.layer}[${i}] lies between`);
      }
      assert.ok(worst < 1e-5, `${styleLoss} ${mix.objective.style[l]!.layer}: blend is ¾·A₁ + ¼·A₂ (worst ${worst})`);
    }
  }
});

test('the library checks its arguments at the boundary: requests that are not objects, missing or mistyped images (score\'s too), Float32Array data, a non-signal, an aborted signal', async () => {
  const style = path.join(shared, 'starry_night.jpg');
  const cases: [unknown, RegExp][] = [
    [undefined, /invalid content: expected an image path or an RgbImage \{data: Uint8Array of 3·width·height bytes, width, height\}, received undefined/],
    [42, /invalid content: .* received number/],
    [{ data: new Float32Array(12), width: 2, height: 2 }, /invalid content: .* received \{data: Float32Array of length 12, width: 2, height: 2\}/],
    [{ data: new Uint8Array(5), width: 2, height: 2 }, /invalid content: .* received \{data: Uint8Array of length 5, width: 2, height: 2\}/],
  ];
  for (const [content, message] of cases) {
    await assert.rejects(stylize({ content: content as never, style, weights: net, size: 32, iterations: 1 }), (e: Error) => exitCodeOf(e) === 2 && message.test(e.message));
  }
  // score's image is checked as a content image is (its size against its bytes), and every entry
  // point refuses a request that is not an object, with its own name
  const content = path.join(shared, 'tubingen.jpg');
  await assert.rejects(score({ image: { data: new Uint8Array(3), width: 100, height: 100 }, content, style, weights: net }),
    (e: Error) => exitCodeOf(e) === 2 && /invalid image: .* received \{data: Uint8Array of length 3, width: 100, height: 100\}/.test(e.message));
  const entries: [string, (r: never) => Promise<unknown>][] = [
    ['stylize', stylize], ['texture', texture], ['score', score], ['planRequest', planRequest], ['stylizeVideo', stylizeVideo], ['planBatch', planBatch],
  ];
  for (const [name, fn] of entries) {
    for (const [request, what] of [[null, 'null'], [[], 'an array'], ['x.jpg', 'string']] as const) {
      await assert.rejects(fn(request as never), (e: Error) => exitCodeOf(e) === 2 && e.message === `${name}: expected a request object, received ${what}`, `${name}(${what})`);
    }
  }
  // a small --style-scale is the set-up's own business, not the library's range check of --size
  await assert.rejects(stylize({ content, style, weights: net, size: 64, styleScale: 0.2, iterations: 1 }), /the style image would be 13×8 px, but layers .* need at least/);
  await assert.rejects(runBatch(null as never), (e: Error) => exitCodeOf(e) === 2 && /^runBatch: expected an array of jobs \(from planBatch\), received null$/.test(e.message));
  await assert.rejects(runBatch([{ content: content, styles: [], output: 'x.png', options: {} }] as never), /^OptionError: runBatch: job 1 is not a job: expected \{ content, styles \(at least one\)/);
  const written = path.join(os.tmpdir(), `impasto-lying-${process.pid}.png`);
  await assert.rejects(writeImage(written, { data: new Uint8Array(3), width: 10, height: 10 }), (e: Error) => exitCodeOf(e) === 2 && /^writeImage: expected an RgbImage .* received 3 bytes for 10×10$/.test(e.message));
  await assert.rejects(readFile(written), 'nothing written');
  await assert.rejects(stylize({ content: path.join(shared, 'tubingen.jpg'), style, weights: net }, { signal: 'stop' as never }), /invalid signal: expected an AbortSignal, received string/);
  // An aborted signal stops before anything is read: a content path that does not exist is never looked at.
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(stylize({ content: path.join(shared, 'absent.jpg'), style, weights: net }, { signal: ac.signal }), (e: Error) => e.name === 'AbortError' && exitCodeOf(e) === 130);
});

test('a corrupt cached default network is not used: the notice says why and what to do', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-corrupt-default-'));
  const saved = process.env.IMPASTO_HOME;
  process.env.IMPASTO_HOME = dir;
  try {
    await mkdir(path.join(dir, 'models'), { recursive: true });
    // The Keras default's file name, holding other bytes (here: the test network).
    await copyFile(net, path.join(dir, 'models', 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'));
    const events: StylizeEvent[] = [];
    await stylize({ content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), size: 64, iterations: 1, threads: 1 }, { onEvent: (e) => events.push(e) });
    const notices = events.filter((e) => e.type === 'notice').map((e) => (e as { message: string }).message);
    assert.ok(notices.some((m) => /the cached vgg19_weights_tf_dim_ordering_tf_kernels_notop\.h5 has \d+ bytes, but the published file has 80134624; it is not used\. Delete it and run 'impasto weights fetch --source keras' again/.test(m)), notices.join('\n'));
    assert.match((events.find((e) => e.type === 'start') as { network: string }).network, /^untrained pyramid network/);
  } finally {
    if (saved === undefined) delete process.env.IMPASTO_HOME;
    else process.env.IMPASTO_HOME = saved;
    await rm(dir, { recursive: true, force: true });
  }
});

test('eight 99-Mpx style images are refused from their headers, before any is decoded; --threads above the cores is lowered with a notice', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-budget-'));
  try {
    // PNG headers claiming 11000×9000 (99 Mpx) with one tiny row of data.
    const png = pngHeaderOnly(11000, 9000);
    const styles = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const f = path.join(dir, `big-${i}.png`);
      await writeFile(f, png);
      return f;
    }));
    const rss = process.memoryUsage().rss;
    await assert.rejects(stylize({ content: path.join(shared, 'tubingen.jpg'), style: styles, weights: net, size: 32, iterations: 1 }),
      (e: Error) => exitCodeOf(e) === 2 && /the input images hold 792 Mpx in all, more than the 200 Mpx decoded per problem/.test(e.message));
    assert.ok(process.memoryUsage().rss - rss < 200e6, 'nothing was decoded');
    const events: StylizeEvent[] = [];
    await stylize({ content: path.join(shared, 'tubingen.jpg'), style: path.join(shared, 'starry_night.jpg'), weights: net, size: 32, iterations: 1, threads: 1000 }, { onEvent: (e) => events.push(e) });
    assert.ok(events.some((e) => e.type === 'notice' && new RegExp(`--threads 1000 is more than the ${os.availableParallelism()} cores available; using ${os.availableParallelism()}`).test(e.message)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
