/** `impasto texture`: texture synthesis from noise, its size options, seamless tiling, and its usage errors. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { resolveEngine } from '../../src/engine/index.js';
import { colourMatchedNoise } from '../../src/image/color-match.js';
import { readImage, resizeImage, toPlanar } from '../../src/image/io-node.js';
import { styleDistance } from '../../src/metrics/quality.js';
import { seamRatio } from '../../src/metrics/seams.js';
import { untrainedNet } from '../../src/networks/untrained.js';
import { texture } from '../../src/pipeline/stylize.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
let dir = '';
before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-texture-')); });
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

function impasto(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), ...args], { cwd: dir, env: { ...process.env, IMPASTO_HOME: path.join(dir, 'cache') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('impasto texture makes a texture of the requested size whose Gram statistics are far nearer the painting than colour-matched noise', async () => {
  const out = path.join(dir, 'tex.png');
  const r = await impasto(['texture', path.join(images, 'starry_night.jpg'), '-o', out, '--width', '96', '--height', '64', '--iterations', '60', '--network', 'offline', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.ok(Object.keys(result.terms).every((k: string) => !k.startsWith('content/')), 'no content terms');
  const img = toPlanar(await readImage(out));
  assert.deepEqual([img.width, img.height], [96, 64]);
  const engine = await resolveEngine('node');
  const judge = untrainedNet({ kind: 'multiscale', sizes: [3, 9, 17], filters: 32, seed: 99 });
  const style = toPlanar(await resizeImage(await readImage(path.join(images, 'starry_night.jpg')), 96, 60));
  const dTexture = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], img, style);
  const dNoise = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], colourMatchedNoise(style, 1, 96, 64), style);
  assert.ok(dNoise / dTexture >= 5, `texture ${dTexture}, colour-matched noise ${dNoise}`);
});

test('--tileable: the wrap seam is like any interior neighbour pair (ratio ≤ 1.5); without it, it is not', async () => {
  const request = { style: path.join(images, 'the_scream.jpg'), width: 64, height: 64, iterations: 80, network: 'offline' as const, threads: 1 };
  const plain = await texture(request);
  const tiled = await texture({ ...request, tileable: true });
  const plainRatio = seamRatio(toPlanar(plain.image));
  const tiledRatio = seamRatio(toPlanar(tiled.image));
  assert.ok(tiledRatio <= 1.5, `tileable seam ratio ${tiledRatio}`);
  assert.ok(plainRatio > 1.5, `plain seam ratio ${plainRatio}`);
});

test('a texture takes masks like a stylisation; masks of another size are resized to the output', async () => {
  for (const [file, left] of [['l32.png', true], ['r32.png', false]] as const) {
    await sharp({ create: { width: 32, height: 32, channels: 3, background: '#000000' } })
      .composite([{ input: { create: { width: 16, height: 32, channels: 3, background: '#ffffff' } }, left: left ? 0 : 16, top: 0 }]).png().toFile(path.join(dir, file));
  }
  const r = await texture({
    style: ['starry_night.jpg', 'the_scream.jpg'].map((f) => path.join(images, f)), contentMasks: [path.join(dir, 'l32.png'), path.join(dir, 'r32.png')],
    width: 64, height: 64, iterations: 20, network: 'offline', threads: 1,
  });
  assert.deepEqual([r.image.width, r.image.height], [64, 64]);
  assert.ok(['style/scale0@0', 'style/scale0@1'].every((k) => k in r.terms), Object.keys(r.terms).join(', '));
  assert.ok(r.loss < r.initialLoss, `loss ${r.initialLoss} → ${r.loss}`);
});

test('texture usage errors: a content image with --tileable, options that need a content image, no style image', async () => {
  const photo = path.join(images, 'tubingen.jpg');
  const painting = path.join(images, 'starry_night.jpg');
  const cases: [string[], RegExp][] = [
    [[photo, painting, '--tileable', '--network', 'offline'], /tileable applies to textures only \(no content image\), but a content image was given; use 'impasto texture <style\.\.\.>'/],
    [[photo, painting, '--width', '64', '--network', 'offline'], /width and height apply to textures only/],
    [['texture', painting, '--luminance-only', '--network', 'offline'], /a texture has no content image, so luminanceOnly cannot apply/],
    [['texture', painting, '--init', 'content', '--network', 'offline'], /a texture has no content image to start from/],
    [['texture'], /expected at least one style image, received none/],
  ];
  for (const [args, message] of cases) {
    const r = await impasto([...args, '-o', path.join(dir, 'never.png')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  await writeFile(path.join(dir, 'not-an-image.png'), 'text');
  const bad = await impasto(['texture', path.join(dir, 'not-an-image.png'), '-o', path.join(dir, 'never.png'), '--network', 'offline']);
  assert.equal(bad.code, 3);
});
