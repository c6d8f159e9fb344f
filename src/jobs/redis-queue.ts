/**
 * The distributed queue behind the JobQueue interface, on BullMQ and Redis (`impasto batch
 * --queue`, `impasto serve --queue`, `impasto worker`).
 *
 *   producer (impasto batch / serve --queue redis://…)          worker (impasto worker --queue redis://…)
 *   RedisQueue.submit ── BullMQ job {content, styles, options} ──▶ BullMQ Worker ──▶ LocalQueue (threads)
 *        ▲   QueueEvents: progress = pipeline events (and preview PNGs when asked),
 *        │                completed = {png, loss, terms}, failed = reason
 *        └── cancel: removes a waiting job; for a running one, a key plus a message on CANCEL_CHANNEL
 *
 * Jobs carry their inputs (base64, within MAX_JOB_BYTES) and bring their result back the same
 * way: a worker needs no shared filesystem.
 *
 * Faults:
 * - A bad input fails once (UnrecoverableError); other failures are retried up to `attempts`.
 * - A worker that dies mid-job stops renewing its job's lock; another worker's stalled-job check
 *   (every 5 s) hands the job on once the lock's 10 s have passed.
 * - A worker stopped by SIGTERM finishes its jobs within a grace period, then hands the rest back
 *   to the waiting list (`moveToWait`: no attempt is spent).
 * - Redis restarting: ioredis reconnects every client (retrying forever); QueueEvents reads on from
 *   the last event id it saw. Events are not produced while Redis is down, so the producer also
 *   polls the state of its unfinished jobs every RECONCILE_MS and settles those that ended unseen.
 *   Redis must keep its data across the restart (appendonly, or an RDB save on shutdown).
 * - Nothing is written twice: a producer settles each job once, whatever a retry re-runs.
 *
 * Status is a mirror of what this producer has seen of the jobs it submitted (JobQueue's calls
 * are synchronous); a second producer does not see them.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { QueueFullError, type JobEvent, type JobImage, type JobInput, type JobQueue, type JobState, type JobStatus } from './jobs.js';
import type { LocalQueue } from './local-queue.js';
import { OptionError } from '../errors.js';

/** The BullMQ queue's name. */
export const QUEUE_NAME = 'impasto-stylize';
/**
 * Largest job (its encoded inputs together), in bytes, checked by the producer and again by the
 * worker; a finished job's PNG is bounded the same (a 4000×3000 result is about 25 MB).
 */
export const MAX_JOB_BYTES = 64 * 1024 * 1024;
/** Pub/sub channel on which a producer asks workers to stop a running job (message: its id). */
export const CANCEL_CHANNEL = `${QUEUE_NAME}:cancel`;
/** Key prefix marking a job cancelled (kept a day), for a worker that starts it after the message. */
const CANCEL_KEY = `${QUEUE_NAME}:cancelled:`;
/** The failure reason of a job cancelled on its worker. */
const CANCELLED = 'cancelled by its producer';
/** How often a producer polls its unfinished jobs for ends it has not seen as events, in ms. */
export const RECONCILE_MS = 3000;
/** The fewest ms between two preview PNGs a worker sends for one job. */
const PREVIEW_MS = 2000;

interface WireImage { name: string; b64: string }
interface WireJob { content: WireImage; styles: WireImage[]; options: JobInput['options']; imageEvery?: number }
interface WireResult { png: string; iteration: number; loss: number | null; terms?: Record<string, number> }

/**
 * `redis://host[:port][/db]` → ioredis options (port 6379 and db 0 by default).
 * @throws OptionError for anything else: another scheme, no host, a db that is not a number.
 */
export function connectionOf(url: string): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const bad = () => new OptionError(`invalid --queue ${typeof url === 'string' ? `'${url}'` : typeof url}: expected redis://HOST:PORT (optionally /DB, a number)`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad();
  }
  const db = u.pathname === '' || u.pathname === '/' ? 0 : Number(u.pathname.slice(1));
  if (u.protocol !== 'redis:' || u.hostname === '' || !Number.isInteger(db) || db < 0) throw bad();
  return { host: u.hostname, port: Number(u.port || 6379), db, maxRetriesPerRequest: null };
}

interface Mirror {
  status: JobStatus;
  listeners: Set<(e: JobEvent) => void>;
  image?: JobImage;
}

const FINAL: readonly JobState[] = ['done', 'failed', 'cancelled'];

