/**
 * `impasto worker --queue redis://HOST:PORT [--concurrency N]`: runs stylisation jobs from the
 * distributed queue (src/jobs/redis-queue.ts), each in a worker thread of this process. SIGTERM or
 * Ctrl-C stops taking jobs and lets the current ones finish before exiting.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { EXIT_CODES } from '../src/errors.js';
import { MAX_INPUT_PIXELS } from '../src/image/io-node.js';
import { OptionError } from '../src/pipeline/options.js';
import { LocalQueue } from '../src/jobs/local-queue.js';
import { connectionOf, runWorker } from '../src/jobs/redis-queue.js';
import { parseArgs, type FlagDef } from './args.js';

export const WORKER_FLAGS: readonly FlagDef[] = [
  { name: 'queue', kind: 'string', arg: 'URL', doc: 'the Redis server of the queue, redis://HOST:PORT' },
  { name: 'concurrency', kind: 'int', arg: 'N', doc: 'jobs at once (default 1)' },
];

export async function runWorkerCommand(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, WORKER_FLAGS, false);
  if (positionals.length) throw new OptionError(`impasto worker takes no file arguments, received '${positionals[0]}'`);
  const url = flags.queue as string | undefined;
  if (!url) throw new OptionError('impasto worker needs --queue redis://HOST:PORT');
  try {
    connectionOf(url);
  } catch (err) {
    throw new OptionError((err as Error).message);
  }
  const concurrency = (flags.concurrency as number | undefined) ?? 1;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-worker-'));
  const local = new LocalQueue({ jobs: concurrency, queueSize: concurrency, dir, keepMs: 3600_000, maxPixels: MAX_INPUT_PIXELS, imageEvery: 0, threads: Math.max(1, Math.floor(os.availableParallelism() / concurrency)) });
  const worker = await runWorker(url, concurrency, local);
  process.stderr.write(`impasto worker: taking jobs from ${url}, ${concurrency} at once (SIGTERM or Ctrl-C: finish the current jobs and stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  process.stderr.write('impasto worker: stopping after the current jobs\n');
  await worker.close();
  await rm(dir, { recursive: true, force: true });
  return EXIT_CODES.ok;
}
