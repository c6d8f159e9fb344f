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
import type { Engine, Session, SessionOptions } from './engine.js';
import { OrtLike, OrtSession, OrtSessionLike, reword } from './ort-session.js';

type Ort = typeof OrtTypes;

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
        return new OrtSession(ort as unknown as OrtLike, s as unknown as OrtSessionLike, 'ONNX Runtime');
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
