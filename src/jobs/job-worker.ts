/**
 * A job's worker thread: decodes the uploaded images, runs `stylize`, and posts its events,
 * previews and result to the queue (local-queue.ts). It runs off the server's event loop, so the
 * page and the API stay responsive while it optimises.
 *
 * Messages in: `{type: 'cancel'}`. Messages out (`WorkerMessage`): each pipeline event without its
 * pixels, a PNG preview every `imageEvery` steps, then `done` (the PNG result) or `failed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exitCodeOf } from '../errors.js';
import { decodeImage, encodePng } from '../image/io-node.js';
import { stylize } from '../pipeline/stylize.js';
import { eventRelay } from '../pipeline/relay.js';
import type { JobInput } from './jobs.js';

/** What the queue hands a worker. */
export interface WorkerJob {
  readonly input: JobInput;
  /** The operator's options, added to the job's (threads, memory budget, preview period). */
  readonly server: { readonly threads?: number; readonly maxMemory?: number; readonly imageEvery: number };
  /** Largest upload decoded, in pixels. */
  readonly maxPixels: number;
}

export type WorkerMessage =
  | { type: 'event'; event: Record<string, unknown> }
  | { type: 'preview'; iteration: number; png: Uint8Array }
  | { type: 'done'; png: Uint8Array; iteration: number; loss: number; terms: Record<string, number>; stopReason: string }
  | { type: 'failed'; message: string; exitCode: number };

const job = workerData as WorkerJob;
const port = parentPort!;
const abort = new AbortController();
port.on('message', (m: { type?: string }) => {
  if (m?.type === 'cancel') abort.abort(new DOMException('the job was cancelled', 'AbortError'));
});

function post(m: WorkerMessage): void {
  port.postMessage(m, m.type === 'preview' || m.type === 'done' ? [m.png.buffer as ArrayBuffer] : []);
}

try {
  const { input, server } = job;
  const content = await decodeImage(input.content.bytes, input.content.name, job.maxPixels);
  const styles = [];
  for (const s of input.styles) styles.push(await decodeImage(s.bytes, s.name, job.maxPixels));
  const relay = eventRelay(post, encodePng);
  const result = await stylize({ ...input.options, ...server, content, style: styles }, { signal: abort.signal, onEvent: relay.onEvent });
  await relay.flushed();
  const png = await encodePng(result.image);
  if (result.stopReason === 'nan') {
    post({ type: 'failed', message: `the loss became NaN or infinite after ${result.iterations} iterations; lower the style weight or the learning rate`, exitCode: 4 });
  } else {
    post({ type: 'done', png, iteration: result.iterations, loss: result.loss, terms: { ...result.terms }, stopReason: result.stopReason });
  }
} catch (err) {
  post({ type: 'failed', message: (err as Error)?.message ?? String(err), exitCode: exitCodeOf(err) });
}
