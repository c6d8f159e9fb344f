/**
 * The memory and time model (src/pipeline/memory.ts) against real runs.
 *
 * For each network (seeded random VGG-19, the offline network) and size (256, 512, 1024 px,
 * single scale), it runs the built CLI (`bin/impasto.js`, as a user runs it) under
 * `/usr/bin/time -v` for a few iterations, and reads the peak RSS (its "Maximum resident set
 * size") and the seconds per evaluation (from the --json iterate events, after the first step).
 * It prints `impasto plan`'s prediction beside each, with the ratio, and a least-squares fit of the
 * model's constants (B₀, k, a from memory; t₀, c, e from time) that MODEL in memory.ts takes.
 * The runs keep 3 L-BFGS pairs (--history), so that a few iterations fill the history a long run
 * holds.
 *
 * With --tiled it measures evaluation in blocks instead (forced with --tile-size): for each
 * network and each `size:side` of --tiles (`network@size:side` for one network only), the seconds
 * per evaluation against the plan's, and the fit of MODEL.tiledValues (f in memory.ts: the
 * measured time less t₀ ≈ c·C + f·e·V over the tiled graphs' work, by relative least squares),
 * beside the fit with the multiply-add's factor free too (f_c·c·C + f·e·V), which tells whether
 * fixing that factor at 1 still holds.
 *
 * Usage: npm run build && npx tsx bench/plan.ts [--sizes 256,512,1024] [--iterations 6] [--networks random-vgg19,offline]
 *        npm run build && npx tsx bench/plan.ts --tiled [--tiles 1024:640,1024:448,1024:320,offline@2000:1024] [--networks random-vgg19,offline]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { planRequest } from '../src/pipeline/plan-request.js';
import { hostBytes, MODEL, workPerPixel } from '../src/pipeline/memory.js';
import { tileLayout, tiledWorkload } from '../src/pipeline/tiled.js';
import { prepareSetup } from '../src/pipeline/prepare.js';
import { images, opt, outDir } from './common.js';

const sizes = opt('sizes', '256,512,1024').split(',').map(Number);
const networks = opt('networks', 'random-vgg19,offline').split(',');
const iterations = Number(opt('iterations', '6'));
/** Few enough pairs that a short run fills its L-BFGS history, as a long one would. */
const history = Number(opt('history', '3'));
const bin = fileURLToPath(new URL('../bin/impasto.js', import.meta.url));
const content = path.join(images, 'tubingen.jpg');
const style = path.join(images, 'starry_night.jpg');

/** One run of the built CLI under /usr/bin/time -v: its peak RSS and its seconds per evaluation after the first step. */
function measure(flags: string[], out: string): { rss: number; secs: number } {
  const run = spawnSync('/usr/bin/time', ['-v', process.execPath, bin, content, style, ...flags, '--json', '-o', out], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`impasto ${flags.join(' ')} failed (exit ${run.status}): ${run.stderr.slice(-2000)}`);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1]) * 1024;
  const its = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; elapsedMs: number; evaluations: number }).filter((e) => e.type === 'iterate');
  const a = its[0]!;
  const b = its.at(-1)!;
  return { rss, secs: (b.elapsedMs - a.elapsedMs) / 1000 / (b.evaluations - a.evaluations) };
}

if (process.argv.includes('--tiled')) {
  const tiles = opt('tiles', '1024:640,1024:448,1024:320,offline@2000:1024,offline@2000:640').split(',').map((t) => {
    const [only, at] = t.includes('@') ? t.split('@') as [string, string] : [null, t];
    const [size, side] = at.split(':').map(Number) as [number, number];
    return { only, size, side };
  });
  const points: { measured: number; predicted: number; macs: number; values: number }[] = [];
  for (const network of networks) {
    for (const { size, side } of tiles.filter((t) => t.only === null || t.only === network)) {
      const flags = ['--network', network, '--size', String(size), '--min-size', String(size), '--iterations', String(iterations), '--history', String(history), '--max-memory', '20', '--tile-size', String(side)];
      const plan = await planRequest({ content, style, network: network as never, size, minSize: size, iterations, history, maxMemory: 20, tileSize: side });
      const s = plan.scales.at(-1)!;
      // the graphs' work the plan counted (plan.ts: the layout of tileLayout, the work of tiledWorkload)
      const setup = await prepareSetup({ content, style, network: network as never, size, minSize: size });
      const layout = tileLayout(setup.spec.width, setup.spec.height, setup.spec.net, [...setup.spec.content, ...setup.spec.style].map((t) => t.layer), side);
      const work = tiledWorkload(setup.spec, layout.blockWidth, layout.blockHeight);
      const { secs } = measure(flags, path.join(outDir, `plan-tiled-${network}-${size}-${side}.png`));
      points.push({ measured: secs, predicted: s.seconds, macs: layout.blocks.length * work.macs, values: layout.blocks.length * work.values });
      console.log(`${network.padEnd(13)} ${size} px in ${String(s.blocks).padStart(3)} blocks (--tile-size ${side}): ${secs.toFixed(3)} s/evaluation, predicted ${s.seconds.toFixed(3)} (×${(s.seconds / secs).toFixed(2)})`);
    }
  }
  // relative least squares: each row divided by its measured time m
  const mac = points.map((p) => (MODEL.secondsPerMac * p.macs) / p.measured);
  const val = points.map((p) => (MODEL.secondsPerValue * p.values) / p.measured);
  const ys = points.map((p) => (p.measured - MODEL.baseSeconds) / p.measured);
  const sum = (f: (i: number) => number) => points.reduce((a, _, i) => a + f(i), 0);
  // f alone, the multiply-add's factor 1: min Σ(ys − mac − f·val)²
  const f = sum((i) => (ys[i]! - mac[i]!) * val[i]!) / sum((i) => val[i]! ** 2);
  // both free: min Σ(ys − f_c·mac − f·val)², normal equations 2×2 (needs two points that differ in their mix)
  const [a11, a12, a22, b1, b2] = [sum((i) => mac[i]! ** 2), sum((i) => mac[i]! * val[i]!), sum((i) => val[i]! ** 2), sum((i) => mac[i]! * ys[i]!), sum((i) => val[i]! * ys[i]!)];
  const det = a11 * a22 - a12 * a12;
  const both = points.length >= 2 && det > 1e-9 * a11 * a22 ? `; with the multiply-add's factor free too: ${((b1 * a22 - b2 * a12) / det).toFixed(3)} and ${((a11 * b2 - a12 * b1) / det).toFixed(3)}` : '';
  const worst = Math.max(...points.map((p) => Math.abs(p.predicted / p.measured - 1)));
  console.log(`\nfit: tiledValues ${f.toFixed(3)} (in use ${MODEL.tiledValues})${both}; worst prediction error with the constant in use: ${(100 * worst).toFixed(1)} %`);
  process.exit(0);
}