export interface RedisQueueOptions {
  /** Jobs waiting in Redis at most; one more is refused with QueueFullError. */
  readonly queueSize: number;
  /** Runs of a job before it fails (a worker's death or an error other than a bad input). Default 3. */
  readonly attempts?: number;
  /** Ask workers for a preview PNG every this many steps (at most one each 2 s); 0: none (default). */
  readonly imageEvery?: number;
  /** How long this producer keeps a finished job's status and image, in ms (default 1 hour). */
  readonly keepMs?: number;
}

export class RedisQueue implements JobQueue {
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #pub: Redis;
  readonly #jobs = new Map<string, Mirror>();
  readonly #reconciler: NodeJS.Timeout;

  constructor(url: string, readonly options: RedisQueueOptions) {
    const connection = connectionOf(url);
    this.#queue = new Queue(QUEUE_NAME, { connection });
    this.#queue.on('error', () => {}); // connection errors: ioredis reconnects
    this.#events = new QueueEvents(QUEUE_NAME, { connection });
    this.#events.on('error', () => {});
    this.#pub = new Redis(connection);
    this.#pub.on('error', () => {});
    this.#events.on('active', ({ jobId }) => this.#update(jobId, { status: 'running', started: new Date().toISOString() }));
    this.#events.on('waiting', ({ jobId }) => { if (this.#jobs.get(jobId)?.status.status === 'running') this.#update(jobId, { status: 'queued' }); });
    this.#events.on('progress', ({ jobId, data }) => {
      const e = data as unknown as Record<string, unknown> & { type: string };
      const m = this.#jobs.get(jobId);
      if (!m || FINAL.includes(m.status.status)) return;
      if (e.type === 'preview-png') {
        m.image = { bytes: Buffer.from(e.png as string, 'base64'), type: 'image/png', iteration: e.iteration as number, final: false };
        this.#update(jobId, { hasImage: true }, false);
        this.#emit(jobId, { type: 'preview', iteration: e.iteration as number, url: `/api/jobs/${jobId}/image?iteration=${e.iteration as number}` });
        return;
      }
      if (e.type === 'start') this.#update(jobId, { iterations: e.iterations as number }, false);
      if (e.type === 'iterate') this.#update(jobId, { iteration: e.iteration as number, loss: e.loss as number }, false);
      this.#emit(jobId, e);
    });
    this.#events.on('completed', ({ jobId, returnvalue }) => this.#complete(jobId, returnvalue as unknown as WireResult));
    this.#events.on('failed', ({ jobId }) => void this.#check(jobId));
    this.#reconciler = setInterval(() => {
      const expired = Date.now() - (this.options.keepMs ?? 3600_000);
      for (const [id, m] of this.#jobs) {
        if (!FINAL.includes(m.status.status)) void this.#check(id);
        else if (Date.parse(m.status.finished!) < expired) this.#jobs.delete(id);
      }
    }, RECONCILE_MS);
    this.#reconciler.unref();
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
    const imageEvery = input.imageEvery ?? this.options.imageEvery ?? 0;
    await this.#queue.add('stylize', { content: wire(input.content), styles: input.styles.map(wire), options: input.options, ...(imageEvery ? { imageEvery } : {}) } satisfies WireJob, {
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
    if (FINAL.includes(m.status.status)) return () => {};
    m.listeners.add(listener);
    return () => m.listeners.delete(listener);
  }

  async image(id: string): Promise<JobImage | undefined> {
    return this.#jobs.get(id)?.image;
  }

  /**
   * Cancels a job: a waiting (or delayed) one is removed; a running one is marked cancelled in
   * Redis and its worker told on CANCEL_CHANNEL, which stops it and fails it with CANCELLED (no
   * retry). Either way it ends as `cancelled` here.
   */
  cancel(id: string): boolean {
    const m = this.#jobs.get(id);
    if (!m) return false;
    if (!FINAL.includes(m.status.status)) void this.#cancel(id).catch(() => {});
    return true;
  }

  async #cancel(id: string): Promise<void> {
    const removed = await this.#queue.remove(id).catch(() => 0); // a locked (running) job cannot be removed
    if (removed) return this.#update(id, { status: 'cancelled', finished: new Date().toISOString() });
    await this.#pub.set(CANCEL_KEY + id, '1', 'EX', 24 * 3600);
    await this.#pub.publish(CANCEL_CHANNEL, id);
  }

  /**
   * Stops following the queue. With `cancelUnfinished` (the server stopping), the jobs this
   * producer submitted and that have not ended are cancelled first, so that no worker runs on
   * for a result nobody will collect; without it (a batch), they stay queued for a later run.
   */
  async close(options: { cancelUnfinished?: boolean } = {}): Promise<void> {
    clearInterval(this.#reconciler);
    if (options.cancelUnfinished) {
      const open = [...this.#jobs].filter(([, m]) => !FINAL.includes(m.status.status)).map(([id]) => id);
      await Promise.all(open.map((id) => this.#cancel(id).catch(() => {})));
    }
    await this.#events.close();
    await this.#queue.close();
    this.#pub.disconnect();
  }

  /** Settles a job from its state in Redis if it has ended (an event may have been missed). */
  async #check(id: string): Promise<void> {
    const job = await this.#queue.getJob(id).catch(() => undefined);
    if (!job) return;
    const state = await job.getState().catch(() => 'unknown');
    if (state === 'completed') this.#complete(id, job.returnvalue as WireResult);
    else if (state === 'failed') {
      const cancelled = job.failedReason === CANCELLED;
      this.#update(id, { status: cancelled ? 'cancelled' : 'failed', ...(cancelled ? {} : { error: job.failedReason }), finished: new Date().toISOString() });
    }
  }

  #complete(id: string, r: WireResult): void {
    const m = this.#jobs.get(id);
    if (!m || FINAL.includes(m.status.status) || !r?.png) return;
    m.image = { bytes: Buffer.from(r.png, 'base64'), type: 'image/png', iteration: r.iteration, final: true };
    this.#update(id, { status: 'done', iteration: r.iteration, loss: r.loss, ...(r.terms ? { terms: r.terms } : {}), hasImage: true, finished: new Date().toISOString() });
  }

  #emit(id: string, e: JobEvent): void {
    for (const l of this.#jobs.get(id)?.listeners ?? []) {
      try {
        l(e);
      } catch {
        this.#jobs.get(id)?.listeners.delete(l); // a listener that throws (a closed stream) is dropped
      }
    }
  }

  /** Patches a job's mirror; a job that has ended is never changed again (each settles once). */
  #update(id: string, patch: Partial<JobStatus> & { status?: JobState }, announce = true): void {
    const m = this.#jobs.get(id);
    if (!m || FINAL.includes(m.status.status)) return;
    m.status = { ...m.status, ...patch };
    if (announce || patch.status) this.#emit(id, { type: 'status', job: m.status });
    if (FINAL.includes(m.status.status)) m.listeners.clear();
  }
}

