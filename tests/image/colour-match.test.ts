/**
 * Colour control (Gatys et al. 2017 §5): colour matching of the style image against Gatys's own
 * numpy function (tools/fixtures/make_colour.py), its defining property, and luminance-only
 * transfer end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { colourStats, colourTransform, matchColour, matchLuminance, luma, mul, transpose, type ColourMatch } from '../../src/image/color-match.js';
import { readImage, resizeImage, toPlanar, type RgbImage } from '../../src/image/io-node.js';
import type { Image255 } from '../../src/pipeline/problem.js';
import { stylize } from '../../src/pipeline/stylize.js';
import { score } from '../../src/pipeline/score.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
const net = path.join(root, 'tests/fixtures/reference/net-avg.safetensors');

/** H×W×3 row-major values → planar Image255. */
function planar(hwc: number[], width: number, height: number): Image255 {
  const n = width * height;
  const data = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = hwc[3 * i + c]!;
  return { data, width, height };
}

test('matchColour equals Gatys\'s match_color (numpy float64) in each mode, to 1e-3 of a level', async () => {
  const ref = JSON.parse(await readFile(path.join(root, 'tests/fixtures/reference/colour-match.json'), 'utf8'));
  const style = planar(ref.style.hwc, ref.style.width, ref.style.height);
  const content = planar(ref.content.hwc, ref.content.width, ref.content.height);
  const outputs: Record<string, Image255> = {};
  for (const mode of ['chol', 'pca', 'sym'] as ColourMatch[]) {
    const got = matchColour(style, content, mode);
    const want = planar(ref[mode], style.width, style.height);
    const err = got.data.reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i]!)), 0);
    assert.ok(err <= 1e-3, `${mode}: max difference ${err} levels`);
    outputs[mode] = got;
  }
  // The three modes are different maps.
  const diff = (a: Image255, b: Image255) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i]!)), 0);
  assert.ok(diff(outputs.chol!, outputs.pca!) > 1 && diff(outputs.pca!, outputs.sym!) > 1 && diff(outputs.chol!, outputs.sym!) > 1);
});

test('each colour transform maps the style covariance onto the content covariance; sym is symmetric', async () => {
  const load = async (f: string, w: number, h: number) => toPlanar(await resizeImage(await readImage(path.join(images, f)), w, h));
  const style = await load('starry_night.jpg', 64, 40);
  const content = await load('tubingen.jpg', 64, 48);
  const cs = colourStats(style).cov;
  const cc = colourStats(content);
  for (const mode of ['chol', 'pca', 'sym'] as ColourMatch[]) {
    const a = colourTransform(cs, cc.cov, mode);
    const mapped = mul(mul(a, cs), transpose(a));
    for (let i = 0; i < 9; i++) assert.ok(Math.abs(mapped[i]! - cc.cov[i]!) <= 1e-6 * Math.abs(cc.cov[4]!), `${mode}: A C_s Aᵀ [${i}] ${mapped[i]} vs C_c ${cc.cov[i]}`);
    const m = colourStats(matchColour(style, content, mode));
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(m.mean[c]! - cc.mean[c]!) < 1e-3, `${mode} mean`);
    if (mode === 'sym') for (const [i, j] of [[1, 3], [2, 6], [5, 7]]) assert.ok(Math.abs(a[i]! - a[j]!) < 1e-9);
  }
  const lum = matchLuminance(style, content);
  const stats = (y: Float64Array) => {
    const mean = y.reduce((p, v) => p + v, 0) / y.length;
    return [mean, Math.sqrt(y.reduce((p, v) => p + (v - mean) ** 2, 0) / y.length)];
  };
  const [ml, sl] = stats(luma(lum));
  const [mc, sc] = stats(luma(content));
  assert.ok(Math.abs(ml! - mc!) < 1e-3 && Math.abs(sl! - sc!) < 1e-3, `luma ${ml}, ${sl} vs content ${mc}, ${sc}`);
});

test('--luminance-only keeps the content\'s chroma within rounding, changes its luma, and its loss is the score of its output', async () => {
  const request = { content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), weights: net, size: 64, iterations: 20, threads: 1 };
  const r = await stylize({ ...request, luminanceOnly: true });
  const content = await resizeImage(await readImage(path.join(images, 'tubingen.jpg')), 64, 48);
  const ycc = (img: RgbImage, i: number) => {
    const [R, G, B] = [img.data[3 * i]!, img.data[3 * i + 1]!, img.data[3 * i + 2]!];
    return [0.299 * R + 0.587 * G + 0.114 * B, -0.168736 * R - 0.331264 * G + 0.5 * B, 0.5 * R - 0.418688 * G - 0.081312 * B];
  };
  const chroma: number[] = [];
  let lumaChange = 0;
  for (let i = 0; i < 64 * 48; i++) {
    const [y, cb, cr] = ycc(r.image, i);
    const [y0, cb0, cr0] = ycc(content, i);
    chroma.push(Math.max(Math.abs(cb! - cb0!), Math.abs(cr! - cr0!)));
    lumaChange += Math.abs(y! - y0!) / (64 * 48);
  }
  chroma.sort((a, b) => a - b);
  assert.ok(chroma[Math.floor(0.99 * chroma.length)]! <= 1.5, `99th percentile chroma difference ${chroma[Math.floor(0.99 * chroma.length)]}`);
  assert.ok(lumaChange > 3, `mean luma change ${lumaChange} levels: the style went into the luminance`);
  const s = await score({ image: r.image, content: request.content, style: request.style, weights: net, threads: 1, luminanceOnly: true });
  assert.ok(Math.abs(s.total - r.loss) <= 1e-4 * r.loss, `score ${s.total} vs reported ${r.loss}`);
  await assert.rejects(stylize({ ...request, luminanceOnly: true, colorMatch: 'pca' }), /give either luminanceOnly \(--luminance-only\) or colorMatch/);
});
