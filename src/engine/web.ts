/**
 * onnxruntime-web adapter: WebAssembly (and WebGPU in a browser that has it). In Node it runs the
 * same graphs through onnxruntime-web's wasm build, about 4–5× slower than onnxruntime-node
 * (engine notes §6); it exists so that the browser shares one engine contract with Node, and the
 * contract tests run on both.
 *
 * Threads are process-wide in onnxruntime-web (`env.wasm.numThreads`): the first session decides.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { Engine, EngineError, HostTensor, Session, SessionOptions } from './engine.js';

type Ort = typeof OrtWeb;

function reword(what: string, err: unknown): EngineError {
  const msg = String((err as Error)?.message ?? err).split('\n')[0];
  return new EngineError(`${what}: ${msg}`, { cause: err });
}

class WebSession implements Session {
  constructor(private readonly ort: Ort, private readonly s: OrtWeb.InferenceSession) {}
  get inputNames() {
    return this.s.inputNames;
  }
  get outputNames() {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const missing = this.s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new EngineError(`missing graph inputs: ${missing.join(', ')}`);
    const ortFeeds: Record<string, OrtWeb.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof Float64Array ? 'float64' : 'int64';
      ortFeeds[k] = new this.ort.Tensor(type, v.data, [...v.dims]);
    }
    let out: OrtWeb.InferenceSession.ReturnType;
    try {
      out = fetches ? await this.s.run(ortFeeds, [...fetches]) : await this.s.run(ortFeeds);
    } catch (err) {
      throw reword('ONNX Runtime (web) failed to run the graph', err);
    }
    const result: Record<string, HostTensor> = {};
    for (const [k, t] of Object.entries(out)) {
      const data = await t.getData();
      if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof BigInt64Array)) {
        throw new EngineError(`unsupported output element type '${t.type}'`);
      }
      result[k] = { data, dims: [...t.dims] };
    }
    return result;
  }
  async dispose() {
    await this.s.release();
  }
}

/** Loads onnxruntime-web and returns an Engine over it (wasm by default). */
export async function loadWebEngine(): Promise<Engine> {
  const mod = (await import('onnxruntime-web')) as Ort & { default?: Ort };
  const ort: Ort = mod.InferenceSession ? mod : mod.default!;
  let threadsSet = false;
  return {
    name: 'web',
    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      if (!threadsSet) {
        ort.env.wasm.numThreads = options.threads ?? 1;
        ort.env.logLevel = 'fatal';
        threadsSet = true;
      }
      const providers = options.executionProviders?.filter((p) => p !== 'cpu') ?? [];
      const eps = providers.length ? providers : ['wasm'];
      try {
        const s = await ort.InferenceSession.create(model, { executionProviders: eps, graphOptimizationLevel: 'all' });
        return new WebSession(ort, s);
      } catch (err) {
        throw reword(`ONNX Runtime (web) rejected the graph (providers ${eps.join(', ')})`, err);
      }
    },
  };
}
