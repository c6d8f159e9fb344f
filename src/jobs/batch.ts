/**
 * Batches: many stylisations through a job queue (jobs.ts), into one output folder.
 *
 *   planBatch(spec) → BatchJob[]: each pair of content × style inputs (files or folders), or each
 *       row of a manifest, × each value of a sweep; options validated, output names derived from
 *       the inputs' bytes and the options (a re-run finds the same names);
 *   runBatch(jobs, control) → BatchSummary: skips jobs whose output exists, feeds the rest to the
 *       queue a few at a time, writes each result atomically, and reports progress and failures.
 *
 * A cancelled or failed job writes nothing, so an interrupted batch resumes by running again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { ImageError, OptionError } from '../errors.js';
import { formatOf } from '../image/output-path.js';
import { MAX_INPUT_PIXELS } from '../image/io-node.js';
import { checkRequest, OPTION_DEFS, validateOptions, type StylizeOptions } from '../pipeline/options.js';
import { readRegularFile } from '../util/read-file.js';
import type { JobEvent, JobQueue, JobStatus } from './jobs.js';
import { LocalQueue } from './local-queue.js';

/** Largest input image file read for a job, in bytes. */
export const MAX_IMAGE_FILE_BYTES = 256 * 1024 * 1024;
/** Largest manifest file, in bytes. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** File name extensions taken from a folder of inputs (non-recursive, sorted by name). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif', '.avif'];

/** One job of a batch. Paths are absolute. */
export interface BatchJob {
  readonly content: string;
  readonly styles: readonly string[];
  /** The job's own options (batch options, the manifest row's, the sweep value), validated. */
  readonly options: Partial<StylizeOptions>;
  readonly output: string;
}

/** What to run: inputs (content × style), or a manifest, with options for every job. */
export interface BatchSpec {
  /** Content images or folders of them. */
  readonly contents?: readonly string[];
  /** Style images or folders; each content is paired with each style. */
  readonly styles?: readonly string[];
  /**
   * A JSON file: an array of rows `{"content": FILE, "style": FILE | [FILE, …], "options"?: {…},
   * "output"?: NAME}`; paths relative to the manifest's folder, `output` relative to `outDir` and
   * inside it.
   */
  readonly manifest?: string;
  readonly outDir: string;
  /** Options for every job (a manifest row's own options override them). */
  readonly options?: Partial<StylizeOptions>;
  /** One job per value of a numeric option. */
  readonly sweep?: { readonly key: keyof StylizeOptions; readonly values: readonly number[] };
  /** Output format of derived names (default png). */
  readonly format?: 'png' | 'jpg' | 'webp' | 'tif';
}

/** A file name part: letters, digits, `.`, `_`, `-`; at most 40 characters. */
function slug(name: string): string {
  return path.basename(name, path.extname(name)).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 40) || 'image';
}