/** A running `impasto worker`. */
export interface RunningWorker {
  /**
   * Stops taking jobs; lets the current ones run up to `graceMs`, then hands those still running
   * back to the waiting list for another worker; resolves when all have ended here.
   */
  close(graceMs?: number): Promise<void>;
  /** Jobs this worker has handed back. */
  readonly handedBack: number;
}

/**
 * `impasto worker`: takes jobs from the queue at `url`, `concurrency` at a time, and runs each on
 * `local` (a LocalQueue of worker threads, at least `concurrency` jobs at once). `log` receives
 * one plain line as each job starts and ends (`job <id> started …`, `… done in 3.2 s`, `… failed:
 * reason`, `… cancelled`, `… handed back`).
 */
export async function runWorker(url: string, concurrency: number, local: LocalQueue, log: (line: string) => void = () => {}): Promise<RunningWorker> {
  const connection = connectionOf(url);
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new OptionError(`runWorker: invalid concurrency ${String(concurrency)}: expected an integer ≥ 1`);
  if (typeof (local as Partial<LocalQueue> | null)?.submit !== 'function') throw new OptionError('runWorker: expected a LocalQueue to run the jobs on');
  if (typeof log !== 'function') throw new OptionError('runWorker: the log, when given, is a function (line: string) => void');
  /** BullMQ job id → this worker's LocalQueue job id, and whether it is being handed back. */
  const running = new Map<string, { localId: string; handBack: boolean }>();
  const control = new Redis(connection); // plain commands (the cancel key)
  control.on('error', () => {});
  const sub = new Redis(connection);     // subscriber connection (the cancel channel)
  sub.on('error', () => {});
  await sub.subscribe(CANCEL_CHANNEL);
  sub.on('message', (_channel: string, jobId: string) => {
    const r = running.get(jobId);
    if (r) local.cancel(r.localId);
  });
  let handedBack = 0;

  const worker = new Worker(QUEUE_NAME, async (job: Job<WireJob>, token?: string) => {
    const d = job.data;
    const t0 = performance.now();
    // A job from any producer is checked: its images within MAX_JOB_BYTES (base64: 4 characters per 3 bytes).
    const b64 = [d?.content, ...(d?.styles ?? [])].reduce((a, i) => a + (typeof i?.b64 === 'string' ? i.b64.length : Infinity), 0);
    if (!(b64 * 0.75 <= MAX_JOB_BYTES) || !Array.isArray(d.styles) || !d.styles.length) {
      log(`job ${job.id} refused: not a stylisation job within ${MAX_JOB_BYTES} bytes`);
      throw new UnrecoverableError(`invalid job: expected a content and at least one style image, ${MAX_JOB_BYTES} bytes at most in all`);
    }
    log(`job ${job.id} started (attempt ${job.attemptsMade + 1}): ${[d.content, ...d.styles].map((x) => x.name).join(', ')}`);
    const id = await local.submit({
      content: { name: d.content.name, bytes: Buffer.from(d.content.b64, 'base64') },
      styles: d.styles.map((s) => ({ name: s.name, bytes: Buffer.from(s.b64, 'base64') })),
      options: d.options,
      imageEvery: d.imageEvery ?? 0,
    });
    const entry = { localId: id, handBack: false };
    running.set(job.id!, entry);
    try {
      // A cancel published before this job was registered here is found by its key.
      if (await control.exists(CANCEL_KEY + job.id).catch(() => 0)) local.cancel(id);
      const final = await new Promise<JobStatus>((resolve) => {
        let lastIterate = 0;
        let lastPreview = 0;
        local.subscribe(id, (e) => {
          if (e.type === 'status') {
            const s = (e as { job: JobStatus }).job;
            if (FINAL.includes(s.status)) resolve(s);
          } else if (e.type === 'preview') {
            if (Date.now() - lastPreview < PREVIEW_MS) return;
            lastPreview = Date.now();
            void local.image(id).then(async (img) => {
              if (img && !img.final) await job.updateProgress({ type: 'preview-png', iteration: img.iteration, png: Buffer.from(img.bytes).toString('base64') });
            }).catch(() => {});
          } else if (e.type !== 'iterate' || Date.now() - lastIterate > 500) {
            lastIterate = Date.now();
            void job.updateProgress(e as unknown as object).catch(() => {});
          }
        });
      });
      if (final.status === 'cancelled' && entry.handBack) {
        // Back to the waiting list for another worker; BullMQ counts no attempt for it.
        await job.moveToWait(token);
        handedBack++;
        log(`job ${job.id} handed back to the queue`);
        throw new WaitingError();
      }
      if (final.status === 'cancelled') {
        log(`job ${job.id} cancelled`);
        throw new UnrecoverableError(CANCELLED);
      }
      if (final.status !== 'done') {
        log(`job ${job.id} failed: ${final.error ?? final.status}`);
        // Inputs and options were bad: no retry can help.
        if (final.error && /^(cannot read|cannot decode|invalid|unknown option)/.test(final.error)) throw new UnrecoverableError(final.error);
        throw new Error(final.error ?? `the job was ${final.status}`);
      }
      const img = await local.image(id);
      if (!img) throw new Error('the finished job has no image');
      if (img.bytes.length > MAX_JOB_BYTES) throw new UnrecoverableError(`the result PNG holds ${img.bytes.length} bytes, more than the ${MAX_JOB_BYTES} a job may send back; ask for a smaller --size`);
      log(`job ${job.id} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return { png: Buffer.from(img.bytes).toString('base64'), iteration: final.iteration, loss: final.loss, terms: final.terms } satisfies WireResult;
    } finally {
      running.delete(job.id!);
    }
  }, { connection, concurrency, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 2 });
  worker.on('error', () => {}); // connection errors: ioredis reconnects
  await worker.waitUntilReady();
  return {
    get handedBack() { return handedBack; },
    close: async (graceMs = 0) => {
      const closing = worker.close(); // stops fetching, then waits for the running jobs
      const timer = setTimeout(() => {
        for (const r of running.values()) {
          r.handBack = true;
          local.cancel(r.localId);
        }
      }, graceMs);
      await closing;
      clearTimeout(timer);
      sub.disconnect();
      control.disconnect();
      await local.close();
    },
  };
}
