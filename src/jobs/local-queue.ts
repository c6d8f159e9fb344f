/**
 * The embedded job queue: jobs run in worker threads on this machine, at most `jobs` at once,
 * with at most `queueSize` waiting; results are PNG files under `<dir>/<id>/`, removed with their
 * job after `keepMs`.
 *
 * Memory: each running job gets `maxMemory / jobs` as its budget (the pipeline plans within it:
 * tiles, or a refusal before any work, pipeline/plan.ts), the uploads of a waiting job are held
 * (at most `queueSize` × the upload limit), and a running job holds its latest preview PNG.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { JOB_ID, QueueFullError, type JobEvent, type JobImage, type JobInput, type JobQueue, type JobState, type JobStatus } from './jobs.js';
import type { WorkerJob, WorkerMessage } from './job-worker.js';
import { OptionError } from '../errors.js';

export interface LocalQueueOptions {
  /** Jobs running at once (each a worker thread). */
  readonly jobs: number;
  /** Jobs waiting at most; one more is refused with QueueFullError. */
  readonly queueSize: number;
  /** Folder for results: `<dir>/<id>/result.png`. Created if missing. */
  readonly dir: string;
  /** How long a finished job (and its result file) is kept, in ms. */
  readonly keepMs: number;
  /** Largest upload decoded, in pixels. */
  readonly maxPixels: number;
  /** A preview every this many steps, for jobs whose input does not set its own. */
  readonly imageEvery: number;
  /** ONNX Runtime threads per job (default: the cores shared among `jobs`). */
  readonly threads?: number;
  /** The memory budget of all running jobs together, in GB (default: the pipeline's default budget, shared). */
  readonly maxMemory?: number;
  /** A cancelled job's worker is terminated if it has not stopped after this many ms. */
  readonly cancelGraceMs?: number;
}

interface Job {
  readonly id: string;
  state: JobState;
  readonly created: Date;
  started?: Date;
  finished?: Date;
  iteration: number;
  iterations: number;
  loss: number | null;
  terms?: Record<string, number>;
  error?: string;
  scale?: JobStatus['scale'];
  input?: JobInput;
  worker?: Worker;
  cancelRequested: boolean;
  preview?: JobImage;
  result?: { file: string; iteration: number };
  readonly listeners: Set<(e: JobEvent) => void>;
}

/** The worker's module beside this one (job-worker.js when built, .ts under tsx). */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./job-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
/**
 * Under tsx (tests, development) a worker does not inherit the TypeScript loader on Node 20, so it
 * registers tsx first; the built package runs plain JS.
 */
function newWorker(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, options);
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

const FINISHED: readonly JobState[] = ['done', 'failed', 'cancelled'];

export class LocalQueue implements JobQueue {
  readonly #o: Required<Omit<LocalQueueOptions, 'threads' | 'maxMemory'>> & Pick<LocalQueueOptions, 'threads' | 'maxMemory'>;
  readonly #jobs = new Map<string, Job>();
  readonly #waiting: Job[] = [];
  #running = 0;
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;

  /** @throws OptionError for an option out of its range (each named), before any thread or timer starts. */
  constructor(options: LocalQueueOptions) {
    const o = options as Partial<LocalQueueOptions> | null;
    const count = (v: unknown, min: number) => Number.isInteger(v) && (v as number) >= min;
    const positive = (v: unknown) => typeof v === 'number' && v > 0 && v < Infinity;
    const checks: [string, boolean, string][] = [
      ['jobs', count(o?.jobs, 1), 'an integer ≥ 1'], ['queueSize', count(o?.queueSize, 0), 'an integer ≥ 0'],
      ['dir', typeof o?.dir === 'string' && o.dir !== '', 'a folder path'], ['keepMs', positive(o?.keepMs), 'a number of ms > 0'],
      ['maxPixels', positive(o?.maxPixels), 'a number > 0'], ['imageEvery', count(o?.imageEvery, 0), 'an integer ≥ 0'],
      ['threads', o?.threads === undefined || count(o.threads, 1), 'an integer ≥ 1'], ['maxMemory', o?.maxMemory === undefined || positive(o.maxMemory), 'a number of GB > 0'],
      ['cancelGraceMs', o?.cancelGraceMs === undefined || (typeof o.cancelGraceMs === 'number' && o.cancelGraceMs >= 0), 'a number of ms ≥ 0'],
    ];
    const bad = checks.find(([, ok]) => !ok);
    if (bad) throw new OptionError(`LocalQueue: invalid ${bad[0]}: expected ${bad[2]}, received ${String((o as Record<string, unknown> | null)?.[bad[0]])}`);
    this.#o = { cancelGraceMs: 15_000, ...options };
    this.#sweeper = setInterval(() => void this.#sweep(), Math.min(options.keepMs, 10 * 60_000)).unref();
    void this.#sweepFolder();
  }

