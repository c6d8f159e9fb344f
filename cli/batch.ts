/**
 * `impasto batch`: every content × style pair (or every manifest row) × every sweep value, into
 * one folder, on the in-process queue (src/jobs/batch.ts).
 *
 *   impasto batch --content A.jpg,photos/ --style B.jpg,paintings/ -o out/ [--concurrency N] [--sweep KEY=V,…] [options]
 *   impasto batch --manifest jobs.json -o out/ [options]
 *
 * One progress line for the whole batch, a summary at the end (done, failed with reasons,
 * skipped). Exit codes: 0 every job done or skipped, 3 some job failed (the summary says why),
 * 2 bad usage, 130 interrupted (finished outputs are kept; run again to resume).
 */
import path from 'node:path';
import { EXIT_CODES } from '../src/errors.js';
import { flagOf, OPTION_DEFS, OptionError, validateOption, type StylizeOptions } from '../src/pipeline/options.js';
import { planBatch, runBatch, type BatchEvent, type JobOutcome } from '../src/jobs/batch.js';
import { RedisQueue } from '../src/jobs/redis-queue.js';
import { parseArgs } from './args.js';
import { BATCH_FLAGS } from './batch-flags.js';
import { Progress } from './progress.js';
import { interruptible } from './interrupt.js';

/** `style-weight=1e2,1e3` → the option key and its validated values. @throws OptionError */
export function parseSweep(text: string): { key: keyof StylizeOptions; values: number[] } {
  const m = /^([a-z][a-z-]*)=(.+)$/.exec(text);
  if (!m) throw new OptionError(`invalid --sweep ${text}: expected OPTION=V1,V2,… such as style-weight=1e2,1e3,1e4`);
  const def = OPTION_DEFS.find((d) => flagOf(d.key) === m[1]);
  if (!def || (def.kind !== 'number' && def.kind !== 'int')) {
    throw new OptionError(`invalid --sweep ${text}: '${m[1]}' is not a numeric option; sweep one of ${OPTION_DEFS.filter((d) => d.kind === 'number' || d.kind === 'int').map((d) => flagOf(d.key)).join(', ')}`);
  }
  const values = m[2]!.split(',').map((v) => validateOption(def, v.trim() === '' ? NaN : Number(v), `--sweep ${m[1]}`) as number);
  return { key: def.key, values };
}

function list(v: unknown): string[] | undefined {
  return typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

export async function runBatchCommand(argv: string[]): Promise<number> {
  const { positionals, options, flags } = parseArgs(argv, BATCH_FLAGS);
  if (positionals.length) throw new OptionError(`impasto batch takes its inputs from --content/--style or --manifest, received '${positionals[0]}'`);
  const out = flags.output as string | undefined;
  if (!out) throw new OptionError('impasto batch needs -o DIR, the output folder');
  const format = (flags.format as string | undefined) ?? 'png';
  if (!['png', 'jpg', 'webp', 'tif'].includes(format)) throw new OptionError(`invalid --format ${format}: expected png, jpg, webp or tif`);
  const json = Boolean(flags.json);
  const quiet = Boolean(flags.quiet);
  const jobs = await planBatch({
    contents: list(flags.content), styles: list(flags.style), manifest: flags.manifest as string | undefined, outDir: out,
    options, sweep: flags.sweep === undefined ? undefined : parseSweep(flags.sweep as string), format: format as 'png',
  });
  const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const progress = new Progress(process.stderr, { enabled: !json && !quiet, format: (done, total) => `${done}/${total} jobs` });
  const ac = interruptible(() => process.stderr.write('\ninterrupted: cancelling the running jobs (finished outputs are kept; run the same command again to resume)\n'));
  const label = (o: JobOutcome) => path.basename(o.job.output);
  let queue: RedisQueue | undefined;
  if (flags.queue !== undefined) {
    queue = new RedisQueue(flags.queue as string, { queueSize: 1_000_000 });
    await queue.ready();
  }
  const t0 = performance.now();
  try {
    const summary = await runBatch(jobs, {
      queue,
      concurrency: (flags.concurrency as number | undefined) ?? (queue ? 8 : 1),
      maxMemory: options.maxMemory,
      signal: ac.signal,
      onEvent: (e: BatchEvent) => {
        if (json) {
          if (e.type === 'job') print({ type: 'job', status: e.outcome.status, output: e.outcome.job.output, content: e.outcome.job.content, styles: e.outcome.job.styles, loss: e.outcome.loss, terms: e.outcome.terms, error: e.outcome.error, seconds: e.outcome.seconds });
          else if (e.type === 'batch-start') print(e);
          return;
        }
        if (e.type === 'batch-start') progress.start(e.jobs, `batch: ${e.jobs} jobs into ${out}${e.skipped ? ` (${e.skipped} already done: skipped)` : ''}`);
        else if (e.type === 'job' && e.outcome.status === 'failed') progress.note(`failed: ${label(e.outcome)}: ${e.outcome.error}`);
        else if (e.type === 'progress') progress.update(e.ended, e.running.filter((r) => r.iterations > 0).map((r) => `${r.iteration}/${r.iterations} it.`).join(', '));
      },
    });
    progress.finish();
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (json) print({ type: 'summary', done: summary.done, failed: summary.failed, skipped: summary.skipped, cancelled: summary.cancelled, seconds: Number(secs), failures: summary.outcomes.filter((o) => o.status === 'failed').map((o) => ({ output: o.job.output, error: o.error })) });
    else if (!quiet) {
      process.stderr.write(`batch: ${summary.done} done, ${summary.failed} failed, ${summary.skipped} skipped${summary.cancelled ? `, ${summary.cancelled} cancelled` : ''} in ${secs} s\n`);
      for (const o of summary.outcomes.filter((x) => x.status === 'failed')) process.stderr.write(`  failed: ${label(o)}: ${o.error}\n`);
    }
    if (ac.signal.aborted) return EXIT_CODES.interrupted;
    return summary.failed ? EXIT_CODES.input : EXIT_CODES.ok;
  } finally {
    await queue?.close();
    ac.dispose();
  }
}
