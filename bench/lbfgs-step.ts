/**
 * The optimiser's own cost per L-BFGS step, outside the objective: the two-loop recursion over
 * `--history` pairs of image-sized float32 vectors.
 *
 * Baseline (measured in the same run): the textbook two-loop (Nocedal & Wright, Algorithm 7.4)
 * written as Impasto had it before: one pass for each dot product, with a single float64 running
 * sum, and one for each update of d, so each pair costs four passes over d. Against it,
 * `twoLoopDirection` (src/optimizers/lbfgs.ts), which fuses each update with the next dot
 * product (two passes a pair) and keeps several partial sums. Both get the same pairs; the table
 * also gives the largest relative difference between their directions (elementwise, against
 * |plain| + 1e-6).
 *
 * With `--network offline|random-vgg19`, instead one real run: L-BFGS (the box, strong Wolfe, as
 * stylize runs it) on Tübingen × The Starry Night at `--size` (512) with the impasto preset for
 * `--evals` (80) evaluations, split into the time inside the objective and the time outside it,
 * per step.
 *
 * Usage: npx tsx bench/lbfgs-step.ts [--history 20] [--repeats 5] [--network offline [--size 512] [--evals 80]]
 */
import { resolveEngine } from '../src/engine/index.js';
import { lbfgs } from '../src/optimizers/lbfgs.js';
import { twoLoopDirection } from '../src/optimizers/lbfgs.js';
import { prepareProblem } from '../src/pipeline/prepare.js';
import { images, opt } from './common.js';

const m = Number(opt('history', '20'));
const repeats = Number(opt('repeats', '5'));

function plainDot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** The baseline: four passes a pair. */
function plainTwoLoop(d: Float32Array, g: Float32Array, S: Float32Array[], Y: Float32Array[], rho: number[], alphas: Float64Array): void {
  const n = d.length;
  for (let i = 0; i < n; i++) d[i] = -g[i]!;
  for (let k = S.length - 1; k >= 0; k--) {
    alphas[k] = rho[k]! * plainDot(S[k]!, d);
    for (let i = 0; i < n; i++) d[i] = d[i]! - alphas[k]! * Y[k]![i]!;
  }
  const last = S.length - 1;
  const gamma = plainDot(S[last]!, Y[last]!) / plainDot(Y[last]!, Y[last]!);
  for (let i = 0; i < n; i++) d[i]! *= gamma;
  for (let k = 0; k < S.length; k++) {
    const beta = rho[k]! * plainDot(Y[k]!, d);
    for (let i = 0; i < n; i++) d[i] = d[i]! + (alphas[k]! - beta) * S[k]![i]!;
  }
}

/** Mean milliseconds of `fn` over `repeats` runs, after one warm-up run. */
function time(fn: () => void): number {
  fn();
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) fn();
  return (performance.now() - t0) / repeats;
}

const network = opt('network', '');
if (network) {
  const size = Number(opt('size', '512'));
  const evals = Number(opt('evals', '80'));
  const { problem, content } = await prepareProblem(
    { content: images + 'tubingen.jpg', style: images + 'starry_night.jpg', size, network: network as 'offline', seed: 0, preset: 'impasto' },
    { engine: await resolveEngine() },
  );
  let inside = 0;
  const t0 = performance.now();
  const r = await lbfgs(async (x) => {
    const t = performance.now();
    const ev = await problem.evaluate(x);
    inside += performance.now() - t;
    return ev;
  }, new Float32Array(content!.data), { maxEvals: evals, history: m, bounds: { lower: 0, upper: 255, mode: 'project' } });
  const outside = performance.now() - t0 - inside;
  console.log(`\n${network}, ${content!.width}×${content!.height}, ${m} pairs: ${r.iterations} steps, ${r.evaluations} evaluations; ` +
    `${(inside / r.evaluations).toFixed(0)} ms an evaluation, ${(outside / r.iterations).toFixed(1)} ms a step outside the objective`);
  await problem.dispose();
  process.exit(0);
}

let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
console.log(`L-BFGS step outside the objective, ${m} pairs, mean of ${repeats} (ms)`);
console.log('| image | values | two-loop, plain | fused | × plain | max rel. diff |');
console.log('|---|---|---|---|---|---|');
for (const [w, h] of [[256, 192], [512, 384], [1024, 768]] as const) {
  const n = 3 * w * h;
  const S = Array.from({ length: m }, () => Float32Array.from({ length: n }, rand));
  const Y = S.map((s) => Float32Array.from(s, (v, i) => (1 + (i % 7)) * v + 0.1 * rand()));
  const rho = S.map((s, k) => 1 / plainDot(s, Y[k]!));
  const g = Float32Array.from({ length: n }, rand);
  const a = new Float32Array(n), b = new Float32Array(n), alphas = new Float64Array(m);
  const plain = time(() => plainTwoLoop(a, g, S, Y, rho, alphas));
  const fused = time(() => twoLoopDirection(b, g, S, Y, rho, alphas));
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!) / (Math.abs(a[i]!) + 1e-6));
  console.log(`| ${w}×${h} | ${n} | ${plain.toFixed(1)} | ${fused.toFixed(1)} | ${(fused / plain).toFixed(2)} | ${diff.toExponential(1)} |`);
}
