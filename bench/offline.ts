/**
 * Offline-tier measurements (issue: untrained feature network as the embedded default).
 *
 *   npx tsx bench/offline.ts texture  [--size 256] [--evals 200] [--nets pyramid,vgg19,...]
 *       Texture synthesis from each committed painting (style loss only, noise init). For each
 *       candidate network: the style distance of the result under two independent networks
 *       (another seed and architecture), against a colour-matched Gaussian noise baseline.
 *       Writes out/texture-sheet.png: one row per painting, columns = painting, noise baseline,
 *       then one per candidate.
 *   npx tsx bench/offline.ts transfer [--size 384] [--evals 200]
 *       Style transfer with the default offline network on the committed photo × each painting:
 *       content SSIM, style distance (independent network), colour-histogram distance to the
 *       painting, time. Writes out/transfer-sheet.png: one row per photo, one column per painting.
 *   npx tsx bench/offline.ts cost [--sizes 256,512]
 *       Time per loss+gradient evaluation of the default offline network, random VGG-19 and the
 *       8-scale (3…55 px) multi-scale baseline.
 */
import { resolveEngine } from '../src/engine/index.js';
import { fromPlanar, readImage, resizeImage, toPlanar } from '../src/image/io-node.js';
import { autoNormalise } from '../src/losses/objective.js';
import { contentUnit } from '../src/losses/content.js';
import { gramStyle } from '../src/losses/gram-style.js';
import { styleDistance, ssimLuma, histogramDistance } from '../src/metrics/quality.js';
import type { FeatureNet } from '../src/networks/feature-net.js';
import { DEFAULT_UNTRAINED, untrainedNet, UntrainedConfig } from '../src/networks/untrained.js';
import { randomVggWeights, vggNet } from '../src/networks/vgg.js';
import { lbfgs } from '../src/optimizers/lbfgs.js';
import { computeTargets, Image255, StyleProblem } from '../src/pipeline/problem.js';
import { planSize } from '../src/pipeline/stylize.js';
import { colourMatchedNoise } from '../src/image/color-match.js';
import { args, contactSheet, images, opt, outDir } from './common.js';

const PAINTINGS = ['starry_night.jpg', 'the_scream.jpg', 'shipwreck.jpg', 'woman-with-hat-matisse.jpg'];
const PHOTOS = ['tubingen.jpg'];
const engine = await resolveEngine();

/** Candidate networks by name. */
const CANDIDATES: Record<string, () => { net: FeatureNet; style: string[]; content: string[] }> = {
  default: () => withDefaults(untrainedNet(DEFAULT_UNTRAINED)),
  vgg19: () => ({ net: vggNet(randomVggWeights('vgg19', 0), 'avg'), style: ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'], content: ['relu4_2'] }),
  'pyr-k3': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 6, kernel: 3, filters: 128, seed: 0 })),
  'pyr-k5': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 6, kernel: 5, filters: 128, seed: 0 })),
  'pyr-k7': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 6, kernel: 7, filters: 128, seed: 0 })),
  'pyr-k5-f64': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 6, kernel: 5, filters: 64, seed: 0 })),
  'pyr-k5-l5': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 5, kernel: 5, filters: 128, seed: 0 })),
  'pyr-k5-noblur': () => withDefaults(untrainedNet({ kind: 'pyramid', levels: 6, kernel: 5, filters: 128, seed: 0, blur: false })),
  'ms-3-23': () => withDefaults(untrainedNet({ kind: 'multiscale', sizes: [3, 5, 7, 11, 15, 23], filters: 128, seed: 0 })),
};

function withDefaults(net: FeatureNet) {
  return { net, style: net.defaults!.style.map((s) => s.layer), content: net.defaults!.content.map((c) => c.layer) };
}

