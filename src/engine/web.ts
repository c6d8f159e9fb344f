/**
 * onnxruntime-web adapter: WebAssembly (and WebGPU in a browser that has it). In Node it runs the
 * same graphs through onnxruntime-web's wasm build, about 4–5× slower than onnxruntime-node
 * (engine notes §6); it exists so that the browser shares one engine contract with Node, and the
 * contract tests run on both.
 *
 * Threads are process-wide in onnxruntime-web (`env.wasm.numThreads`): the first session decides.
 */
import type * as OrtWeb from 'onnxruntime-web';
import type { Engine, Session, SessionOptions } from './engine.js';
import { OrtLike, OrtSession, OrtSessionLike, reword } from './ort-session.js';

type Ort = typeof OrtWeb;

/**
 * Loads onnxruntime-web and returns an Engine over it (wasm by default).
 * @param defaults.threads wasm threads when a session's options name none (default 1; more need
 *        a cross-origin isolated page in a browser).
 * @param defaults.executionProviders onnxruntime-web's providers when a session asks only for
 *        'cpu' (default ['wasm']); a browser with a WebGPU adapter may give ['webgpu', 'wasm'].
 */
export async function loadWebEngine(defaults: { threads?: number; executionProviders?: string[] } = {}): Promise<Engine> {
  let mod: Ort & { default?: Ort };
  try {
    mod = (await import('onnxruntime-web')) as Ort & { default?: Ort };
  } catch (err) {
    // An optional peer dependency: Node users get onnxruntime-node and need not install it.
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new Error("onnxruntime-web is not installed; it is optional (the browser engine and --engine web): run 'npm install onnxruntime-web', or use the default engine, node");
    }
    throw err;
  }
  const ort: Ort = mod.InferenceSession ? mod : mod.default!;
  let threadsSet = false;
  return {
    name: 'web',
    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      if (!threadsSet) {
        ort.env.wasm.numThreads = options.threads ?? defaults.threads ?? 1;
        ort.env.logLevel = 'fatal';
        threadsSet = true;
      }
      const providers = options.executionProviders?.filter((p) => p !== 'cpu') ?? [];
      const eps = providers.length ? providers : defaults.executionProviders ?? ['wasm'];
      try {
        const s = await ort.InferenceSession.create(model, { executionProviders: eps, graphOptimizationLevel: 'all' });
        return new OrtSession(ort as unknown as OrtLike, s as unknown as OrtSessionLike, 'ONNX Runtime (web)');
      } catch (err) {
        throw reword(`ONNX Runtime (web) rejected the graph (providers ${eps.join(', ')})`, err);
      }
    },
  };
}
