/**
 * The distributed queue behind the JobQueue interface, on BullMQ and Redis (`impasto batch
 * --queue`, `impasto worker`).
 *
 *   producer (impasto batch / serve --queue redis://…)          worker (impasto worker --queue redis://…)
 *   RedisQueue.submit ── BullMQ job {content, styles, options} ──▶ BullMQ Worker ──▶ LocalQueue (threads)
 *        ▲   QueueEvents: progress = pipeline events, completed = {png, loss, terms}, failed = reason
 *
 * Jobs carry their inputs (base64, within MAX_JOB_BYTES) and bring their result back the same
 * way: a worker needs no shared filesystem. A bad input fails once (UnrecoverableError); other
 * failures are retried up to `attempts`; a worker that dies mid-job stops renewing its job's lock,
 * and another worker's stalled-job check (every 5 s) hands the job on after the lock's 10 s.
 *
 * Status is a mirror of the events this producer has seen for the jobs it submitted (JobQueue's
 * calls are synchronous).
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { QueueFullError, type JobEvent, type JobImage, type JobInput, type JobQueue, type JobState, type JobStatus } from './jobs.js';
import { LocalQueue } from './local-queue.js';

/** The BullMQ queue's name. */
export const QUEUE_NAME = 'impasto-stylize';
/** Largest job (its encoded inputs together), in bytes. */
export const MAX_JOB_BYTES = 64 * 1024 * 1024;

interface WireImage { name: string; b64: string }
interface WireJob { content: WireImage; styles: WireImage[]; options: JobInput['options'] }
interface WireResult { png: string; iteration: number; loss: number | null; terms?: Record<string, number> }

/** `redis://host:port[/db]` → ioredis options. @throws Error for another scheme */
export function connectionOf(url: string): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`invalid --queue ${url}: expected redis://HOST:PORT`);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

interface Mirror {
  status: JobStatus;
  listeners: Set<(e: JobEvent) => void>;
  image?: JobImage;
}

export class RedisQueue implements JobQueue {
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #jobs = new Map<string, Mirror>();

