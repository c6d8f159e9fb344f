/**
 * Optimiser benchmark: loss reached per objective evaluation, on a real stylisation problem.
 * Compares L-BFGS with the strong-Wolfe line search, L-BFGS with Torch's fixed unit step, and
 * Adam (lr 2 and 8 pixel units), at an equal evaluation budget, from the same content init.
 *
 * Network: seeded random VGG-19 (Caffe preprocessing) unless --weights is given; images from
 * tests/fixtures/images. Prints the loss after each checkpoint and the ratios against strong-Wolfe.
 *
 * With `--bounds`, instead: L-BFGS and Adam without box constraints, with the per-step clamp and
 * with the projected method (optimizers/types.ts `Bounds`), each scored by the loss of the image
 * it would write: its result rounded to 8 bits in 0–255.
 *
 * With `--pyramid LEVELS`, instead: is the optimiser slow on the image's low frequencies, which a
 * coarse-to-fine run solves first? L-BFGS on the pixels against L-BFGS on a pyramid
 * parameterisation x = Σ_k s^k · up_k(z_k), k = 0…LEVELS−1, where z_k is a [3, ⌈H/2^k⌉, ⌈W/2^k⌉]
 * image, up_k repeats each of its pixels over a 2^k × 2^k block (nearest neighbour, cropped to
 * H×W), and s is `--decay` (a list; 1: a unit step on z_k moves a block-constant pattern 4^k
 * times as far as the same step on the pixels would). The gradient is the adjoint,
 * ∂L/∂z_k = s^k · (block sums of ∂L/∂x). It starts at z_0 = the content, z_k = 0 for k > 0, so
 * both start from the same image; this changes the optimiser's path, not the objective. Neither
 * run has box constraints (a box on x is not a box on z), so both are scored, as with `--bounds`,
 * by the loss of the 8-bit file.
 *
 * Usage: npx tsx bench/optimizers.ts [--size 192] [--evals 100] [--weights FILE | --network offline]
 *        [--preset paper] [--content tubingen.jpg] [--style starry_night.jpg]
 *        [--bounds | --pyramid 5 [--decay 1,0.5]]
 */
import { fileURLToPath } from 'node:url';
import { resolveEngine } from '../src/engine/index.js';
import { adam } from '../src/optimizers/adam.js';
import { lbfgs, Objective } from '../src/optimizers/lbfgs.js';
import { prepareProblem } from '../src/pipeline/prepare.js';
import type { PresetName } from '../src/losses/presets.js';
import { args, opt } from './common.js';

const size = Number(opt('size', '192'));
const evals = Number(opt('evals', '100'));
const images = fileURLToPath(new URL('../tests/fixtures/images/', import.meta.url));

const weightsPath = opt('weights', '');
const preset = opt('preset', 'paper') as PresetName;
// The pipeline's own set-up (prepare.ts), as `stylize` runs it, with --preset; content init.
const { problem, content: withContent, net } = await prepareProblem({
  content: images + opt('content', 'tubingen.jpg'), style: images + opt('style', 'starry_night.jpg'), size,
  ...(weightsPath ? { weights: weightsPath } : { network: opt('network', 'random-vgg19') as 'random-vgg19', seed: 0 }), preset,
}, { engine: await resolveEngine() });
const content = withContent!; // given above, so never null

const checkpoints = [10, 25, 50, 100, 200, 400].filter((c) => c <= evals);
if (!checkpoints.includes(evals)) checkpoints.push(evals);

