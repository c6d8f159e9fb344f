/**
 * Batch throughput: jobs per minute at 128 px
 * - on the in-process queue with 1, 2 and 4 jobs at once (worker threads sharing the cores);
 * - through Redis (`--redis`, needs redis-server) with 1, 2 and 4 `impasto worker` processes of
 *   one job each, on this machine, sharing its cores (--threads); their ratio to the in-process 1 at once gives the overhead per
 *   job of going through Redis.
 * Every figure is against 1 at once in-process, measured in the same run.
 *
 *   npx tsx bench/batch.ts [--jobs 8] [--size 128] [--iterations 50] [--network offline] [--redis]
 *
 * Each run is `runBatch` over --jobs content × style pairs (the repository's images), written to a
 * fresh folder under out/; the time includes reading the inputs, each job's set-up (network,
 * targets, graph, session) and writing its PNG, as a user's batch would. Workers are started (and
 * ready) before the clock starts, as long-running workers would be.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, images, opt, outDir } from './common.js';
import { planBatch, runBatch, type BatchJob } from '../src/jobs/batch.js';
import { RedisQueue } from '../src/jobs/redis-queue.js';

const jobs = Number(opt('jobs', '8'));
const size = Number(opt('size', '128'));
const iterations = Number(opt('iterations', '50'));
const network = opt('network', 'offline') as 'offline' | 'random-vgg19';

const contents = ['tubingen.jpg', 'shipwreck.jpg'].map((f) => path.join(images, f));
const styles = ['starry_night.jpg', 'the_scream.jpg', 'woman-with-hat-matisse.jpg', 'tubingen.jpg'].map((f) => path.join(images, f));

let count = 0;
const root = fileURLToPath(new URL('../', import.meta.url));

async function timed(label: string, run: (planned: BatchJob[]) => ReturnType<typeof runBatch>): Promise<{ label: string; seconds: number; perMinute: number }> {
  const dir = await mkdtemp(path.join(outDir, 'bench-batch-'));
  const planned = (await planBatch({ contents, styles, outDir: dir, options: { network, size, minSize: size, iterations } })).slice(0, jobs);
  const t0 = performance.now();
  const summary = await run(planned);
  const seconds = (performance.now() - t0) / 1000;
  if (summary.done !== planned.length) throw new Error(`${summary.failed} jobs failed: ${summary.outcomes.find((o) => o.error)?.error}`);
  process.stderr.write(`${label}: ${planned.length} jobs in ${seconds.toFixed(1)} s\n`);
  await rm(dir, { recursive: true, force: true });
  count = planned.length;
  return { label, seconds, perMinute: (60 * planned.length) / seconds };
}

const rows: { label: string; seconds: number; perMinute: number }[] = [];
for (const concurrency of [1, 2, 4]) rows.push(await timed(`in-process, ${concurrency} at once`, (p) => runBatch(p, { concurrency })));

if (args.includes('--redis')) {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const url = `redis://127.0.0.1:${port}`;
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const workers: ChildProcess[] = [];
  const home = await mkdtemp(path.join(outDir, 'bench-batch-home-'));
  try {
    for (const n of [1, 2, 4]) {
      for (const w of workers.splice(0)) w.kill('SIGTERM');
      while (workers.length < n) {
        const w = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), 'worker', '--queue', url, '--threads', String(Math.max(1, Math.floor(os.availableParallelism() / n)))], { cwd: root, env: { ...process.env, IMPASTO_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        await new Promise<void>((resolve, reject) => {
          w.stderr!.on('data', (d) => { err += String(d); if (err.includes('taking jobs')) resolve(); });
          w.on('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
        });
        workers.push(w);
      }
      const queue = new RedisQueue(url, { queueSize: 1_000_000 });
      await queue.ready();
      rows.push(await timed(`Redis, ${n} worker process${n > 1 ? 'es' : ''}`, (p) => runBatch(p, { queue, concurrency: 2 * n })));
      await queue.close();
    }
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    redis.kill('SIGTERM');
    await rm(home, { recursive: true, force: true });
  }
}

const base = rows[0]!;
process.stdout.write(`${count} jobs, ${size} px, ${iterations} iterations, ${network} network\n`);
process.stdout.write('how                           seconds  jobs/min  ratio to in-process 1 at once\n');
for (const r of rows) process.stdout.write(`${r.label.padEnd(30)}${r.seconds.toFixed(1).padEnd(9)}${r.perMinute.toFixed(1).padEnd(10)}×${(r.perMinute / base.perMinute).toFixed(2)}\n`);
const redis1 = rows.find((r) => r.label === 'Redis, 1 worker process');
if (redis1) process.stdout.write(`overhead per job through Redis (1 worker process against in-process 1 at once): ${(((redis1.seconds - base.seconds) / count) * 1000).toFixed(0)} ms\n`);
