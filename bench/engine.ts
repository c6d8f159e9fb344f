/**
 * Engine benchmark (issue: loss-and-gradient graphs). For each size it runs, in a fresh child
 * process so that peak RSS is per size:
 *   - one loss+gradient evaluation of the full VGG-19 objective (random He-normal weights,
 *     content relu4_2 + Gram style relu1_1…relu5_1 + L2 TV, average pooling);
 *   - the forward pass alone (the conv stack to relu5_1);
 * and prints median times, effective GFLOP/s and peak RSS. Where /usr/bin/python3 has torch, it
 * times the same computation in PyTorch in the same run and prints the ratios.
 *
 * The problem is set up by the pipeline's own set-up (prepare.ts), as `stylize` and `score` do:
 * `--network random-vgg19` (seed 0), the paper preset, γ = 1e-3; `--style-loss gram|mean-std`
 * picks the style unit.
 *
 * Usage: npx tsx bench/engine.ts [--sizes 256,512] [--threads N] [--repeats 5] [--no-torch] [--engine node|web] [--style-loss gram]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { resolveEngine } from '../src/engine/index.js';
import { GraphBuilder } from '../src/graph/builder.js';
import { Tape } from '../src/graph/autodiff.js';
import { randomVggWeights, vggLayers, featureSize, vggNet } from '../src/networks/vgg.js';
import { prepareProblem } from '../src/pipeline/prepare.js';
import { args, opt } from './common.js';

const threads = Number(opt('threads', String(os.availableParallelism())));
const repeats = Number(opt('repeats', '5'));
const engineName = opt('engine', 'node');
const styleLoss = opt('style-loss', 'gram') as 'gram';

/** Multiply-add FLOPs (×2) of the VGG-19 convs up to relu5_1 at size×size. */
function forwardFlops(size: number): number {
  let f = 0;
  for (const l of vggLayers('vgg19')) {
    if (l.kind !== 'conv') continue;
    const [h, w] = featureSize('vgg19', l.name, size, size);
    f += 2 * h * w * l.inChannels! * l.channels * 9;
    if (l.name === 'conv5_1') break;
  }
  return f;
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

async function child(size: number) {
  const engine = await resolveEngine(engineName);
  const rgb = (seed: number) => ({ data: Uint8Array.from({ length: 3 * size * size }, (_, i) => ((i * 2654435761 + seed) % 255)), width: size, height: size });
  const t0 = performance.now();
  const { problem, content: withContent } = await prepareProblem({
    content: rgb(1), style: rgb(2), network: 'random-vgg19', seed: 0, preset: 'paper', pooling: 'avg', styleLoss, tvWeight: 1e-3, size, threads,
  }, { engine });
  const tCreate = (performance.now() - t0) / 1000;
  const content = withContent!; // given above, so never null
  const image = Float32Array.from(content.data, (v, i) => (v + 97 * i) % 255);
  const rssBefore = process.resourceUsage().maxRSS / 1024;
  const tGrad = await median(() => problem.evaluate(image));
  await problem.dispose();
  // Peak RSS of the whole problem (targets, session, evaluations), before the forward-only timing.
  const rss = process.resourceUsage().maxRSS / 1024;
  const b = new GraphBuilder('float32');
  const x = b.input('image', [1, 3, size, size]);
  b.output('relu5_1', vggNet(randomVggWeights('vgg19', 0), 'avg').build(new Tape(b), x, ['relu5_1']).get('relu5_1')!);
  const fwd = await engine.createSession(b.toModel('forward'), { threads });
  const tForward = await median(() => fwd.run({ image: { data: image, dims: [1, 3, size, size] } }));
  await fwd.dispose();
  console.log(JSON.stringify({ size, threads, forward_s: tForward, grad_s: tGrad, create_s: tCreate, maxrss_mb: rss, rss_before_mb: rssBefore }));
}

function torchRun(size: number, th: number): Record<string, number> | null {
  const script = fileURLToPath(new URL('./torch_vgg.py', import.meta.url));
  const r = spawnSync('/usr/bin/python3', [script, String(size), String(th), String(Math.max(3, Math.min(repeats, 3)))], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main() {
  if (args[0] === '--child') return child(Number(args[1]));
  const sizes = opt('sizes', '256,512').split(',').map(Number);
  console.log(`machine: ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`engine ${engineName}, threads ${threads}, ${styleLoss} style loss, median of ${repeats} after one warm-up; 'session' is the whole set-up (targets, graph, session)\n`);
  for (const size of sizes) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', String(size), '--threads', String(threads), '--repeats', String(repeats), '--engine', engineName, '--style-loss', styleLoss], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`size ${size}: child failed\n${r.stderr}`);
      continue;
    }
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const ff = forwardFlops(size);
    console.log(`${size}²: forward ${m.forward_s.toFixed(3)} s (${(ff / m.forward_s / 1e9).toFixed(1)} GFLOP/s) | loss+grad ${m.grad_s.toFixed(3)} s ` +
      `(${((2 * ff) / m.grad_s / 1e9).toFixed(1)} GFLOP/s effective, ${(m.grad_s / m.forward_s).toFixed(2)}× forward) | session ${m.create_s.toFixed(2)} s | peak RSS ${m.maxrss_mb.toFixed(0)} MB (${m.rss_before_mb.toFixed(0)} MB before the first evaluation)`);
    for (const th of args.includes('--no-torch') ? [] : [threads, 1].filter((v, i, a) => a.indexOf(v) === i)) {
      const t = torchRun(size, th);
      if (!t) {
        console.log('  torch: not available (/usr/bin/python3 with torch); skipped');
        break;
      }
      console.log(`  torch ${t.torch} ${th} thread(s): fwd+bwd ${t.fwd_bwd_s.toFixed(3)} s, forward ${t.forward_s.toFixed(3)} s, peak RSS ${t.maxrss_mb.toFixed(0)} MB → ` +
        `impasto is ${(t.fwd_bwd_s / m.grad_s).toFixed(2)}× faster per evaluation`);
    }
  }
  console.log(`\nload average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