/** Independent evaluators: other seeds and other architectures than any candidate. */
const EVALUATORS: { name: string; net: FeatureNet; layers: string[] }[] = [
  { name: 'VGG-19 seed 7', net: vggNet(randomVggWeights('vgg19', 7), 'avg'), layers: ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'] },
  { name: 'multiscale seed 99', net: untrainedNet({ kind: 'multiscale', sizes: [3, 9, 17, 33], filters: 64, seed: 99 }), layers: ['ms3', 'ms9', 'ms17', 'ms33'] },
];

async function load(file: string, size: number): Promise<Image255> {
  const raw = await readImage(images + file);
  const s = planSize(raw, { size });
  return toPlanar(await resizeImage(raw, s.width, s.height));
}


interface Run {
  image: Image255;
  seconds: number;
  evals: number;
}

/** Style transfer (or texture synthesis when `content` weight α = 0) with a candidate. */
async function optimise(c: ReturnType<(typeof CANDIDATES)[string]>, content: Image255, style: Image255, init: Float32Array, alpha: number, beta: number, evals: number): Promise<Run> {
  const spec0 = {
    net: c.net, width: content.width, height: content.height,
    content: c.content.map((layer) => ({ unit: contentUnit('half-sum'), layer, weight: 1 })),
    style: c.style.map((layer) => ({ unit: gramStyle('paper'), layer, weight: 1 / c.style.length })),
    alpha, beta, gamma: 0, tv: 'l2' as const,
  };
  const t0 = performance.now();
  const targeted = await computeTargets(engine, spec0, content, [{ image: style, weight: 1 }]);
  const problem = await StyleProblem.create(engine, autoNormalise(targeted));
  const r = await lbfgs((x) => problem.evaluate(x), init, { maxEvals: evals });
  await problem.dispose();
  return { image: { data: r.x, width: content.width, height: content.height }, seconds: (performance.now() - t0) / 1000, evals: r.evaluations };
}

async function distances(img: Image255, style: Image255): Promise<number[]> {
  const out: number[] = [];
  for (const e of EVALUATORS) out.push(await styleDistance(engine, e.net, e.layers, img, style));
  return out;
}


const fmt = (v: number) => v.toExponential(2).padStart(9);

async function texture() {
  const size = Number(opt('size', '256'));
  const evals = Number(opt('evals', '200'));
  const names = opt('nets', 'default,vgg19').split(',');
  console.log(`texture synthesis at ${size} px, ${evals} L-BFGS evaluations from seeded noise; style distance = mean relative Gram error under ${EVALUATORS.map((e) => e.name).join(' | ')}`);
  const rows: Image255[][] = [];
  const ratios: Record<string, number[][]> = {};
  for (const p of PAINTINGS) {
    const style = await load(p, size);
    const noise = colourMatchedNoise(style, 1);
    const base = await distances(noise, style);
    console.log(`\n${p} (${style.width}×${style.height}): colour-matched noise ${base.map(fmt).join(' |')}`);
    const row = [style, noise];
    for (const name of names) {
      const c = CANDIDATES[name]!();
      const r = await optimise(c, style, style, Float32Array.from(noise.data), 0, 1, evals);
      const d = await distances(r.image, style);
      (ratios[name] ??= []).push(base.map((b, i) => b / d[i]!));
      console.log(`  ${name.padEnd(12)} ${d.map(fmt).join(' |')}   ${base.map((b, i) => `${(b / d[i]!).toFixed(1)}× lower`).join(', ')}   ${r.seconds.toFixed(1)} s`);
      row.push(r.image);
    }
    rows.push(row);
  }
  console.log('\nworst ratio over paintings (noise distance / result distance), per evaluator:');
  for (const [name, rs] of Object.entries(ratios)) console.log(`  ${name.padEnd(12)} ${EVALUATORS.map((_, i) => Math.min(...rs.map((r) => r[i]!)).toFixed(1)).join(' | ')}`);
  await contactSheet(`${outDir}texture-sheet.png`, rows.map((r) => r.map(fromPlanar)), 192);
  console.log(`\nwrote ${outDir}texture-sheet.png (rows: ${PAINTINGS.join(', ')}; columns: painting, noise, ${names.join(', ')})`);
}

async function transfer() {
  const size = Number(opt('size', '384'));
  const evals = Number(opt('evals', '200'));
  const beta = Number(opt('beta', '1000'));
  const name = opt('net', 'default');
  console.log(`style transfer at ${size} px with '${name}', α = 1, β = ${beta} (auto-normalised terms), ${evals} L-BFGS evaluations from the photo`);
  console.log(`${'photo × painting'.padEnd(44)} ${'SSIM'.padStart(6)} ${'style d (VGG-19 s7)'.padStart(20)} ${'photo d'.padStart(9)} ${'hist d'.padStart(7)} ${'photo h'.padStart(8)} ${'time'.padStart(7)}`);
  const rows: Image255[][] = [];
  const header: Image255[] = [];
  for (const p of PAINTINGS) header.push(await load(p, size));
  rows.push([{ data: new Float32Array(3 * 4).fill(255), width: 2, height: 2 }, ...header]);
  for (const photo of PHOTOS) {
    const content = await load(photo, size);
    const row: Image255[] = [content];
    for (const p of PAINTINGS) {
      const style = await load(p, size);
      const c = CANDIDATES[name]!();
      const r = await optimise(c, content, style, Float32Array.from(content.data), 1, beta, evals);
      const ev = EVALUATORS[0]!;
      const d = await styleDistance(engine, ev.net, ev.layers, r.image, style);
      const d0 = await styleDistance(engine, ev.net, ev.layers, content, style);
      console.log(`${`${photo} × ${p}`.padEnd(44)} ${ssimLuma(r.image, content).toFixed(3).padStart(6)} ${fmt(d).padStart(20)} ${fmt(d0)} ${histogramDistance(r.image, style).toFixed(3).padStart(7)} ${histogramDistance(content, style).toFixed(3).padStart(8)} ${r.seconds.toFixed(1).padStart(6)}s`);
      row.push(r.image);
    }
    rows.push(row);
  }
  await contactSheet(`${outDir}transfer-sheet.png`, rows.map((r) => r.map(fromPlanar)), 256);
  console.log(`\nwrote ${outDir}transfer-sheet.png (first row: the paintings; then one row per photo: photo, then its result with each painting). "photo d" and "photo h" are the photo's own distances, for scale.`);
}

async function cost() {
  const sizes = opt('sizes', '256,512').split(',').map(Number);
  const nets: [string, UntrainedConfig | 'vgg19'][] = [
    ['default offline network', DEFAULT_UNTRAINED],
    ['random VGG-19 (relu1_1…5_1, relu4_2)', 'vgg19'],
    ['multi-scale 3…55 px × 128', { kind: 'multiscale', sizes: [3, 5, 7, 11, 15, 23, 37, 55], filters: 128, seed: 0 }],
  ];
  for (const size of sizes) {
    const sq = toPlanar(await resizeImage(await readImage(`${images}tubingen.jpg`), size, size));
    const times: number[] = [];
    for (const [label, cfg] of nets) {
      const c = cfg === 'vgg19' ? CANDIDATES.vgg19!() : withDefaults(untrainedNet(cfg));
      const spec = {
        net: c.net, width: size, height: size,
        content: c.content.map((layer) => ({ unit: contentUnit('half-sum'), layer, weight: 1 })), style: c.style.map((layer) => ({ unit: gramStyle('paper'), layer, weight: 1 })),
        alpha: 1, beta: 1, gamma: 0, tv: 'l2' as const,
      };
      const targeted = await computeTargets(engine, spec, sq, [{ image: sq, weight: 1 }]);
      const problem = await StyleProblem.create(engine, targeted);
      await problem.evaluate(sq.data);
      const ts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await problem.evaluate(sq.data);
        ts.push((performance.now() - t0) / 1000);
      }
      await problem.dispose();
      ts.sort((a, b) => a - b);
      times.push(ts[1]!);
      console.log(`${size}²  ${label.padEnd(40)} ${ts[1]!.toFixed(3)} s per loss+gradient evaluation${times.length > 1 ? `  (default is ${(ts[1]! / times[0]!).toFixed(1)}× faster)` : ''}`);
    }
  }
}

const mode = args[0];
if (mode === 'texture') await texture();
else if (mode === 'transfer') await transfer();
else if (mode === 'cost') await cost();
else console.log('usage: npx tsx bench/offline.ts texture|transfer|cost [options]');
