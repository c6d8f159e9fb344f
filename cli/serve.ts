/**
 * `impasto serve`: the local web app (server/app.ts) on the embedded queue (src/jobs/local-queue.ts),
 * or with `--queue redis://…` on the distributed one (src/jobs/redis-queue.ts: `impasto worker`s
 * on any machine run the jobs and send previews and results back through Redis).
 *
 *   impasto serve [--port 8080] [--host 127.0.0.1] [--jobs N | --queue URL] [--queue-size N] [limits]
 *
 * Binds to localhost unless --host says otherwise; stops cleanly on Ctrl-C or SIGTERM (running
 * jobs are cancelled, their workers end).
 */
import os from 'node:os';
import path from 'node:path';
import { cacheDir } from '../src/networks/weights/cache.js';
import { memoryBudget } from '../src/pipeline/memory.js';
import { OptionError } from '../src/pipeline/options.js';
import { EXIT_CODES } from '../src/errors.js';
import { createApp } from '../server/app.js';
import { DEFAULT_LIMITS } from '../server/limits.js';
import { LocalQueue } from '../src/jobs/local-queue.js';
import { connectionOf, RedisQueue } from '../src/jobs/redis-queue.js';
import { parseArgs } from './args.js';
import { SERVE_FLAGS } from './serve-flags.js';


export async function runServe(argv: string[]): Promise<number> {
  const { positionals, flags } = parseArgs(argv, SERVE_FLAGS, false);
  if (positionals.length) throw new OptionError(`impasto serve takes no file arguments, received '${positionals[0]}'`);
  const f = flags as Record<string, number | string | undefined>;
  const jobs = (f.jobs as number | undefined) ?? 1;
  const keepMs = ((f['keep-hours'] as number | undefined) ?? 24) * 3600_000;
  const imageEvery = (f['preview-every'] as number | undefined) ?? 5;
  const url = f.queue as string | undefined;
  if (url !== undefined) {
    connectionOf(url); // checks the URL (OptionError)
    for (const local of ['jobs', 'threads', 'max-memory'] as const) {
      if (f[local] !== undefined) throw new OptionError(`--${local} is the workers' to set with --queue (impasto worker --concurrency); leave it out here`);
    }
  }
  const queue = url !== undefined ? new RedisQueue(url, { queueSize: (f['queue-size'] as number | undefined) ?? 8, imageEvery, keepMs }) : new LocalQueue({
    jobs,
    queueSize: (f['queue-size'] as number | undefined) ?? 8,
    dir: path.join(cacheDir(), 'jobs'),
    keepMs,
    maxPixels: (f['max-pixels'] as number | undefined) ?? DEFAULT_LIMITS.maxPixels,
    imageEvery,
    threads: (f.threads as number | undefined) ?? Math.max(1, Math.floor(os.availableParallelism() / jobs)),
    maxMemory: memoryBudget({ maxMemory: f['max-memory'] as number | undefined }) / 1e9,
  });
  if (queue instanceof RedisQueue) await queue.ready();
  const host = (f.host as string | undefined) ?? '127.0.0.1';
  const app = await createApp({
    queue,
    limits: {
      ...(f['max-upload-mb'] !== undefined ? { maxUploadBytes: Math.round((f['max-upload-mb'] as number) * 1024 * 1024) } : {}),
      ...(f['max-pixels'] !== undefined ? { maxPixels: f['max-pixels'] as number } : {}),
      ...(f['max-size'] !== undefined ? { maxSize: f['max-size'] as number } : {}),
    },
    allowedHosts: ['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(host) ? [os.hostname()] : [host, os.hostname()],
  });
  const address = await app.listen({ port: (f.port as number | undefined) ?? 8080, host });
  const runs = url !== undefined ? `jobs run on the workers of ${url}` : `${jobs} job${jobs > 1 ? 's' : ''} at once`;
  process.stderr.write(`impasto serve: listening on ${address.replace('127.0.0.1', 'localhost')} (${runs}; Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stderr.write('impasto serve: stopping (cancelling running jobs)\n');
  await app.close();
  if (queue instanceof RedisQueue) await queue.close({ cancelUnfinished: true });
  else await queue.close();
  return EXIT_CODES.ok;
}
