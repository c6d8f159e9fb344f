/**
 * The strength knob and the default on every network (issue 10), measured.
 *
 *   npx tsx bench/strength.ts [--size 256] [--iterations 150] [--nets offline,vgg19-caffe,vgg19-torchvision]
 *                             [--betas 1,10,100,1000,10000,100000] [--strengths 0,0.25,0.5,0.75,1]
 *                             [--content-layers L,…] [--photo tubingen.jpg] [--painting starry_night.jpg]
 *                             [--images DIR] [--options JSON] [--tag name]
 *
 * For each network and each style weight β (or each `--strengths` value, which maps to β through
 * the default preset) it stylises the committed photo with one committed painting through the
 * library's `stylize` (so through the one problem set-up) and prints:
 *   - content SSIM: luminance SSIM of the result against the photo (1 = the photo);
 *   - style distance: relative Gram error against the painting under an independent network
 *     (random VGG-19, seed 7, not any network optimised here), and the photo's own, for scale;
 *   - colour distance: Hellinger distance of RGB histograms to the painting, and the photo's own.
 * `--images DIR` reads the photo and painting from another folder (held-out images); `--options`
 * adds stylisation options as JSON (e.g. '{"preset":"paper"}').
 * It writes out/strength-<tag>.png: one row per network, one column per β, the photo and the
 * painting first; and each result at full size as out/strength-<tag>-<network>-<value>.png.
 *
 * The random VGG-19 files are written to out/ by this script (seed 0), in both conventions: a
 * safetensors file with torchvision keys (RGB mean/std preprocessing) and one with Caffe names
 * (BGR minus the mean). No download.
 */
import { resolveEngine } from '../src/engine/index.js';
import { fromPlanar, readImage, resizeImage, toPlanar, writeImage, type RgbImage } from '../src/image/io-node.js';
import { histogramDistance, ssimLuma, styleDistance } from '../src/metrics/quality.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import { planSize, stylize } from '../src/pipeline/stylize.js';
import type { StylizeOptions } from '../src/pipeline/options.js';
import type { Image255 } from '../src/pipeline/problem.js';
import { args, contactSheet, images as committedImages, opt, outDir, randomFile } from './common.js';

const size = Number(opt('size', '256'));
const iterations = Number(opt('iterations', '150'));
const nets = opt('nets', 'offline,vgg19-caffe,vgg19-torchvision').split(',');
const strengths = args.includes('--strengths') ? opt('strengths', '').split(',').map(Number) : null;
const betas = opt('betas', '1,10,100,1000,10000,100000').split(',').map(Number);
const contentLayers = args.includes('--content-layers') ? opt('content-layers', '').split(',') : undefined;
const painting = opt('painting', 'starry_night.jpg');
const photo = opt('photo', 'tubingen.jpg');
const extra = args.includes('--options') ? JSON.parse(opt('options', '{}')) as Partial<StylizeOptions> : {};
const tag = opt('tag', 'sweep');
const images = args.includes('--images') ? `${opt('images', '')}/` : committedImages;


const NET_OPTIONS: Record<string, () => Promise<Partial<StylizeOptions>>> = {
  offline: async () => ({ network: 'offline' }),
  'vgg19-caffe': async () => ({ weights: await randomFile('caffe') }),
  'vgg19-torchvision': async () => ({ weights: await randomFile('torchvision') }),
};

async function load(file: string, longest: number): Promise<Image255> {
  const raw = await readImage(images + file);
  const s = planSize(raw, { size: longest });
  return toPlanar(await resizeImage(raw, s.width, s.height));
}

const engine = await resolveEngine();
const judge = vggNet(randomVggWeights('vgg19', 7), 'avg');
const judgeLayers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];
const content = await load(photo, size);
const style = await load(painting, size);
const photoStyle = await styleDistance(engine, judge, judgeLayers, content, style);
const photoColour = histogramDistance(content, style);
console.log(`photo ${photo}, painting ${painting}, ${content.width}×${content.height}, ${iterations} iterations; photo's own: style distance ${photoStyle.toFixed(4)}, colour distance ${photoColour.toFixed(4)}`);

const knob = strengths ? 'strength' : 'β';
const values = strengths ?? betas;
const rows: RgbImage[][] = [[fromPlanar(content), fromPlanar(style)]];
console.log(`\n| network | ${knob} | β | content SSIM | style distance | colour distance | final loss | s |\n|---|---|---|---|---|---|---|---|`);
for (const name of nets) {
  const base = await NET_OPTIONS[name]!();
  const row: RgbImage[] = [];
  for (const v of values) {
    const t0 = performance.now();
    let beta = NaN;
    const r = await stylize({
      content: fromPlanar(content), style: fromPlanar(style), size, iterations, ...base, ...extra,
      ...(contentLayers ? { contentLayers } : {}),
      ...(strengths ? { strength: v } : { styleWeight: v }),
    } as never, { engine, onEvent: (e) => { if (e.type === 'start') beta = e.styleWeight; } });
    const img = toPlanar(r.image);
    const ssim = ssimLuma(img, content);
    const sd = await styleDistance(engine, judge, judgeLayers, img, style);
    const cd = histogramDistance(img, style);
    console.log(`| ${name} | ${v} | ${Number(beta.toPrecision(3))} | ${ssim.toFixed(3)} | ${sd.toFixed(4)} | ${cd.toFixed(3)} | ${r.loss.toExponential(3)} | ${((performance.now() - t0) / 1000).toFixed(0)} |`);
    row.push(r.image);
    await writeImage(`${outDir}strength-${tag}-${name}-${v}.png`, r.image);
  }
  rows.push(row);
}

const file = `${outDir}strength-${tag}.png`;
await contactSheet(file, rows, 192);
console.log(`\nwrote ${file}: first row photo, painting; then one row per network (${nets.join(', ')}), one column per ${knob} (${values.join(', ')})`);
