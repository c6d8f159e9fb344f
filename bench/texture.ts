/**
 * Texture synthesis (issue 11), measured: `texture` on committed paintings, plain and tileable.
 *
 *   npx tsx bench/texture.ts [--size 256] [--iterations 200] [--nets offline,vgg19]
 *
 * For each painting and network: the relative Gram distance of the texture to the painting under
 * an independent network (random VGG-19, seed 7), against colour-matched noise of the same size
 * (the baseline); and the seam ratio: the mean absolute difference across the wrap seam (last
 * column against first, last row against first) over the same measure between neighbouring
 * interior columns and rows (1 = the seam is like any other neighbour pair). Writes
 * out/texture-<painting>-<net>[-tileable].png and each tiled 2×2 as …-2x2.png.
 */
import { resolveEngine } from '../src/engine/index.js';
import { colourMatchedNoise } from '../src/image/color-match.js';
import { readImage, resizeImage, toPlanar, writeImage } from '../src/image/io-node.js';
import { styleDistance } from '../src/metrics/quality.js';
import { seamRatio, tile2x2 } from '../src/metrics/seams.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import { planSize, texture } from '../src/pipeline/stylize.js';
import { images, opt, outDir } from './common.js';

const size = Number(opt('size', '256'));
const iterations = Number(opt('iterations', '200'));
const nets = opt('nets', 'offline,vgg19').split(',');
const paintings = opt('paintings', 'starry_night.jpg,the_scream.jpg').split(',');
const engine = await resolveEngine();
const judge = vggNet(randomVggWeights('vgg19', 7), 'avg');
const layers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];

console.log(`${size} px, ${iterations} iterations, square outputs\n\n| painting | network | mode | Gram distance | noise baseline | baseline / texture | seam ratio | s |\n|---|---|---|---|---|---|---|---|`);
for (const painting of paintings) {
  const raw = await readImage(images + painting);
  const s = planSize(raw, { size });
  const style = toPlanar(await resizeImage(raw, s.width, s.height));
  const noise = colourMatchedNoise(style, 1, size, size);
  const base = await styleDistance(engine, judge, layers, noise, style);
  for (const net of nets) {
    for (const tileable of [false, true]) {
      const t0 = performance.now();
      const r = await texture({ style: raw, width: size, height: size, iterations, tileable, network: net === 'offline' ? 'offline' : 'random-vgg19' }, { engine });
      const img = toPlanar(r.image);
      const d = await styleDistance(engine, judge, layers, img, style);
      const name = `texture-${painting.replace(/\.\w+$/, '')}-${net}${tileable ? '-tileable' : ''}`;
      await writeImage(`${outDir}${name}.png`, r.image);
      await writeImage(`${outDir}${name}-2x2.png`, tile2x2(r.image));
      console.log(`| ${painting} | ${net} | ${tileable ? 'tileable' : 'plain'} | ${d.toFixed(4)} | ${base.toFixed(4)} | ${(base / d).toFixed(1)}× | ${seamRatio(img).toFixed(2)} | ${((performance.now() - t0) / 1000).toFixed(0)} |`);
    }
  }
}
