/**
 * The worker side of Keras .h5 parsing (keras.ts): parses the bytes in `workerData` and posts the
 * tensors (their buffers transferred) or the error back. Started by `readKerasH5`, one per file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readKerasH5InProcess } from './keras.js';
import { WeightFormatError } from './safetensors.js';

const { bytes, path } = workerData as { bytes: Uint8Array; path: string };
try {
  const tensors = [...(await readKerasH5InProcess(bytes, path))];
  parentPort!.postMessage({ tensors }, tensors.map(([, t]) => t.data.buffer as ArrayBuffer));
} catch (err) {
  const typed = err instanceof WeightFormatError;
  parentPort!.postMessage({ error: { typed, message: String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300) } });
}
