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
 * Usage: npx tsx bench/optimizers.ts [--size 192] [--evals 100] [--weights FILE | --network offline]
 *        [--content tubingen.jpg] [--style starry_night.jpg] [--bounds]
 */
import { fileURLToPath } from 'node:url';
import { resolveEngine } from '../src/engine/index.js';
import { adam } from '../src/optimizers/adam.js';
import { lbfgs, Objective } from '../src/optimizers/lbfgs.js';
import { prepareProblem } from '../src/pipeline/prepare.js';
import { args, opt } from './common.js';

const size = Number(opt('size', '192'));
const evals = Number(opt('evals', '100'));
const images = fileURLToPath(new URL('../tests/fixtures/images/', import.meta.url));

const weightsPath = opt('weights', '');
// The pipeline's own set-up (prepare.ts), as `stylize` runs it: paper preset, content init.
const { problem, content: withContent, net } = await prepareProblem({
  content: images + opt('content', 'tubingen.jpg'), style: images + opt('style', 'starry_night.jpg'), size,
  ...(weightsPath ? { weights: weightsPath } : { network: opt('network', 'random-vgg19') as 'random-vgg19', seed: 0 }), preset: 'paper',
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

if (args.includes('--bounds')) {
  /** The loss of the 8-bit image that would be written from x. */
  const fileLoss = async (x: Float32Array) => (await problem.evaluate(Float32Array.from(x, (v) => Math.round(Math.min(255, Math.max(0, v)))))).loss;
  const x0 = Float32Array.from(content.data);
  console.log(`${content.width}×${content.height}, preset paper, ${net.description}, ${evals} evaluations; content init ${(await problem.evaluate(x0)).loss.toExponential(4)}`);
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

console.log(`${content.width}×${content.height}, preset paper, ${net.description}; best loss after N evaluations (content init ${(await problem.evaluate(content.data)).loss.toExponential(3)})`);
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