interface Row { network: string; size: number; pixels: number; rss: number; secs: number; predBytes: number; predSecs: number; values: number; live: number; macs: number; weights: number; host: number }
const rows: Row[] = [];
for (const network of networks) {
  for (const size of sizes) {
    const flags = ['--network', network, '--size', String(size), '--min-size', String(size), '--iterations', String(iterations), '--history', String(history), '--max-memory', '20'];
    const plan = await planRequest({ content, style, network: network as never, size, minSize: size, iterations, history, maxMemory: 20 });
    const setup = await prepareSetup({ content, style, network: network as never, size, minSize: size });
    const work = workPerPixel(setup.spec);
    const { rss, secs } = measure(flags, path.join(outDir, `plan-${network}-${size}.png`));
    const s = plan.scales.at(-1)!;
    const pixels = s.width * s.height;
    rows.push({ network, size, pixels, rss, secs, predBytes: s.bytes, predSecs: s.seconds, values: work.valuesPerPixel, live: work.livePerPixel, macs: work.macsPerPixel, weights: work.weightBytes, host: hostBytes(pixels, { optimizer: 'lbfgs', history }) });
    const r = rows.at(-1)!;
    console.log(`${network.padEnd(13)} ${String(size).padEnd(5)} peak RSS ${(rss / 1e9).toFixed(3)} GB, predicted ${(r.predBytes / 1e9).toFixed(3)} GB (×${(r.predBytes / rss).toFixed(2)}); ${secs.toFixed(3)} s/evaluation, predicted ${r.predSecs.toFixed(3)} (×${(r.predSecs / secs).toFixed(2)})`);
  }
}

/**
 * Least squares y ≈ p + q·x + r·z in relative terms (each row divided by its y, so that the fit
 * minimises the relative errors the 25 % target is about); normal equations, 3×3.
 */
function fit3(xs: number[], zs: number[], ys: number[]): [number, number, number] {
  const rowsA = xs.map((x, i) => [1 / ys[i]!, x / ys[i]!, zs[i]! / ys[i]!]);
  ys = ys.map(() => 1);
  const ata = [0, 1, 2].map((i) => [0, 1, 2].map((j) => rowsA.reduce((a, r) => a + r[i]! * r[j]!, 0)));
  const aty = [0, 1, 2].map((i) => rowsA.reduce((a, r, k) => a + r[i]! * ys[k]!, 0));
  // Gaussian elimination
  const m = ata.map((r, i) => [...r, aty[i]!]);
  for (let i = 0; i < 3; i++) {
    for (let k = i + 1; k < 3; k++) {
      const f = m[k]![i]! / m[i]![i]!;
      for (let j = i; j < 4; j++) m[k]![j]! -= f * m[i]![j]!;
    }
  }
  const out = [0, 0, 0];
  for (let i = 2; i >= 0; i--) out[i] = (m[i]![3]! - [0, 1, 2].slice(i + 1).reduce((a, j) => a + m[i]![j]! * out[j]!, 0)) / m[i]![i]!;
  return out as [number, number, number];
}
const [b0, a, w] = fit3(rows.map((r) => 4 * r.live * r.pixels), rows.map((r) => r.weights), rows.map((r) => r.rss - r.host));
// (memory: the host arrays are known exactly and taken off before the fit)
const [t0, c, e] = fit3(rows.map((r) => r.macs * r.pixels), rows.map((r) => r.values * r.pixels), rows.map((r) => r.secs));
console.log(`\nfit: baseBytes ${(b0 / 1e9).toFixed(3)}e9, liveShare ${a.toFixed(3)}, weightCopies ${w.toFixed(2)}, baseSeconds ${t0.toFixed(4)}, secondsPerMac ${c.toExponential(3)}, secondsPerValue ${e.toExponential(3)}`);
console.log(`in use: baseBytes ${(MODEL.baseBytes / 1e9).toFixed(3)}e9, liveShare ${MODEL.liveShare}, weightCopies ${MODEL.weightCopies}, baseSeconds ${MODEL.baseSeconds}, secondsPerMac ${MODEL.secondsPerMac.toExponential(3)}, secondsPerValue ${MODEL.secondsPerValue.toExponential(3)}`);
const worst = Math.max(...rows.flatMap((r) => [Math.abs(r.predBytes / r.rss - 1), Math.abs(r.predSecs / r.secs - 1)]));
console.log(`worst prediction error with the constants in use: ${(100 * worst).toFixed(1)} % (target ≤ 25 %)`);
