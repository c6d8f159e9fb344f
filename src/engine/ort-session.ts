/**
 * The Session implementation shared by the onnxruntime-node and onnxruntime-web adapters: both
 * packages expose the same onnxruntime-common API (Tensor, InferenceSession.run/release), so one
 * wrapper converts host tensors, checks the feeds and re-words failures.
 */
import { EngineError, HostTensor, Session } from './engine.js';

/** What the wrapper needs of an ORT tensor. */
interface OrtTensorLike {
  readonly type: string;
  readonly dims: readonly number[];
  getData(): Promise<unknown>;
}

/** What the wrapper needs of an ORT package: its Tensor constructor. */
export interface OrtLike {
  Tensor: new (type: 'float32' | 'float64' | 'int64', data: HostTensor['data'], dims: readonly number[]) => unknown;
}

/** What the wrapper needs of an ORT InferenceSession. */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, never>, fetches?: string[]): Promise<Record<string, OrtTensorLike>>;
  release(): Promise<void>;
}

/** Re-words an ORT failure: keeps its first line (which names the node), drops the stack. */
export function reword(what: string, err: unknown): EngineError {
  const msg = String((err as Error)?.message ?? err).split('\n')[0];
  return new EngineError(`${what}: ${msg}`, { cause: err });
}

export class OrtSession implements Session {
  constructor(private readonly ort: OrtLike, private readonly s: OrtSessionLike, private readonly label: string) {}
  get inputNames() {
    return this.s.inputNames;
  }
  get outputNames() {
    return this.s.outputNames;
  }
  async run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>> {
    const missing = this.s.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new EngineError(`missing graph inputs: ${missing.join(', ')}`);
    const ortFeeds: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(feeds)) {
      const type = v.data instanceof Float32Array ? 'float32' : v.data instanceof Float64Array ? 'float64' : 'int64';
      ortFeeds[k] = new this.ort.Tensor(type, v.data, [...v.dims]);
    }
    let out: Record<string, OrtTensorLike>;
    try {
      out = await this.s.run(ortFeeds as Record<string, never>, fetches ? [...fetches] : undefined);
    } catch (err) {
      throw reword(`${this.label} failed to run the graph`, err);
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
