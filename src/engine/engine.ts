/**
 * The engine interface: the one seam between Impasto and an ONNX runtime. Callers build a graph
 * (bytes of an ONNX ModelProto), create a session from it and run it with named inputs. Only the
 * adapters in this folder import ONNX Runtime; everything above talks to these types.
 */

/** Element data of a host tensor. */
export type HostData = Float32Array | Float64Array | BigInt64Array;

/** A tensor in host memory: row-major data and its dimensions. */
export interface HostTensor {
  readonly data: HostData;
  readonly dims: readonly number[];
}

/** Options for creating a session. */
export interface SessionOptions {
  /** Intra-op threads; default: all CPU cores (onnxruntime-node), 1 (onnxruntime-web, where the first session sets it for the process). */
  threads?: number;
  /**
   * Execution providers in order of preference, e.g. `['cuda', 'cpu']` (Node) or
   * `['webgpu', 'wasm']` (browser). Default: `['cpu']` in Node.
   */
  executionProviders?: string[];
  /**
   * Node only (onnxruntime-node; the web adapter ignores it). ORT's memory-pattern planner: after the first run it allocates one block for the whole plan,
   * which is faster but holds a second copy of the working set. Default: on below 384×384 px of
   * image area, off above (at 512² on the dev machine: peak RSS 1.95 GB on, 1.33 GB off, for
   * 0–6 % more time per evaluation). Callers pass the image area in `pixels` or set it.
   */
  memPattern?: boolean;
  /** Node only. Image area (H·W px) the session will run at; picks the `memPattern` default. */
  pixels?: number;
  /**
   * Node only. Keep ORT's CPU memory arena (default true). One-shot sessions (target graphs) turn it off so
   * that their memory goes back to the system as soon as each tensor is freed.
   */
  arena?: boolean;
  /** Node only. Let idle worker threads spin (ORT default true); off helps on busy shared machines. */
  spinning?: boolean;
}

/** A created session; `run` may be called many times, `dispose` once. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the graph.
   * @param feeds one tensor per graph input, by name.
   * @param fetches output names to return (default: all).
   * @throws EngineError when ORT rejects the run.
   */
  run(feeds: Record<string, HostTensor>, fetches?: readonly string[]): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

/** A backend able to create sessions. */
export interface Engine {
  readonly name: string;
  /** @throws EngineError with a readable message when the runtime rejects the model. */
  createSession(model: Uint8Array, options?: SessionOptions): Promise<Session>;
}

/** An error from the runtime, re-worded; `cause` keeps the original. */
export class EngineError extends Error {
  override name = 'EngineError';
}
