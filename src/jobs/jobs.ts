/**
 * The job model and the queue interface that the web server and `impasto batch` run
 * stylisations through, on this machine or on workers through Redis.
 *
 *   submit(input) ─▶ queued ─▶ running ─▶ done | failed | cancelled
 *
 * A job carries its inputs as encoded image bytes and remote-checked options (`JobInput`): no
 * path from a request reaches the filesystem. A queue answers a job's status, streams its events,
 * serves its current or final image and cancels it. `LocalQueue` (local-queue.ts) is the embedded
 * default: worker threads on this machine, a bounded number at once, a bounded waiting line.
 * `RedisQueue` (redis-queue.ts) puts the jobs on BullMQ for `impasto worker`s on any machine.
 */
import type { StylizeOptions } from '../pipeline/options.js';

/** An encoded image (JPEG, PNG, …) as uploaded, with the name it is reported by. */
export interface EncodedImage {
  /** How messages name it, e.g. `content "photo.jpg"`; never used as a path. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** What a job is made of: the images and the options a remote request may set. */
export interface JobInput {
  readonly content: EncodedImage;
  readonly styles: readonly EncodedImage[];
  /** Checked by `checkRemoteOptions` and `validateOptions` before the job is queued. */
  readonly options: Partial<StylizeOptions>;
  /**
   * A preview PNG every this many steps, 0 for none; the queue's own period when absent. Set by
   * the operator's code (a worker taking jobs for the web app), never from a request.
   */
  readonly imageEvery?: number;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** `GET /api/jobs/:id`: where a job is. */
export interface JobStatus {
  readonly id: string;
  readonly status: JobState;
  /** Steps taken so far over all scales, and the run's step budget (0 until the run has started). */
  readonly iteration: number;
  readonly iterations: number;
  /** The last reported total loss; null before the first step. */
  readonly loss: number | null;
  /** The final image's terms before their weights (keys `content/<layer>`, `style/<layer>`, `tv`), once done. */
  readonly terms?: Readonly<Record<string, number>>;
  /** Why it failed (the CLI's message for the same input). */
  readonly error?: string;
  /** The current scale (index from 0) and its size, once running. */
  readonly scale?: { readonly index: number; readonly count: number; readonly width: number; readonly height: number };
  /** Whether `GET /api/jobs/:id/image` has an image (a preview while running, then the result). */
  readonly hasImage: boolean;
  /** ISO 8601 times. */
  readonly created: string;
  readonly started?: string;
  readonly finished?: string;
}

/**
 * One event of a job, as the events stream sends it: the pipeline's event (stylize.ts
 * `StylizeEvent`, without image pixels) or a job-level one.
 * - `status`: the job's status; the first event of every stream, and each change of state.
 * - `preview`: a new image is available at `url` (every few iterations, and the final one).
 */
export type JobEvent =
  | { readonly type: 'status'; readonly job: JobStatus }
  | { readonly type: 'preview'; readonly iteration: number; readonly url: string }
  | ({ readonly type: string } & Readonly<Record<string, unknown>>);

/** A job's image: encoded bytes and their media type. */
export interface JobImage {
  readonly bytes: Uint8Array;
  readonly type: 'image/png';
  /** Which step it shows; the final image is the result's. */
  readonly iteration: number;
  readonly final: boolean;
}

/** Refused because the waiting line is full (HTTP 429). */
export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the queue is full (${limit} jobs waiting); try again when a job has finished`);
    this.name = 'QueueFullError';
  }
}

/** The queue the server talks to. Ids are random (122 bits) and never derived from input. */
export interface JobQueue {
  /** Queues a job; resolves to its id. @throws QueueFullError when `queueSize` jobs already wait. */
  submit(input: JobInput): Promise<string>;
  /** The job's status, or undefined for an unknown (or expired) id. */
  status(id: string): JobStatus | undefined;
  /**
   * Calls `listener` with the job's status now, then with each later event until the job ends
   * (the last event is its final `status`). Returns the unsubscribe function, or undefined for an
   * unknown id.
   */
  subscribe(id: string, listener: (e: JobEvent) => void): (() => void) | undefined;
  /** The current preview or the final image; undefined if none yet or unknown. */
  image(id: string): Promise<JobImage | undefined>;
  /** Cancels a queued or running job (a running one keeps its last image). false: unknown id. */
  cancel(id: string): boolean;
  /** Stops taking jobs, cancels those running, and waits for their workers to end. */
  close(): Promise<void>;
}

/** Job ids: lowercase UUID v4, checked before any lookup (nothing else reaches the store). */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