/** Files and folders → image files (a folder's images sorted by name). @throws OptionError */
async function expand(inputs: readonly string[], what: string): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    const abs = path.resolve(input);
    const st = await fs.stat(abs).catch(() => null);
    if (!st) throw new OptionError(`invalid ${what} ${input}: it does not exist; give image files or folders of them`);
    if (st.isDirectory()) {
      const names = (await fs.readdir(abs)).filter((n) => IMAGE_EXTENSIONS.includes(path.extname(n).toLowerCase()) && !n.startsWith('.')).sort();
      if (!names.length) throw new OptionError(`invalid ${what} ${input}: the folder holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
      out.push(...names.map((n) => path.join(abs, n)));
    } else {
      out.push(abs);
    }
  }
  return out;
}

/** Reads an input image file within the size limit. @throws ImageError naming it */
export function readInput(file: string): Promise<Uint8Array> {
  return readRegularFile(file, MAX_IMAGE_FILE_BYTES, (_problem, detail) => new ImageError(`cannot read image ${file}: ${detail}`));
}

interface Row { content: string; styles: string[]; options: Partial<StylizeOptions>; output?: string }

/** A manifest's rows, checked. @throws OptionError naming the row and field */
async function readManifest(file: string, outDir: string): Promise<Row[]> {
  const bytes = await readRegularFile(file, MAX_MANIFEST_BYTES, (_p, detail) => new OptionError(`cannot read manifest ${file}: ${detail}`));
  let rows: unknown;
  try {
    rows = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new OptionError(`manifest ${file} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows)) throw new OptionError(`manifest ${file}: expected a JSON array of rows {content, style, options?, output?}`);
  const dir = path.dirname(path.resolve(file));
  return rows.map((row: unknown, i) => {
    const at = `manifest ${file} row ${i + 1}`;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new OptionError(`${at}: expected an object {content, style, options?, output?}`);
    const r = row as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!['content', 'style', 'options', 'output'].includes(k)) throw new OptionError(`${at}: unknown field '${k}'; expected content, style, options, output`);
    if (typeof r.content !== 'string' || !r.content) throw new OptionError(`${at}: content must be an image path`);
    const styles = typeof r.style === 'string' ? [r.style] : r.style;
    if (!Array.isArray(styles) || !styles.length || !styles.every((s) => typeof s === 'string' && s)) throw new OptionError(`${at}: style must be an image path or a non-empty array of them`);
    if (r.options !== undefined && (typeof r.options !== 'object' || r.options === null || Array.isArray(r.options))) throw new OptionError(`${at}: options must be an object of option names`);
    let output: string | undefined;
    if (r.output !== undefined) {
      if (typeof r.output !== 'string' || !r.output) throw new OptionError(`${at}: output must be a file name`);
      output = path.resolve(outDir, r.output);
      const rel = path.relative(path.resolve(outDir), output);
      if (path.isAbsolute(r.output) || rel.startsWith('..') || path.isAbsolute(rel)) throw new OptionError(`${at}: output ${r.output} must stay inside the output folder ${outDir}`);
      formatOf(output);
    }
    return { content: path.resolve(dir, r.content), styles: (styles as string[]).map((s) => path.resolve(dir, s)), options: (r.options ?? {}) as Partial<StylizeOptions>, output };
  });
}

/** SHA-256 of a file's bytes, hex (memoised per path for one plan). */
async function fileHash(file: string, memo: Map<string, string>): Promise<string> {
  let h = memo.get(file);
  if (!h) {
    h = createHash('sha256').update(await readInput(file)).digest('hex');
    memo.set(file, h);
  }
  return h;
}

/** Options as canonical JSON: keys sorted, so that equal options give equal names. */
function canonical(o: Partial<StylizeOptions>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));
}

/**
 * The jobs of a batch, in order: content × style (or the manifest's rows) × sweep values.
 * Output names: `<content>--<style>[+<style>…][--<key>-<value>]--<hash>.<ext>`, the hash over the
 * input files' bytes and the job's options, so a re-run (or a changed input) is recognised.
 * @throws OptionError for missing inputs, a bad manifest, bad options or sweep values
 */
export async function planBatch(spec: BatchSpec): Promise<BatchJob[]> {
  checkRequest(spec, 'planBatch');
  const outDir = path.resolve(spec.outDir);
  const ext = spec.format ?? 'png';
  let rows: Row[];
  if (spec.manifest !== undefined) {
    if (spec.contents?.length || spec.styles?.length) throw new OptionError('give either --manifest or --content and --style, not both');
    rows = await readManifest(spec.manifest, outDir);
  } else {
    if (!spec.contents?.length || !spec.styles?.length) throw new OptionError('a batch needs --content and --style (images or folders), or --manifest FILE.json');
    const contents = await expand(spec.contents, '--content');
    const styles = await expand(spec.styles, '--style');
    rows = contents.flatMap((content) => styles.map((style) => ({ content, styles: [style], options: {} })));
  }
  if (spec.sweep) {
    const def = OPTION_DEFS.find((d) => d.key === spec.sweep!.key);
    if (!def || (def.kind !== 'number' && def.kind !== 'int')) {
      throw new OptionError(`invalid --sweep: ${String(spec.sweep.key)} is not a numeric option; sweep one of ${OPTION_DEFS.filter((d) => d.kind === 'number' || d.kind === 'int').map((d) => d.key).join(', ')}`);
    }
    if (!spec.sweep.values.length) throw new OptionError('invalid --sweep: no values');
  }
  const memo = new Map<string, string>();
  const jobs: BatchJob[] = [];
  const names = new Set<string>();
  for (const row of rows) {
    for (const value of spec.sweep ? spec.sweep.values : [undefined]) {
      const options: Partial<StylizeOptions> = { ...spec.options, ...row.options, ...(spec.sweep && value !== undefined ? { [spec.sweep.key]: value } : {}) };
      validateOptions(options); // every job's options, before any work
      const hash = createHash('sha256').update(await fileHash(row.content, memo));
      for (const s of row.styles) hash.update(await fileHash(s, memo));
      hash.update(canonical(options));
      const sweepPart = spec.sweep && value !== undefined ? `--${spec.sweep.key}-${String(value)}` : '';
      const output = row.output ?? path.join(outDir, `${slug(row.content)}--${row.styles.map(slug).join('+')}${sweepPart}--${hash.digest('hex').slice(0, 10)}.${ext}`);
      if (names.has(output)) throw new OptionError(`two jobs of the batch write ${output}; give each manifest row its own output`);
      names.add(output);
      jobs.push({ content: row.content, styles: row.styles, options, output });
    }
  }
  return jobs;
}

