/**
 * Coarse-to-fine against single-scale, and the defaults of iterate averaging, the tolerance stop
 * and Adam's moments across scales.
 *
 * Every run is a library `stylize` on Tübingen × The Starry Night (tests/fixtures/images) at
 * --size (default 512), timed by the wall clock in this process. Its `loss` is the loss of the
 * written 8-bit image under the final size's objective: what `impasto score` of the PNG reports
 * (tests/pipeline/first-hour.test.ts checks that equality), so every run is scored alike at the
 * final size. Networks: `vgg` is a seeded random VGG-19 written to out/ as a safetensors file
 * (torchvision convention), `offline` the embedded untrained network, `file:PATH` a weight file of
 * one's own (any format `impasto --weights` reads: with the trained Keras or torchvision VGG-19, the
 * compare experiment measures issue 12's target on the network it was set for).
 *
 * Experiments (--experiment):
 *   compare   single-scale at the final size with 300 evaluations (the baseline) against
 *             coarse-to-fine (--min-size 128, √2) with --per-scale iterations each (a list),
 *             and against single-scale with each of --single evaluations (a list, default none:
 *             shorter single-scale runs, to set beside coarse-to-fine at equal time)
 *   history   L-BFGS's correction pairs: single-scale (300 evaluations) and coarse-to-fine
 *             (--per-scale iterations each) with each of --histories pairs (a list; its first
 *             entry, default 20 = LBFGS_DEFAULTS.history, is the baseline)
 *   average   coarse-to-fine with --average 0, 0.9, 0.99 (and --optimizer)
 *   tolerance coarse-to-fine with --tolerance 0, 1e-3, 3e-3, 1e-2
 *   moments   Adam, coarse-to-fine, moments reset against resized
 *   trajectory  does coarse-to-fine give the final scale a head start? The loss after each
 *             step of single-scale (from the content, --budget evaluations), beside the loss after
 *             each step of the final scale of coarse-to-fine (--per-scale steps a coarse scale,
 *             then the final scale with --budget evaluations, started from the last coarse
 *             result, upsampled bicubically as stylize does), each with its wall time, the coarse
 *             scales' included, and the first step (if any) at which the final scale's loss is at
 *             or below single scale's last (--c2f-budget evaluations for the final scale, default
 *             --budget). (The coarse result enters as its 8-bit image, through the
 *             library's `frame.start`: the library carries float pixels, a difference of at most
 *             half a level.)
 *   preview   does a small preview look like the full-size result? Previews at 128 and 256 px
 *             (each its own run, as a user would preview) against the --size result shrunk to
 *             each preview's size: luminance SSIM between them, and each one's style distance
 *             to the painting under an independent judge (a VGG-19 of other random weights,
 *             seed 7, metrics/quality.ts), beside the photo's own distance
 * Prints a table per network with each run's loss, time, iterations and evaluations, and the
 * ratios to the first row (the baseline of that experiment, measured in the same run); writes
 * each image to out/scales-<experiment>-<network>-<row>.png.
 *
 * Usage: npx tsx bench/scales.ts [--experiment compare] [--networks vgg,offline,file:PATH] [--size 512]
 *        [--per-scale 50,100] [--single 100,150] [--histories 20,50,100] [--factor 1.414] [--optimizer lbfgs] [--budget 300] [--c2f-budget 300]
 */
import path from 'node:path';
import { readImage, resizeImage, toPlanar, writeImage, type RgbImage } from '../src/image/io-node.js';
import { resolveEngine } from '../src/engine/index.js';
import { styleDistance, ssimLuma } from '../src/metrics/quality.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import { stylize, type StylizeEvent, type StylizeResult } from '../src/pipeline/stylize.js';
import { scaleSizes } from '../src/pipeline/plan.js';
import { resizeBicubic } from '../src/image/resample.js';
import type { StylizeOptions } from '../src/pipeline/options.js';
import { images, opt, outDir, randomFile } from './common.js';

const experiment = opt('experiment', 'compare');
const size = Number(opt('size', '512'));
const networks = opt('networks', 'vgg,offline').split(',');

/**
 * A --networks entry as stylize's options: `vgg` a seeded random VGG-19 (a safetensors file written
 * to out/), `offline` the embedded untrained network, `file:PATH` a weight file of any format
 * `impasto --weights` reads (e.g. the trained Keras VGG-19, for a machine that has it).
 */
async function networkOptions(network: string): Promise<Partial<StylizeOptions>> {
  if (network === 'vgg') return { weights: await randomFile('torchvision') };
  if (network === 'offline') return { network: 'offline' };
  return { weights: path.resolve(network.slice('file:'.length)) }; // file:PATH (the list is checked below)
}
for (const n of networks) if (!['vgg', 'offline'].includes(n) && !n.startsWith('file:')) throw new Error(`--networks: unknown entry '${n}' (vgg, offline or file:PATH)`);
/** A --networks entry as a part of an output file's name. */
const label = (network: string) => (network.startsWith('file:') ? path.basename(network).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]/g, '_') : network);
const perScale = opt('per-scale', '50,100').split(',').map(Number);
const optimizer = opt('optimizer', 'lbfgs') as StylizeOptions['optimizer'];
const scaleFactor = Number(opt('factor', String(Math.SQRT2)));
const shortSingle = opt('single', '').split(',').filter(Boolean).map(Number);
const content = path.join(images, 'tubingen.jpg');
const style = path.join(images, 'starry_night.jpg');

