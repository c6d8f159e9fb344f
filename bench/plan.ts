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
 * Usage: npm run build && npx tsx bench/plan.ts [--sizes 256,512,1024] [--iterations 6] [--networks random-vgg19,offline]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { planRequest } from '../src/pipeline/plan-request.js';
import { hostBytes, MODEL, workPerPixel } from '../src/pipeline/memory.js';
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

interface Row { network: string; size: number; pixels: number; rss: number; secs: number; predBytes: number; predSecs: number; values: number; live: number; macs: number; weights: number; host: number }
const rows: Row[] = [];
for (const network of networks) {
  for (const size of sizes) {
    const flags = ['--network', network, '--size', String(size), '--min-size', String(size), '--iterations', String(iterations), '--history', String(history), '--max-memory', '20'];
    const plan = await planRequest({ content, style, network: network as never, size, minSize: size, iterations, history, maxMemory: 20 });
    const setup = await prepareSetup({ content, style, network: network as never, size, minSize: size });
    const work = workPerPixel(setup.spec);
    const run = spawnSync('/usr/bin/time', ['-v', process.execPath, bin, content, style, ...flags, '--json', '-o', path.join(outDir, `plan-${network}-${size}.png`)], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1]) * 1024;
    const its = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; elapsedMs: number; evaluations: number }).filter((e) => e.type === 'iterate');
    const a = its[0]!;
    const b = its.at(-1)!;
    const secs = (b.elapsedMs - a.elapsedMs) / 1000 / (b.evaluations - a.evaluations);
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