/** What happened to one job. */
export interface JobOutcome {
  readonly job: BatchJob;
  readonly status: 'done' | 'failed' | 'skipped' | 'cancelled';
  readonly loss?: number;
  readonly terms?: Readonly<Record<string, number>>;
  readonly error?: string;
  readonly seconds?: number;
}

export interface BatchSummary {
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
  /** Not run or stopped by the signal. */
  readonly cancelled: number;
  readonly outcomes: readonly JobOutcome[];
}

/** Progress of a batch: jobs ended so far, and the steps of those running. */
export type BatchEvent =
  | { type: 'batch-start'; jobs: number; skipped: number }
  | { type: 'job'; outcome: JobOutcome }
  | { type: 'progress'; ended: number; total: number; running: { output: string; iteration: number; iterations: number }[] };

export interface BatchControl {
  /** The queue to run on (default: a LocalQueue of `concurrency` worker threads, closed at the end). */
  readonly queue?: JobQueue;
  /** Jobs at once on the default queue (default 1). */
  readonly concurrency?: number;
  /** Memory budget in GB of all jobs together on the default queue (each gets its share). */
  readonly maxMemory?: number;
  readonly onEvent?: (e: BatchEvent) => void;
  /** Stops feeding jobs and cancels those running; they write nothing. */
  readonly signal?: AbortSignal;
}