type Row = { name: string; options: Partial<StylizeOptions> };
function rows(): Row[] {
  const c2f = (iterations: number): Partial<StylizeOptions> => ({ minSize: 128, scaleFactor, iterations, optimizer });
  const defaultPerScale = perScale[0]!;
  switch (experiment) {
    case 'compare':
      return [
        { name: 'single scale, 300 evaluations', options: { minSize: size, iterations: 10_000, maxEvaluations: 300, optimizer } },
        ...perScale.map((n) => ({ name: `coarse-to-fine, ${n} per scale`, options: c2f(n) })),
        ...shortSingle.map((n) => ({ name: `single scale, ${n} evaluations`, options: { minSize: size, iterations: 10_000, maxEvaluations: n, optimizer } })),
      ];
    case 'history': {
      const histories = opt('histories', '20,50,100').split(',').map(Number);
      return [
        ...histories.map((history) => ({ name: `single scale, 300 evals, ${history} pairs`, options: { minSize: size, iterations: 10_000, maxEvaluations: 300, optimizer, history } })),
        ...histories.map((history) => ({ name: `coarse-to-fine, ${defaultPerScale}/scale, ${history} pairs`, options: { ...c2f(defaultPerScale), history } })),
      ];
    }
    case 'average':
      return [0, 0.9, 0.99].map((d) => ({ name: `average ${d}`, options: { ...c2f(defaultPerScale), average: d } }));
    case 'tolerance':
      return [0, 1e-3, 3e-3, 1e-2].map((t) => ({ name: `tolerance ${t}`, options: { ...c2f(defaultPerScale), tolerance: t } }));
    case 'moments':
      return (['reset', 'resize'] as const).map((m) => ({ name: `adam, moments ${m}`, options: { ...c2f(defaultPerScale), optimizer: 'adam' as const, adamMoments: m } }));
    default:
      throw new Error(`unknown --experiment ${experiment}`);
  }
}

if (experiment === 'trajectory') {
  const budget = Number(opt('budget', '300'));
  const c2fBudget = Number(opt('c2f-budget', String(budget)));
  const steps = [1, 10, 25, 50, 100, 150, 200, 250, 300, 400, 500, 600, 800, 1000].filter((n) => n <= Math.max(budget, c2fBudget));
  for (const network of networks) {
    const net = await networkOptions(network);
    // loss and seconds after each step of a run's last scale, from its events
    const record = (t0: number, into: Map<number, { loss: number; secs: number }>, last: { scale: number }) => (e: StylizeEvent) => {
      if (e.type === 'start') last.scale = e.scales.length - 1;
      if (e.type === 'iterate' && e.scale === last.scale) into.set(e.scaleIteration, { loss: e.loss, secs: (performance.now() - t0) / 1000 });
    };
    const single = new Map<number, { loss: number; secs: number }>();
    let t0 = performance.now();
    const s1 = await stylize({ content, style, size, ...net, minSize: size, iterations: 100_000, maxEvaluations: budget, optimizer }, { onEvent: record(t0, single, { scale: 0 }) });
    // the coarse scales: the run that stylize would make up to its second-to-last scale
    const sides = scaleSizes({ width: s1.image.width, height: s1.image.height }, { minSize: 128, scaleFactor }, 1).map((d) => Math.max(d.width, d.height));
    const coarseSide = sides[sides.length - 2]!;
    const c2f = new Map<number, { loss: number; secs: number }>();
    t0 = performance.now();
    const coarse = await stylize({ content, style, size: coarseSide, ...net, minSize: 128, scaleFactor, iterations: perScale[0]!, optimizer });
    const coarseSecs = (performance.now() - t0) / 1000;
    // (stylize clips a frame's start into 0–255, as it does each upsampled scale)
    const start = resizeBicubic(toPlanar(coarse.image).data, 3, coarse.image.width, coarse.image.height, s1.image.width, s1.image.height);
    const s2 = await stylize({ content, style, size, ...net, minSize: size, iterations: 100_000, maxEvaluations: c2fBudget, optimizer }, { frame: { start }, onEvent: record(t0, c2f, { scale: 0 }) });
    console.log(`\ntrajectory, ${network}, ${size} px: scales ${sides.join(', ')}; the coarse ones ${perScale[0]} steps each, ${coarseSecs.toFixed(1)} s`);
    console.log(`${'step'.padEnd(6)} ${'single: loss'.padEnd(13)} ${'time s'.padEnd(8)} ${'c2f final scale: loss'.padEnd(22)} ${'time s'.padEnd(8)} loss ratio`);
    const lastSingle = Math.max(...single.keys());
    for (const n of [...new Set([...steps, lastSingle, Math.max(...c2f.keys())])].sort((x, y) => x - y)) {
      const a = single.get(n);
      const b = c2f.get(n);
      if (!a && !b) continue;
      const cell = (r: { loss: number; secs: number } | undefined, w: number) => (r ? `${r.loss.toExponential(4).padEnd(w)} ${r.secs.toFixed(1).padEnd(8)}` : `${'–'.padEnd(w)} ${'–'.padEnd(8)}`);
      console.log(`${String(n).padEnd(6)} ${cell(a, 13)} ${cell(b, 22)} ${a && b ? (b.loss / a.loss).toFixed(4) : '–'}`);
    }
    // the first step of the final scale whose loss is at or below single scale's last one
    const goal = single.get(lastSingle)!;
    const reached = [...c2f.entries()].sort(([x], [y]) => x - y).find(([, r]) => r.loss <= goal.loss);
    console.log(reached
      ? `coarse-to-fine's final scale reaches single scale's last loss (${goal.loss.toExponential(4)}, step ${lastSingle}, ${goal.secs.toFixed(1)} s) at its step ${reached[0]}, ${reached[1].secs.toFixed(1)} s with the coarse scales: ×${(reached[1].secs / goal.secs).toFixed(3)} the time`
      : `coarse-to-fine's final scale does not reach single scale's last loss (${goal.loss.toExponential(4)}): its lowest is ${Math.min(...[...c2f.values()].map((r) => r.loss)).toExponential(4)}, and it stopped after ${s2.evaluations} of ${c2fBudget} evaluations (${s2.stopReason})`);
    console.log(`written images: single ${s1.loss.toExponential(4)} (${s1.evaluations} evaluations), coarse-to-fine ${s2.loss.toExponential(4)} (${s2.evaluations} at the final scale): ×${(s2.loss / s1.loss).toFixed(4)}`);
    await writeImage(path.join(outDir, `scales-trajectory-${label(network)}-single.png`), s1.image);
    await writeImage(path.join(outDir, `scales-trajectory-${label(network)}-c2f.png`), s2.image);
  }
  process.exit(0);
}