  async submit(input: JobInput): Promise<string> {
    if (this.#closed) throw new Error('the queue is closed');
    if (this.#waiting.length >= this.#o.queueSize) throw new QueueFullError(this.#o.queueSize);
    // Own copies: an upload's Buffer may be a view of a shared pool, and these are transferred.
    const own = (b: Uint8Array) => new Uint8Array(b);
    const job: Job = {
      id: randomUUID(), state: 'queued', created: new Date(), iteration: 0, iterations: 0, loss: null, cancelRequested: false, listeners: new Set(),
      input: { content: { name: input.content.name, bytes: own(input.content.bytes) }, styles: input.styles.map((s) => ({ name: s.name, bytes: own(s.bytes) })), options: structuredClone(input.options), ...(input.imageEvery !== undefined ? { imageEvery: input.imageEvery } : {}) },
    };
    this.#jobs.set(job.id, job);
    this.#waiting.push(job);
    this.#pump();
    return job.id;
  }

  status(id: string): JobStatus | undefined {
    const job = this.#get(id);
    return job && this.#statusOf(job);
  }

  subscribe(id: string, listener: (e: JobEvent) => void): (() => void) | undefined {
    const job = this.#get(id);
    if (!job) return undefined;
    listener({ type: 'status', job: this.#statusOf(job) });
    if (FINISHED.includes(job.state)) return () => {};
    job.listeners.add(listener);
    return () => job.listeners.delete(listener);
  }

  async image(id: string): Promise<JobImage | undefined> {
    const job = this.#get(id);
    if (!job) return undefined;
    if (job.result) {
      const bytes = await fs.readFile(job.result.file).catch(() => undefined);
      return bytes && { bytes: new Uint8Array(bytes), type: 'image/png', iteration: job.result.iteration, final: true };
    }
    return job.preview;
  }

  cancel(id: string): boolean {
    const job = this.#get(id);
    if (!job) return false;
    if (job.state === 'queued') {
      this.#waiting.splice(this.#waiting.indexOf(job), 1);
      job.input = undefined;
      this.#finish(job, 'cancelled');
    } else if (job.state === 'running' && !job.cancelRequested) {
      job.cancelRequested = true;
      job.worker?.postMessage({ type: 'cancel' });
      const worker = job.worker;
      setTimeout(() => { if (job.state === 'running' && job.worker === worker) void worker?.terminate(); }, this.#o.cancelGraceMs).unref();
    }
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const job of [...this.#waiting]) this.cancel(job.id);
    const running = [...this.#jobs.values()].filter((j) => j.state === 'running');
    await Promise.all(running.map((j) => new Promise<void>((resolve) => {
      if (!j.worker) return resolve();
      j.worker.once('exit', () => resolve());
      this.cancel(j.id);
    })));
  }

  // --- internals -------------------------------------------------------------------------------

  #get(id: string): Job | undefined {
    return JOB_ID.test(id) ? this.#jobs.get(id) : undefined;
  }

  #statusOf(job: Job): JobStatus {
    return {
      id: job.id, status: job.state, iteration: job.iteration, iterations: job.iterations, loss: job.loss,
      ...(job.terms ? { terms: job.terms } : {}), ...(job.error !== undefined ? { error: job.error } : {}), ...(job.scale ? { scale: job.scale } : {}),
      hasImage: Boolean(job.result || job.preview),
      created: job.created.toISOString(), ...(job.started ? { started: job.started.toISOString() } : {}), ...(job.finished ? { finished: job.finished.toISOString() } : {}),
    };
  }

  #emit(job: Job, e: JobEvent): void {
    for (const l of job.listeners) {
      try {
        l(e);
      } catch {
        job.listeners.delete(l); // a listener that throws (a closed stream) is dropped
      }
    }
  }

  #finish(job: Job, state: JobState, error?: string): void {
    job.state = state;
    job.finished = new Date();
    if (error !== undefined) job.error = error;
    job.worker = undefined;
    this.#emit(job, { type: 'status', job: this.#statusOf(job) });
    job.listeners.clear();
  }

  #pump(): void {
    while (!this.#closed && this.#running < this.#o.jobs && this.#waiting.length) this.#start(this.#waiting.shift()!);
  }

  #start(job: Job): void {
    const input = job.input!;
    job.input = undefined; // the worker owns the bytes now
    job.state = 'running';
    job.started = new Date();
    this.#running++;
    const data: WorkerJob = {
      input,
      server: {
        imageEvery: input.imageEvery ?? this.#o.imageEvery,
        ...(this.#o.threads !== undefined ? { threads: this.#o.threads } : {}),
        ...(this.#o.maxMemory !== undefined ? { maxMemory: this.#o.maxMemory / this.#o.jobs } : {}),
      },
      maxPixels: this.#o.maxPixels,
    };
    const transfer = [input.content.bytes.buffer, ...input.styles.map((s) => s.bytes.buffer)] as ArrayBuffer[];
    const worker = newWorker({ workerData: data, transferList: transfer });
    job.worker = worker;
    this.#emit(job, { type: 'status', job: this.#statusOf(job) });
    let ended = false;
    let settling = false; // a 'done' or 'failed' message arrived: its handler ends the job, not 'exit'
    const end = (state: JobState, error?: string) => {
      if (ended) return;
      ended = true;
      this.#running--;
      this.#finish(job, state, error);
      this.#pump();
    };
    worker.on('message', (m: WorkerMessage) => {
      const final = m.type === 'done' || m.type === 'failed';
      if (final) settling = true;
      const handled = this.#onMessage(job, m, end).catch((err) => end('failed', `the result could not be stored: ${(err as Error).message}`));
      // The worker's port keeps its thread alive: end it once its last message is handled, so
      // that its memory (sessions, arenas) goes with the job.
      if (final) void handled.then(() => worker.terminate());
    });
    worker.on('error', (err) => end('failed', `the job's worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (settling) return;
      if (job.cancelRequested) end('cancelled');
      else end('failed', `the job's worker stopped (exit code ${code}) before it finished`);
      void worker.terminate();
    });
  }

  async #onMessage(job: Job, m: WorkerMessage, end: (s: JobState, e?: string) => void): Promise<void> {
    switch (m.type) {
      case 'event': {
        const e = m.event;
        if (e.type === 'start') job.iterations = e.iterations as number;
        else if (e.type === 'scale') job.scale = { index: e.index as number, count: e.count as number, width: e.width as number, height: e.height as number };
        else if (e.type === 'iterate') {
          job.iteration = e.iteration as number;
          job.loss = e.loss as number;
        }
        this.#emit(job, m.event as JobEvent);
        return;
      }
      case 'preview':
        job.preview = { bytes: m.png, type: 'image/png', iteration: m.iteration, final: false };
        this.#emit(job, { type: 'preview', iteration: m.iteration, url: `/api/jobs/${job.id}/image?iteration=${m.iteration}` });
        return;
      case 'done': {
        const file = path.join(this.#o.dir, job.id, 'result.png');
        await fs.mkdir(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        await fs.writeFile(tmp, m.png);
        await fs.rename(tmp, file);
        job.result = { file, iteration: m.iteration };
        job.preview = undefined;
        job.iteration = m.iteration;
        job.loss = m.loss;
        job.terms = m.terms;
        this.#emit(job, { type: 'preview', iteration: m.iteration, url: `/api/jobs/${job.id}/image?iteration=${m.iteration}&final=1` });
        end(job.cancelRequested ? 'cancelled' : 'done');
        return;
      }
      case 'failed':
        end(job.cancelRequested ? 'cancelled' : 'failed', job.cancelRequested ? undefined : m.message);
    }
  }

  /** Forgets finished jobs older than `keepMs`, with their files. */
  async #sweep(): Promise<void> {
    const limit = Date.now() - this.#o.keepMs;
    for (const job of this.#jobs.values()) {
      if (job.finished && job.finished.getTime() < limit) {
        this.#jobs.delete(job.id);
        await fs.rm(path.join(this.#o.dir, job.id), { recursive: true, force: true });
      }
    }
  }

  /** At start: removes job folders (named by id) older than `keepMs` left by an earlier server. */
  async #sweepFolder(): Promise<void> {
    const names = await fs.readdir(this.#o.dir).catch(() => [] as string[]);
    const limit = Date.now() - this.#o.keepMs;
    for (const name of names) {
      if (!JOB_ID.test(name) || this.#jobs.has(name)) continue;
      const st = await fs.stat(path.join(this.#o.dir, name)).catch(() => undefined);
      if (st && st.mtimeMs < limit) await fs.rm(path.join(this.#o.dir, name), { recursive: true, force: true });
    }
  }
}