/** Writes a job's PNG result to its output, converted to the output's format, atomically. */
async function writeResult(png: Uint8Array, output: string): Promise<void> {
  const format = formatOf(output);
  await fs.mkdir(path.dirname(output), { recursive: true });
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    if (format === 'png') await fs.writeFile(tmp, png);
    else await sharp(png).toFormat(format, format === 'jpeg' ? { quality: 95 } : {}).toFile(tmp);
    await fs.rename(tmp, output);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Runs a batch's jobs: those whose output exists are skipped; the rest go through the queue at
 * most `2 × concurrency` at a time (so a large batch never holds every input in memory), and each
 * result is written when its job is done.
 * @throws OptionError when `jobs` is not an array of well-formed jobs (as `planBatch` makes them).
 */
export async function runBatch(jobs: readonly BatchJob[], control: BatchControl = {}): Promise<BatchSummary> {
  const wellFormed = (j: Partial<BatchJob> | null) => typeof j === 'object' && j !== null && typeof j.content === 'string' && j.content !== ''
    && Array.isArray(j.styles) && j.styles.length > 0 && j.styles.every((s) => typeof s === 'string' && s !== '')
    && typeof j.output === 'string' && j.output !== '' && typeof j.options === 'object' && j.options !== null;
  if (!Array.isArray(jobs)) throw new OptionError(`runBatch: expected an array of jobs (from planBatch), received ${jobs === null ? 'null' : typeof jobs}`);
  const malformed = (jobs as readonly (Partial<BatchJob> | null)[]).findIndex((j) => !wellFormed(j));
  if (malformed >= 0) throw new OptionError(`runBatch: job ${malformed + 1} is not a job: expected { content, styles (at least one), output: non-empty paths; options: an object }, as planBatch makes them`);
  const emit = control.onEvent ?? (() => {});
  const concurrency = control.concurrency ?? 1;
  const ownQueue = !control.queue;
  const dir = ownQueue ? await fs.mkdtemp(path.join(os.tmpdir(), 'impasto-batch-')) : '';
  const queue = control.queue ?? new LocalQueue({
    jobs: concurrency, queueSize: concurrency, dir, keepMs: 24 * 3600_000, maxPixels: MAX_INPUT_PIXELS, imageEvery: 0,
    threads: Math.max(1, Math.floor(os.availableParallelism() / concurrency)), ...(control.maxMemory !== undefined ? { maxMemory: control.maxMemory } : {}),
  });
  const outcomes: JobOutcome[] = [];
  const todo: BatchJob[] = [];
  for (const job of jobs) {
    if ((await fs.stat(job.output).catch(() => null))?.isFile()) outcomes.push({ job, status: 'skipped' });
    else todo.push(job);
  }
  emit({ type: 'batch-start', jobs: jobs.length, skipped: outcomes.length });
  for (const o of outcomes) emit({ type: 'job', outcome: o });
  const running = new Map<string, { job: BatchJob; iteration: number; iterations: number; started: number }>();
  const progress = () => emit({ type: 'progress', ended: outcomes.length, total: jobs.length, running: [...running.values()].map((r) => ({ output: r.job.output, iteration: r.iteration, iterations: r.iterations })) });
  const end = (o: JobOutcome) => {
    outcomes.push(o);
    emit({ type: 'job', outcome: o });
    progress();
  };

  const runOne = async (job: BatchJob): Promise<void> => {
    if (control.signal?.aborted) return end({ job, status: 'cancelled' });
    const started = performance.now();
    let id: string;
    try {
      const content = { name: `content ${job.content}`, bytes: await readInput(job.content) };
      const styles = [];
      for (const s of job.styles) styles.push({ name: `style ${s}`, bytes: await readInput(s) });
      id = await queue.submit({ content, styles, options: job.options });
    } catch (err) {
      return end({ job, status: 'failed', error: (err as Error).message });
    }
    const final = await new Promise<JobStatus>((resolve) => {
      const entry = { job, iteration: 0, iterations: 0, started };
      running.set(id, entry);
      const onAbort = () => queue.cancel(id);
      control.signal?.addEventListener('abort', onAbort, { once: true });
      queue.subscribe(id, (e: JobEvent) => {
        if (e.type === 'start') entry.iterations = (e as unknown as { iterations: number }).iterations;
        else if (e.type === 'iterate') {
          entry.iteration = (e as unknown as { iteration: number }).iteration;
          progress();
        } else if (e.type === 'status') {
          const s = (e as { job: JobStatus }).job;
          if (['done', 'failed', 'cancelled'].includes(s.status)) {
            control.signal?.removeEventListener('abort', onAbort);
            resolve(s);
          }
        }
      });
    });
    running.delete(id);
    const seconds = (performance.now() - started) / 1000;
    if (final.status !== 'done') return end({ job, status: final.status === 'cancelled' ? 'cancelled' : 'failed', error: final.error, seconds });
    try {
      const img = await queue.image(id);
      if (!img) throw new Error('the queue returned no image');
      await writeResult(img.bytes, job.output);
      end({ job, status: 'done', loss: final.loss ?? undefined, terms: final.terms, seconds });
    } catch (err) {
      end({ job, status: 'failed', error: `cannot write ${job.output}: ${(err as Error).message}`, seconds });
    }
  };

  // Feed the queue: at most 2 × concurrency jobs submitted and not yet ended.
  const lanes = Math.max(1, 2 * concurrency);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(lanes, todo.length) }, async () => {
    while (next < todo.length) await runOne(todo[next++]!);
  }));
  if (ownQueue) {
    await queue.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  const count = (s: JobOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  return { done: count('done'), failed: count('failed'), skipped: count('skipped'), cancelled: count('cancelled'), outcomes };
}