  constructor(url: string, readonly options: { queueSize: number; attempts?: number }) {
    const connection = connectionOf(url);
    this.#queue = new Queue(QUEUE_NAME, { connection });
    this.#events = new QueueEvents(QUEUE_NAME, { connection });
    this.#events.on('active', ({ jobId }) => this.#update(jobId, { status: 'running', started: new Date().toISOString() }));
    this.#events.on('progress', ({ jobId, data }) => {
      const e = data as unknown as JobEvent & Record<string, unknown>;
      if (e.type === 'start') this.#update(jobId, { iterations: e.iterations as number });
      if (e.type === 'iterate') this.#update(jobId, { iteration: e.iteration as number, loss: e.loss as number }, false);
      this.#emit(jobId, e);
    });
    this.#events.on('completed', ({ jobId, returnvalue }) => {
      const r = returnvalue as unknown as WireResult;
      const m = this.#jobs.get(jobId);
      if (!m) return;
      m.image = { bytes: Buffer.from(r.png, 'base64'), type: 'image/png', iteration: r.iteration, final: true };
      this.#update(jobId, { status: 'done', iteration: r.iteration, loss: r.loss, ...(r.terms ? { terms: r.terms } : {}), hasImage: true, finished: new Date().toISOString() });
    });
    this.#events.on('failed', ({ jobId, failedReason }) => {
      void this.#queue.getJob(jobId).then(async (job) => {
        // A failure that will be retried is not final.
        if (job && (await job.getState()) !== 'failed') return;
        this.#update(jobId, { status: 'failed', error: failedReason, finished: new Date().toISOString() });
      });
    });
  }

  async ready(): Promise<void> {
    await this.#events.waitUntilReady();
    await this.#queue.waitUntilReady();
  }

  async submit(input: JobInput): Promise<string> {
    const bytes = input.content.bytes.length + input.styles.reduce((a, s) => a + s.bytes.length, 0);
    if (bytes > MAX_JOB_BYTES) throw new Error(`the job's images hold ${bytes} bytes, more than the ${MAX_JOB_BYTES} a queued job may carry`);
    if ((await this.#queue.getWaitingCount()) >= this.options.queueSize) throw new QueueFullError(this.options.queueSize);
    const id = randomUUID();
    const wire = (i: { name: string; bytes: Uint8Array }) => ({ name: i.name, b64: Buffer.from(i.bytes).toString('base64') });
    const now = new Date().toISOString();
    this.#jobs.set(id, { status: { id, status: 'queued', iteration: 0, iterations: 0, loss: null, hasImage: false, created: now }, listeners: new Set() });
    await this.#queue.add('stylize', { content: wire(input.content), styles: input.styles.map(wire), options: input.options } satisfies WireJob, {
      jobId: id, attempts: this.options.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 },
    });
    return id;
  }

  status(id: string): JobStatus | undefined {
    return this.#jobs.get(id)?.status;
  }

  subscribe(id: string, listener: (e: JobEvent) => void): (() => void) | undefined {
    const m = this.#jobs.get(id);
    if (!m) return undefined;
    listener({ type: 'status', job: m.status });
    if (['done', 'failed', 'cancelled'].includes(m.status.status)) return () => {};
    m.listeners.add(listener);
    return () => m.listeners.delete(listener);
  }

  async image(id: string): Promise<JobImage | undefined> {
    return this.#jobs.get(id)?.image;
  }

  cancel(id: string): boolean {
    const m = this.#jobs.get(id);
    if (!m) return false;
    // A waiting job is removed. A running one runs to its end on its worker (no cancel signal
    // reaches workers yet); the batch that cancels it does not write its result.
    void this.#queue.remove(id).then((removed) => { if (removed) this.#update(id, { status: 'cancelled', finished: new Date().toISOString() }); }, () => {}); // a locked (running) job cannot be removed
    return true;
  }

  async close(): Promise<void> {
    await this.#events.close();
    await this.#queue.close();
  }

  #emit(id: string, e: JobEvent): void {
    for (const l of this.#jobs.get(id)?.listeners ?? []) l(e);
  }

  #update(id: string, patch: Partial<JobStatus> & { status?: JobState }, announce = true): void {
    const m = this.#jobs.get(id);
    if (!m) return;
    m.status = { ...m.status, ...patch };
    if (announce || patch.status) this.#emit(id, { type: 'status', job: m.status });
    if (['done', 'failed', 'cancelled'].includes(m.status.status)) m.listeners.clear();
  }
}

/**
 * `impasto worker`: takes jobs from the queue at `url`, `concurrency` at a time, and runs each on a
 * LocalQueue of worker threads. Returns a function that stops taking jobs and waits for the
 * current ones (SIGTERM).
 */
export async function runWorker(url: string, concurrency: number, local: LocalQueue): Promise<{ close(): Promise<void> }> {
  const worker = new Worker(QUEUE_NAME, async (job: Job<WireJob>) => {
    const d = job.data;
    const id = await local.submit({
      content: { name: d.content.name, bytes: Buffer.from(d.content.b64, 'base64') },
      styles: d.styles.map((s) => ({ name: s.name, bytes: Buffer.from(s.b64, 'base64') })),
      options: d.options,
    });
    const final = await new Promise<JobStatus>((resolve) => {
      let last = 0;
      local.subscribe(id, (e) => {
        if (e.type === 'status') {
          const s = (e as { job: JobStatus }).job;
          if (['done', 'failed', 'cancelled'].includes(s.status)) resolve(s);
        } else if (e.type !== 'preview' && (e.type !== 'iterate' || Date.now() - last > 500)) {
          last = Date.now();
          void job.updateProgress(e as unknown as object);
        }
      });
    });
    if (final.status !== 'done') {
      // Inputs and options were bad: no retry can help.
      if (final.error && /^(cannot read|cannot decode|invalid|unknown option)/.test(final.error)) throw new UnrecoverableError(final.error);
      throw new Error(final.error ?? `the job was ${final.status}`);
    }
    const img = await local.image(id);
    return { png: Buffer.from(img!.bytes).toString('base64'), iteration: final.iteration, loss: final.loss, terms: final.terms } satisfies WireResult;
  }, { connection: connectionOf(url), concurrency, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 2 });
  worker.on('error', () => {}); // connection errors: ioredis reconnects
  await worker.waitUntilReady();
  return { close: async () => { await worker.close(); await local.close(); } };
}
