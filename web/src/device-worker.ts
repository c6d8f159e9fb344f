/**
 * "Run on this device": the whole optimisation in the browser, in a module Web Worker, with
 * onnxruntime-web (wasm; threads when the page is cross-origin isolated). The pipeline is the
 * library's own `stylize` (graph builder, losses, optimisers, problem set-up), bundled by
 * tools/build-web.mjs with io-browser.ts in place of io-node.ts; only the engine adapter and the
 * image I/O differ from Node.
 *
 * Messages in:  {type: 'start', content: File, styles: File[], options, weights?: File, weightsUrl?},
 *               {type: 'cancel'}.
 * Messages out: the same as the server's worker (src/jobs/job-worker.ts): {type: 'event', event},
 *               {type: 'preview', iteration, png}, {type: 'done', png, iteration, loss, stopReason},
 *               {type: 'failed', message}.
 */
import { loadWebEngine } from '../../src/engine/web.js';
import { decodeImage, encodePng } from '../../src/image/io-browser.js';
import { stylize } from '../../src/pipeline/stylize.js';
import { eventRelay } from '../../src/pipeline/relay.js';
import type { StylizeOptions } from '../../src/pipeline/options.js';
import { parseWeights, sniffFormat, WeightFormatError, type WeightFormat } from '../../src/networks/weights/load.js';
import type { VggWeights } from '../../src/networks/vgg.js';

interface Start {
  type: 'start';
  content: File;
  styles: File[];
  options: Partial<StylizeOptions>;
  /** A preview every this many steps. */
  imageEvery: number;
  /** A VGG weight file the user picked (safetensors, legacy PyTorch .pth or Caffe .caffemodel). */
  weights?: File;
  /** Where the server offers its cached default VGG weights (GET /api/weights), tried when `network` is auto and no file was picked. */
  weightsUrl?: string;
  /** onnxruntime-web's backend: 'auto' (WebGPU when the browser offers an adapter, else wasm), 'webgpu' or 'wasm' (default auto). */
  backend?: 'auto' | 'webgpu' | 'wasm';
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
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  const backend = s.backend ?? 'auto';
  const webgpu = backend === 'webgpu' || (backend === 'auto' && !!gpu && !!(await gpu.requestAdapter().catch(() => null)));
  const engine = await loadWebEngine({ threads, executionProviders: webgpu ? ['webgpu', 'wasm'] : ['wasm'] });
  post({ type: 'event', event: { type: 'notice', message: `running in this browser on ${webgpu ? 'WebGPU (unsupported operators on WebAssembly)' : `WebAssembly, ${threads} thread${threads > 1 ? 's' : ''}`}` } });
  const content = await decodeImage(new Uint8Array(await s.content.arrayBuffer()), `content "${s.content.name}"`);
  const style = [];
  for (const [i, f] of s.styles.entries()) style.push(await decodeImage(new Uint8Array(await f.arrayBuffer()), `style ${i + 1} "${f.name}"`));
  const auto = !s.options.network || s.options.network === 'auto';
  let weights: { weights: VggWeights; what: string } | undefined;
  if (s.weights) {
    weights = { weights: await parseInBrowser(new Uint8Array(await s.weights.arrayBuffer()), `weight file "${s.weights.name}"`), what: `the picked file "${s.weights.name}"` };
  } else if (auto && s.weightsUrl) {
    post({ type: 'event', event: { type: 'stage', stage: "downloading the server's VGG weights" } });
    const res = await fetch(s.weightsUrl);
    if (res.ok) weights = { weights: await parseInBrowser(new Uint8Array(await res.arrayBuffer()), "the server's cached weights"), what: "the server's cache" };
    else await res.body?.cancel();
  }
  // Without weights, 'auto' means the offline network, generated from its seed.
  const network = auto ? 'offline' : s.options.network;
  const relay = eventRelay(post, encodePng);
  const result = await stylize({ ...s.options, network, maxMemory: 2, imageEvery: s.imageEvery, content, style }, {
    engine, signal: abort.signal, weights, onEvent: relay.onEvent,
  });
  await relay.flushed();
  post({ type: 'done', png: await encodePng(result.image), iteration: result.iterations, loss: result.loss, stopReason: result.stopReason, threads, backend: webgpu ? 'webgpu' : 'wasm' });
}

/** The weight formats the browser parses: those whose readers need no Node module (zip needs zlib, Keras HDF5 a Node worker, ONNX protobufjs's generated code). */
const BROWSER_FORMATS: readonly WeightFormat[] = ['safetensors', 'torch-legacy', 'caffe'];

async function parseInBrowser(bytes: Uint8Array, what: string): Promise<VggWeights> {
  const format = sniffFormat(bytes);
  if (format && !BROWSER_FORMATS.includes(format)) {
    throw new WeightFormatError(`${what} is a ${format} file; in the browser Impasto reads safetensors, legacy PyTorch .pth and Caffe .caffemodel files. Run 'impasto weights add FILE' where the server runs: the page then gets it from the server's cache`);
  }
  return parseWeights(bytes, what);
}

scope.onmessage = (e: MessageEvent) => {
  const m = e.data as Start | { type: 'cancel' };
  if (m.type === 'cancel') abort?.abort(new DOMException('the job was cancelled', 'AbortError'));
  else if (m.type === 'start') run(m).catch((err: Error) => post({ type: 'failed', message: err?.message ?? String(err) }));
};
