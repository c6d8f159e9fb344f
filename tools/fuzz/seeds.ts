/**
 * Valid small weight files, one per format, for the fuzzer: the tiny VGG-19-shaped network of
 * tests/fixtures/weights (written by torch.save) in its two .pth formats, and the same tensors
 * written here as safetensors, Caffe (V2), ONNX (caffe2 naming) and Keras .h5 (Keras 2 naming).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWeightsFile } from '../../src/networks/weights/load.js';
import { writeSafetensors, type NamedTensor } from '../../src/networks/weights/safetensors.js';
import { caffeModel, kerasH5, onnxModel, type Tensors } from '../../tests/weight-writers.js';

const fixtures = fileURLToPath(new URL('../../tests/fixtures/weights/', import.meta.url));

/** Format name → bytes of a valid file. */
export async function seedFiles(): Promise<Map<string, Uint8Array>> {
  const legacy = path.join(fixtures, 'tiny-legacy.pth');
  const w = await loadWeightsFile(legacy);
  const tensors: Tensors = new Map([...w.convs].map(([n, p]) => [n, { w: { data: p.weight, shape: [...p.shape] }, b: { data: p.bias, shape: [p.shape[0]] } }]));
  const flat = new Map<string, NamedTensor>();
  for (const [n, { w: wt, b }] of tensors) {
    flat.set(`${n}.weight`, wt);
    flat.set(`${n}.bias`, b);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-seeds-'));
  try {
    await kerasH5(path.join(dir, 'seed.h5'), 'keras2', tensors);
    return new Map<string, Uint8Array>([
      ['safetensors', writeSafetensors(flat)],
      ['torch-legacy', await readFile(legacy)],
      ['torch-zip', await readFile(path.join(fixtures, 'tiny-zip.pth'))],
      ['caffe', caffeModel(tensors, false)],
      ['onnx', onnxModel(tensors, 'caffe2')],
      ['keras-h5', await readFile(path.join(dir, 'seed.h5'))],
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