/** Runs one optimiser and records the best loss seen after each evaluation count. */
async function trace(name: string, run: (f: Objective) => Promise<unknown>): Promise<Map<number, number>> {
  let n = 0;
  let best = Infinity;
  const at = new Map<number, number>();
  const f: Objective = async (x) => {
    const ev = await problem.evaluate(x);
    n++;
    if (ev.loss < best) best = ev.loss;
    if (checkpoints.includes(n)) at.set(n, best);
    return ev;
  };
  const t0 = performance.now();
  await run(f);
  console.log(`${name.padEnd(26)} ${checkpoints.map((c) => (at.get(c) ?? NaN).toExponential(3).padStart(10)).join(' ')}   (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return at;
}

/** The loss of the 8-bit image that would be written from x. */
const fileLoss = async (x: Float32Array) => (await problem.evaluate(Float32Array.from(x, (v) => Math.round(Math.min(255, Math.max(0, v)))))).loss;

if (args.includes('--bounds')) {
  const x0 = Float32Array.from(content.data);
  console.log(`${content.width}×${content.height}, preset ${preset}, ${net.description}, ${evals} evaluations; content init ${(await problem.evaluate(x0)).loss.toExponential(4)}`);
  console.log('| optimiser | bounds | optimiser\'s loss | loss of the 8-bit file | out of 0–255 | s |\n|---|---|---|---|---|---|');
  for (const name of ['lbfgs', 'adam'] as const) {
    for (const mode of ['none', 'clamp', 'project'] as const) {
      const t0 = performance.now();
      const bounds = mode === 'none' ? undefined : { lower: 0, upper: 255, mode };
      const f: Objective = (x) => problem.evaluate(x);
      const r = name === 'lbfgs' ? await lbfgs(f, x0, { maxEvals: evals, bounds }) : await adam(f, x0, { maxEvals: evals, bounds, lr: 2 });
      const outside = r.x.reduce((a, v) => a + (v < 0 || v > 255 ? 1 : 0), 0) / r.x.length;
      console.log(`| ${name} | ${mode} | ${r.loss.toExponential(4)} | ${(await fileLoss(r.x)).toExponential(4)} | ${(100 * outside).toFixed(1)} % | ${((performance.now() - t0) / 1000).toFixed(0)} |`);
    }
  }
  await problem.dispose();
  process.exit(0);
}

if (args.includes('--pyramid')) {
  const { width: W, height: H } = content;
  const n = W * H;
  const levels = Number(opt('pyramid', '5'));
  /** Level k's size and its offset in z. */
  const dims: { w: number; h: number; offset: number }[] = [];
  let total = 0;
  for (let k = 0; k < levels; k++) {
    const w = Math.ceil(W / 2 ** k), h = Math.ceil(H / 2 ** k);
    dims.push({ w, h, offset: total });
    total += 3 * w * h;
  }
  /** x = Σ_k s^k · up_k(z_k). */
  const synth = (z: Float32Array, s: number): Float32Array => {
    const x = new Float32Array(3 * n);
    for (const [k, d] of dims.entries()) {
      const f = s ** k;
      for (let c = 0; c < 3; c++) for (let i = 0; i < H; i++) {
        const row = d.offset + c * d.w * d.h + (i >> k) * d.w;
        for (let j = 0; j < W; j++) x[c * n + i * W + j] += f * z[row + (j >> k)]!;
      }
    }
    return x;
  };
  /** ∂L/∂z from ∂L/∂x: the adjoint of `synth`. */
  const adjoint = (g: Float32Array, s: number): Float32Array => {
    const z = new Float32Array(total);
    for (const [k, d] of dims.entries()) {
      const f = s ** k;
      for (let c = 0; c < 3; c++) for (let i = 0; i < H; i++) {
        const row = d.offset + c * d.w * d.h + (i >> k) * d.w;
        for (let j = 0; j < W; j++) z[row + (j >> k)] += f * g[c * n + i * W + j]!;
      }
    }
    return z;
  };
  const x0 = Float32Array.from(content.data);
  console.log(`${W}×${H}, preset ${preset}, ${net.description}, no box; best loss after N evaluations, and the loss of the 8-bit file`);
  console.log(`${'parameters'.padEnd(26)} ${checkpoints.map((c) => String(c).padStart(10)).join(' ')}`);
  const last = checkpoints.at(-1)!;
  let xPixels: Float32Array = x0;
  const base = await trace('pixels', async (f) => { xPixels = (await lbfgs(f, x0, { maxEvals: evals })).x; });
  console.log(`${''.padEnd(26)} file ${(await fileLoss(xPixels)).toExponential(4)}`);
  for (const s of opt('decay', '1,0.5').split(',').map(Number)) {
    const z0 = new Float32Array(total);
    z0.set(x0, 0);
    let z: Float32Array = z0;
    const at = await trace(`pyramid ${levels}, s = ${s}`, async (f) => {
      z = (await lbfgs(async (v) => { const ev = await f(synth(v, s)); return { ...ev, grad: adjoint(ev.grad, s) }; }, z0, { maxEvals: evals })).x;
    });
    console.log(`${''.padEnd(26)} file ${(await fileLoss(synth(z, s))).toExponential(4)}; at ${last} evaluations ${(at.get(last)! / base.get(last)!).toFixed(3)}× the pixels' loss`);
  }
  await problem.dispose();
  process.exit(0);
}

console.log(`${content.width}×${content.height}, preset ${preset}, ${net.description}; best loss after N evaluations (content init ${(await problem.evaluate(content.data)).loss.toExponential(3)})`);
console.log(`${'optimiser'.padEnd(26)} ${checkpoints.map((c) => String(c).padStart(10)).join(' ')}`);
const x0 = Float32Array.from(content.data);
const wolfe = await trace('L-BFGS strong Wolfe', (f) => lbfgs(f, x0, { maxEvals: evals }));
const fixed = await trace('L-BFGS fixed step (Torch)', (f) => lbfgs(f, x0, { maxEvals: evals, lineSearch: 'fixed' }));
const adam2 = await trace('Adam lr 2', (f) => adam(f, x0, { maxEvals: evals, lr: 2 }));
const adam8 = await trace('Adam lr 8', (f) => adam(f, x0, { maxEvals: evals, lr: 8 }));
const last = checkpoints.at(-1)!;
console.log(`\nat ${last} evaluations, loss relative to L-BFGS strong Wolfe: fixed step ${(fixed.get(last)! / wolfe.get(last)!).toFixed(2)}×, ` +
  `Adam lr 2 ${(adam2.get(last)! / wolfe.get(last)!).toFixed(2)}×, Adam lr 8 ${(adam8.get(last)! / wolfe.get(last)!).toFixed(2)}×`);
await problem.dispose();
