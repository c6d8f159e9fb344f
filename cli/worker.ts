/**
 * `impasto worker --queue redis://HOST:PORT [--concurrency N] [--grace S]`: runs stylisation jobs
 * from the distributed queue (src/jobs/redis-queue.ts), each in a worker thread of this process.
 * SIGTERM or Ctrl-C stops taking jobs, lets the current ones run up to S seconds (default 5), then
 * hands those still running back to the queue for another worker and exits 0; a second signal
 * hands them back at once.
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
  { name: 'threads', kind: 'int', arg: 'N', doc: 'ONNX Runtime threads per job (default: the cores shared among --concurrency; with several worker processes on one machine, share them among all)' },
  { name: 'grace', kind: 'int', min: 0, arg: 'S', doc: 'on SIGTERM, seconds to let running jobs finish before handing them back (default 5)' },
];

export async function runWorkerCommand(argv: string[]): Promise<number> {
  const { flags, positionals } = parseArgs(argv, WORKER_FLAGS, false);
  if (positionals.length) throw new OptionError(`impasto worker takes no file arguments, received '${positionals[0]}'`);
  const url = flags.queue as string | undefined;
  if (!url) throw new OptionError('impasto worker needs --queue redis://HOST:PORT');
  connectionOf(url); // checks the URL (OptionError)
  const concurrency = (flags.concurrency as number | undefined) ?? 1;
  if (concurrency < 1) throw new OptionError(`--concurrency must be at least 1, received ${concurrency}`);
  const grace = (flags.grace as number | undefined) ?? 5;
  if (!(grace >= 0)) throw new OptionError(`--grace must be 0 or more seconds, received ${grace}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-worker-'));
  const local = new LocalQueue({ jobs: concurrency, queueSize: concurrency, dir, keepMs: 3600_000, maxPixels: MAX_INPUT_PIXELS, imageEvery: 0, threads: (flags.threads as number | undefined) ?? Math.max(1, Math.floor(os.availableParallelism() / concurrency)) });
  const worker = await runWorker(url, concurrency, local, (line) => process.stderr.write(`impasto worker: ${line}\n`));
  process.stderr.write(`impasto worker: taking jobs from ${url}, ${concurrency} at once (SIGTERM or Ctrl-C: stop; running jobs get ${grace} s, then go back to the queue)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  process.stderr.write(`impasto worker: stopping; running jobs get ${grace} s to finish, then go back to the queue\n`);
  const now = () => { void worker.close(0); };
  process.once('SIGTERM', now);
  process.once('SIGINT', now);
  await worker.close(grace * 1000);
  process.stderr.write(`impasto worker: stopped (${worker.handedBack} job${worker.handedBack === 1 ? '' : 's'} handed back)\n`);
  await rm(dir, { recursive: true, force: true });
  return EXIT_CODES.ok;
}
