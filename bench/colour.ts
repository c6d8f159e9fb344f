/**
 * Colour control (issue 11), measured: a plain run against `--original-colors`,
 * `--luminance-only` and each `--color-match` mode, on the committed photo and one painting.
 *
 *   npx tsx bench/colour.ts [--size 256] [--iterations 100] [--painting starry_night.jpg] [--nets offline,vgg19]
 *
 * For each result: its chroma distance to the photo (mean over pixels of |ΔCb| + |ΔCr|, BT.601,
 * in 0–255 levels), its colour-histogram distance to the photo (Hellinger, 0 = equal), content
 * SSIM, and style distance to the painting under an independent network (random VGG-19, seed 7).
 * Writes out/colour-<painting>.png: the photo, the painting, then one row per network with one
 * column per mode. `vgg19` is a seeded random VGG-19 (no download).
 */
import { resolveEngine } from '../src/engine/index.js';
import { fromPlanar, readImage, resizeImage, toPlanar, type RgbImage } from '../src/image/io-node.js';
import { histogramDistance, ssimLuma, styleDistance } from '../src/metrics/quality.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import type { StylizeOptions } from '../src/pipeline/options.js';
import type { Image255 } from '../src/pipeline/problem.js';
import { planSize, stylize } from '../src/pipeline/stylize.js';
import { contactSheet, images, opt, outDir } from './common.js';

const size = Number(opt('size', '256'));
const iterations = Number(opt('iterations', '100'));
const painting = opt('painting', 'starry_night.jpg');
const nets = opt('nets', 'offline,vgg19').split(',');

const MODES: Record<string, Partial<StylizeOptions>> = {
  plain: {},
  'original-colors': { originalColors: true },
  'luminance-only': { luminanceOnly: true },
  'color-match chol': { colorMatch: 'chol' },
  'color-match pca': { colorMatch: 'pca' },
  'color-match sym': { colorMatch: 'sym' },
};
const NETS: Record<string, Partial<StylizeOptions>> = { offline: { network: 'offline' }, vgg19: { network: 'random-vgg19' } };

/** Mean |ΔCb| + |ΔCr| between two images of one size, in 0–255 levels. */
function chromaDistance(a: Image255, b: Image255): number {
  const n = a.width * a.height;
  const cb = (d: Float32Array, i: number) => -0.168736 * d[i]! - 0.331264 * d[n + i]! + 0.5 * d[2 * n + i]!;
  const cr = (d: Float32Array, i: number) => 0.5 * d[i]! - 0.418688 * d[n + i]! - 0.081312 * d[2 * n + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(cb(a.data, i) - cb(b.data, i)) + Math.abs(cr(a.data, i) - cr(b.data, i));
  return s / n;
}

const engine = await resolveEngine();
const judge = vggNet(randomVggWeights('vgg19', 7), 'avg');
const layers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
const load = async (file: string) => {
  const raw = await readImage(images + file);
  const s = planSize(raw, { size });
  return toPlanar(await resizeImage(raw, s.width, s.height));
};
const content = await load('tubingen.jpg');
const style = await load(painting);
const paintingAtPhotoSize = toPlanar(await resizeImage(fromPlanar(style), content.width, content.height));
console.log(`tubingen.jpg × ${painting}, ${content.width}×${content.height}, ${iterations} iterations, strength 0.5; for scale, the painting against the photo: chroma distance ${chromaDistance(paintingAtPhotoSize, content).toFixed(2)}, histogram distance ${histogramDistance(style, content).toFixed(3)}`);
console.log('\n| network | mode | chroma distance to photo | histogram distance to photo | content SSIM | style distance |\n|---|---|---|---|---|---|');
const rows: RgbImage[][] = [[fromPlanar(content), fromPlanar(style)]];
for (const name of nets) {
  const row: RgbImage[] = [];
  for (const [mode, o] of Object.entries(MODES)) {
    const r = await stylize({ content: fromPlanar(content), style: fromPlanar(style), size, iterations, ...NETS[name], ...o }, { engine });
    const img = toPlanar(r.image);
    console.log(`| ${name} | ${mode} | ${chromaDistance(img, content).toFixed(2)} | ${histogramDistance(img, content).toFixed(3)} | ${ssimLuma(img, content).toFixed(3)} | ${(await styleDistance(engine, judge, layers, img, style)).toFixed(4)} |`);
    row.push(r.image);
  }
  rows.push(row);
}
const file = `${outDir}colour-${painting.replace(/\.\w+$/, '')}.png`;
await contactSheet(file, rows, 192);
console.log(`\nwrote ${file}: photo, painting; then one row per network (${nets.join(', ')}), columns ${Object.keys(MODES).join(', ')}`);
