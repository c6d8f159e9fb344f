/**
 * Spatial control (issue 11), measured: the committed photo with The Starry Night in its left
 * half and The Scream in its right half (complementary masks), for each guide propagation mode.
 *
 *   npx tsx bench/masks.ts [--size 256] [--iterations 100] [--strength 0.5] [--runs offline:inside,offline:all,offline:simple,vgg19:inside]
 *
 * For each half: the Gram distance (independent random VGG-19, seed 7) and the colour-histogram
 * distance to its own painting and to the other one. Writes out/masks-<network>-<mode>-s<strength>.png and
 * out/masks-sheet.png (the runs side by side).
 */
import sharp from 'sharp';
import { resolveEngine } from '../src/engine/index.js';
import { readImage, resizeImage, toPlanar, writeImage, type RgbImage } from '../src/image/io-node.js';
import { histogramDistance, styleDistance } from '../src/metrics/quality.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import type { Image255 } from '../src/pipeline/problem.js';
import { planSize, stylize } from '../src/pipeline/stylize.js';
import { images, opt, outDir } from './common.js';

const size = Number(opt('size', '256'));
const iterations = Number(opt('iterations', '100'));
const strength = Number(opt('strength', '0.5'));
const runs = opt('runs', 'offline:inside,offline:all,offline:simple,vgg19:inside').split(',').map((r) => r.split(':') as [string, 'inside' | 'all' | 'simple']);

const photo = await readImage(`${images}tubingen.jpg`);
const { width, height } = planSize(photo, { size });
const half = Math.floor(width / 2);
for (const [file, left] of [['mask-left.png', true], ['mask-right.png', false]] as const) {
  await sharp({ create: { width, height, channels: 3, background: '#000000' } })
    .composite([{ input: { create: { width: left ? half : width - half, height, channels: 3, background: '#ffffff' } }, left: left ? 0 : half, top: 0 }]).png().toFile(outDir + file);
}
const paintings = ['starry_night.jpg', 'the_scream.jpg'];
const engine = await resolveEngine();
const judge = vggNet(randomVggWeights('vgg19', 7), 'avg');
const layers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
const targets = await Promise.all(paintings.map(async (p) => toPlanar(await resizeImage(await readImage(images + p), half, height))));
const crop = (img: Image255, left: boolean): Image255 => {
  const w = left ? half : img.width - half;
  const data = new Float32Array(3 * w * img.height);
  for (let c = 0; c < 3; c++) for (let i = 0; i < img.height; i++) for (let j = 0; j < w; j++) data[(c * img.height + i) * w + j] = img.data[(c * img.height + i) * img.width + j + (left ? 0 : half)]!;
  return { data, width: w, height: img.height };
};

console.log(`${width}×${height}, ${iterations} iterations, strength ${strength}; left: ${paintings[0]}, right: ${paintings[1]}\n`);
console.log('| network | propagation | half | Gram distance own / other | colour distance own / other | s |\n|---|---|---|---|---|---|');
const results: RgbImage[] = [];
for (const [net, mode] of runs) {
  const t0 = performance.now();
  const r = await stylize({
    content: photo, style: paintings.map((p) => images + p), contentMasks: [`${outDir}mask-left.png`, `${outDir}mask-right.png`],
    guidePropagation: mode, size, iterations, strength, network: net === 'offline' ? 'offline' : 'random-vgg19',
  }, { engine });
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  await writeImage(`${outDir}masks-${net}-${mode}-s${strength}.png`, r.image);
  results.push(r.image);
  const out = toPlanar(r.image);
  for (const [k, left] of [[0, true], [1, false]] as const) {
    const part = crop(out, left);
    const own = await styleDistance(engine, judge, layers, part, targets[k]!);
    const other = await styleDistance(engine, judge, layers, part, targets[1 - k]!);
    console.log(`| ${net} | ${mode} | ${left ? 'left' : 'right'} | ${own.toFixed(4)} / ${other.toFixed(4)} | ${histogramDistance(part, targets[k]!).toFixed(3)} / ${histogramDistance(part, targets[1 - k]!).toFixed(3)} | ${s} |`);
  }
}
const composites = await Promise.all(results.map(async (img, i) => ({
  input: await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer(), left: i * (width + 4), top: 0,
})));
await sharp({ create: { width: results.length * (width + 4), height, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(`${outDir}masks-sheet.png`);
console.log(`\nwrote ${outDir}masks-sheet.png: ${runs.map((r) => r.join(' ')).join(' | ')}`);