if (experiment === 'preview') {
  const engine = await resolveEngine();
  const judge = vggNet(randomVggWeights('vgg19', 7), 'avg');
  const judgeLayers = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1'];
  const sized = async (img: RgbImage | string, w: number, h: number) => toPlanar(await resizeImage(typeof img === 'string' ? await readImage(img) : img, w, h));
  for (const network of networks) {
    const net = await networkOptions(network);
    const full = await stylize({ content, style, size, ...net, iterations: perScale[0]! });
    console.log(`\npreview, ${network}: the ${size}-px result (${perScale[0]} per scale) against previews`);
    for (const p of [128, 256]) {
      const preview = await stylize({ content, style, size: p, ...net, iterations: perScale[0]! });
      const { width, height } = preview.image;
      const shrunk = await sized(full.image, width, height);
      const prev = toPlanar(preview.image);
      const paint = await sized(style, width, height);
      const photo = await sized(content, width, height);
      const d = async (img: typeof prev) => (await styleDistance(engine, judge, judgeLayers, img, paint)).toFixed(4);
      console.log(`${p} px: SSIM(preview, result shrunk) ${ssimLuma(prev, shrunk).toFixed(3)}, SSIM(photo, result shrunk) ${ssimLuma(photo, shrunk).toFixed(3)}; style distance: preview ${await d(prev)}, result shrunk ${await d(shrunk)}, photo ${await d(photo)}`);
      await writeImage(path.join(outDir, `scales-preview-${label(network)}-${p}.png`), preview.image);
    }
    await writeImage(path.join(outDir, `scales-preview-${label(network)}-${size}.png`), full.image);
  }
  process.exit(0);
}

for (const network of networks) {
  const net = await networkOptions(network);
  console.log(`\n${experiment}, ${network}, ${size} px`);
  console.log(`${'run'.padEnd(34)} ${'loss'.padEnd(11)} ${'vs first'.padEnd(9)} ${'time s'.padEnd(8)} ${'vs first'.padEnd(9)} iterations  evaluations  stops`);
  let base: { loss: number; secs: number } | null = null;
  for (const [i, row] of rows().entries()) {
    const t0 = performance.now();
    const r: StylizeResult = await stylize({ content, style, size, ...net, ...row.options });
    const secs = (performance.now() - t0) / 1000;
    base ??= { loss: r.loss, secs };
    await writeImage(path.join(outDir, `scales-${experiment}-${label(network)}-${i}.png`), r.image);
    const stops = r.scales.map((s) => `${s.width}:${s.iterations}${s.stopReason === 'converged' ? 'c' : ''}`).join(' ');
    console.log(`${row.name.padEnd(34)} ${r.loss.toExponential(4).padEnd(11)} ${(r.loss / base.loss).toFixed(3).padEnd(9)} ${secs.toFixed(1).padEnd(8)} ${(secs / base.secs).toFixed(3).padEnd(9)} ${String(r.iterations).padEnd(11)} ${String(r.evaluations).padEnd(12)} ${stops}`);
  }
}
