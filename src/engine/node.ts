/**
 * onnxruntime-node adapter (Node only). CPU by default; CUDA when the user's onnxruntime-node
 * install carries it and `executionProviders: ['cuda', 'cpu']` is asked for.
 *
 * Session settings follow the engine notes: graph optimisation level 'all' (NCHWc layout and
 * Conv+Relu fusion, 10–25 % faster; also constant-folds the flipped conv weights) and sequential
 * execution (the graph is one chain; parallel mode was slower).
 */
import os from 'node:os';
import type * as OrtTypes from 'onnxruntime-node';
import { Engine, EngineError, HostTensor, Session, SessionOptions } from './engine.js';

type Ort = typeof OrtTypes;

function toOrt(ort: Ort, t: HostTensor): OrtTypes.Tensor {
  const type = t.data instanceof Float32Array ? 'float32' : t.data instanceof Float64Array ? 'float64' : 'int64';
  return new ort.Tensor(type, t.data, [...t.dims]);
}

function fromOrt(t: OrtTypes.Tensor): HostTensor {
  const data = t.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof BigInt64Array)) {
    throw new EngineError(`unsupported output element type '${t.type}'`);
  }
  return { data, dims: [...t.dims] };
}

/** Rewords an ORT failure: keeps its first line (which names the node), drops the stack. */
function reword(what: string, err: unknown): EngineError {
  const msg = String((err as Error)?.message ?? err).split('\n')[0];
  return new EngineError(`${what}: ${msg}`, { cause: err });
}

class NodeSession implements Session {
  constructor(private readonly ort: Ort, private readonly s: OrtTypes.InferenceSession) {}
  get inputNames() {
    return this.s.inputNames;
  }
  get outputNames() {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const missing = this.s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new EngineError(`missing graph inputs: ${missing.join(', ')}`);
    const ortFeeds: Record<string, OrtTypes.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(this.ort, v);
    let out: OrtTypes.InferenceSession.ReturnType;
    try {
      out = fetches ? await this.s.run(ortFeeds, [...fetches]) : await this.s.run(ortFeeds);
    } catch (err) {
      throw reword('ONNX Runtime failed to run the graph', err);
    }
    const result: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(out)) result[k] = fromOrt(v);
    return result;
  }
  async dispose() {
    await this.s.release();
  }
}

/** Loads onnxruntime-node and returns an Engine over it. */
export async function loadNodeEngine(): Promise<Engine> {
  const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
  const ort: Ort = mod.InferenceSession ? mod : mod.default!;
  // ORT's process-wide log (e.g. a missing CUDA library) duplicates the errors re-worded below.
  ort.env.logLevel = process.env.IMPASTO_DEBUG ? 'verbose' : 'fatal';
  return {
    name: 'node',
    async createSession(model: Uint8Array, options: SessionOptions = {}): Promise<Session> {
      const threads = options.threads ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
      const providers = options.executionProviders ?? ['cpu'];
      try {
        const s = await ort.InferenceSession.create(model, {
          executionProviders: providers,
          graphOptimizationLevel: 'all',
          executionMode: 'sequential',
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          enableMemPattern: options.memPattern ?? (options.pixels ?? 0) < 384 * 384,
          enableCpuMemArena: options.arena ?? true,
          extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
          // ORT's own log lines (warnings, and errors that are re-worded below) only with IMPASTO_DEBUG.
          logSeverityLevel: process.env.IMPASTO_DEBUG ? 0 : 4,
        });
        return new NodeSession(ort, s);
      } catch (err) {
        const e = reword(`ONNX Runtime rejected the graph (providers ${providers.join(', ')})`, err);
        if (providers.includes('cuda') && /cuda/i.test(e.message)) {
          e.message += "; the CUDA provider needs onnxruntime-node's CUDA libraries (its install script downloads them) and an NVIDIA driver; use --execution-provider cpu";
        }
        throw e;
      }
    },
  };
}
