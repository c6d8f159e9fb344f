/**
 * The library driver: event order, AbortSignal, several style images with blend weights, init from
 * a file, original colours, snapshots through the CLI, and option validation messages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { stylize, StylizeEvent } from '../../src/pipeline/stylize.js';
import { validateOptions } from '../../src/pipeline/options.js';
import { score } from '../../src/pipeline/score.js';
import { exitCodeOf } from '../../src/errors.js';

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
  assert.deepEqual(events.map((e) => e.type), ['start', 'iterate', 'iterate', 'iterate', 'iterate', 'done']);
  assert.equal(r.stopReason, 'aborted');
  assert.equal(r.iterations, 4);
  assert.deepEqual([r.image.width, r.image.height], [64, 48]);
  const it2 = events[2] as Extract<StylizeEvent, { type: 'iterate' }>;
  assert.ok(it2.image && it2.image.width === 64, 'every 2nd iteration carries the image');
  assert.equal((events[1] as Extract<StylizeEvent, { type: 'iterate' }>).image, undefined);
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
  assert.equal(validateOptions({}).preset, 'paper');
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
    [{ preset: 'gatys' }, /invalid preset: expected one of paper, .*, received 'gatys'/],
  ];
  for (const [bad, message] of cases) {
    const common = { ...bad, weights: net, size: 32, iterations: 1, threads: 1 } as unknown as Record<string, never>;
    const fromStylize = await stylize({ ...common, content: image, style }).then(() => null, (e: Error) => e);
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
