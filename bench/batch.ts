/**
 * Batch throughput on the in-process queue: jobs per minute at 128 px with 1, 2 and 4 jobs at
 * once (worker threads sharing the machine's cores), against 1 at once measured in the same run.
 *
 *   npx tsx bench/batch.ts [--jobs 8] [--size 128] [--iterations 50] [--network offline]
 *
 * Each run is `runBatch` over --jobs content × style pairs (the repository's images), written to a
 * fresh folder under out/; the time includes reading the inputs, each job's set-up (network,
 * targets, graph, session) and writing its PNG, as a user's batch would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { images, opt, outDir } from './common.js';
import { planBatch, runBatch } from '../src/jobs/batch.js';

const jobs = Number(opt('jobs', '8'));
const size = Number(opt('size', '128'));
const iterations = Number(opt('iterations', '50'));
const network = opt('network', 'offline') as 'offline' | 'random-vgg19';

const contents = ['tubingen.jpg', 'shipwreck.jpg'].map((f) => path.join(images, f));
const styles = ['starry_night.jpg', 'the_scream.jpg', 'woman-with-hat-matisse.jpg', 'tubingen.jpg'].map((f) => path.join(images, f));

const rows: { concurrency: number; seconds: number; perMinute: number }[] = [];
for (const concurrency of [1, 2, 4]) {
  const dir = await mkdtemp(path.join(outDir, 'bench-batch-'));
  const planned = (await planBatch({ contents, styles, outDir: dir, options: { network, size, minSize: size, iterations } })).slice(0, jobs);
  const t0 = performance.now();
  const summary = await runBatch(planned, { concurrency });
  const seconds = (performance.now() - t0) / 1000;
  if (summary.done !== planned.length) throw new Error(`${summary.failed} jobs failed: ${summary.outcomes.find((o) => o.error)?.error}`);
  rows.push({ concurrency, seconds, perMinute: (60 * planned.length) / seconds });
  process.stderr.write(`concurrency ${concurrency}: ${planned.length} jobs in ${seconds.toFixed(1)} s\n`);
  await rm(dir, { recursive: true, force: true });
}
const base = rows[0]!;
process.stdout.write(`${jobs} jobs, ${size} px, ${iterations} iterations, ${network} network, in-process queue (worker threads)\n`);
process.stdout.write('jobs at once  seconds  jobs/min  ratio to 1 at once\n');
for (const r of rows) process.stdout.write(`${String(r.concurrency).padEnd(13)}${r.seconds.toFixed(1).padEnd(9)}${r.perMinute.toFixed(1).padEnd(10)}×${(r.perMinute / base.perMinute).toFixed(2)}\n`);
