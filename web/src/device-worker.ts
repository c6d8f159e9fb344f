/**
 * "Run on this device": the whole optimisation in the browser, in a module Web Worker, with
 * onnxruntime-web (wasm; threads when the page is cross-origin isolated). The pipeline is the
 * library's own `stylize` (graph builder, losses, optimisers, problem set-up), bundled by
 * tools/build-web.mjs with io-browser.ts in place of io-node.ts; only the engine adapter and the
 * image I/O differ from Node.
 *
 * Messages in:  {type: 'start', content: File, styles: File[], options}, {type: 'cancel'}.
 * Messages out: the same as the server's worker (server/job-worker.ts): {type: 'event', event},
 *               {type: 'preview', iteration, png}, {type: 'done', png, iteration, loss, stopReason},
 *               {type: 'failed', message}.
 */
import { loadWebEngine } from '../../src/engine/web.js';
import { decodeImage, encodePng } from '../../src/image/io-browser.js';
import { stylize } from '../../src/pipeline/stylize.js';
import type { StylizeOptions } from '../../src/pipeline/options.js';

interface Start {
  type: 'start';
  content: File;
  styles: File[];
  options: Partial<StylizeOptions>;
  /** A preview every this many steps. */
  imageEvery: number;
  /** wasm threads (default: the cores, at most 8, when cross-origin isolated; else 1). */
  threads?: number;
}

const scope = self as unknown as { postMessage(m: unknown, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null; crossOriginIsolated: boolean };
let abort: AbortController | null = null;

function post(m: Record<string, unknown> & { png?: Uint8Array }): void {
  scope.postMessage(m, m.png ? [m.png.buffer as ArrayBuffer] : []);
}

async function run(s: Start): Promise<void> {
  abort = new AbortController();
  const threads = s.threads ?? (scope.crossOriginIsolated ? Math.min(8, navigator.hardwareConcurrency || 1) : 1);
  const engine = await loadWebEngine({ threads });
  const content = await decodeImage(new Uint8Array(await s.content.arrayBuffer()), `content "${s.content.name}"`);
  const style = [];
  for (const [i, f] of s.styles.entries()) style.push(await decodeImage(new Uint8Array(await f.arrayBuffer()), `style ${i + 1} "${f.name}"`));
  // No weight cache here: 'auto' means the offline network, generated from its seed.
  const network = !s.options.network || s.options.network === 'auto' ? 'offline' : s.options.network;
  let previews = Promise.resolve();
  const result = await stylize({ ...s.options, network, maxMemory: 2, imageEvery: s.imageEvery, content, style }, {
    engine, signal: abort.signal,
    onEvent: (e) => {
      if (e.type === 'iterate' && e.image) {
        const { image, ...rest } = e;
        post({ type: 'event', event: rest });
        previews = previews.then(async () => post({ type: 'preview', iteration: e.iteration, png: await encodePng(image) }));
      } else {
        post({ type: 'event', event: e });
      }
    },
  });
  await previews;
  post({ type: 'done', png: await encodePng(result.image), iteration: result.iterations, loss: result.loss, stopReason: result.stopReason, threads });
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as Start | { type: 'cancel' };
  if (m.type === 'cancel') abort?.abort(new DOMException('the job was cancelled', 'AbortError'));
  else if (m.type === 'start') run(m).catch((err: Error) => post({ type: 'failed', message: err?.message ?? String(err) }));
};
