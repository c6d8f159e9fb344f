/**
 * Weight loading speed: a full-size VGG-19 (20,024,384 conv parameters, seeded random values)
 * written as a Keras .h5 file (the default download's format), loaded from the original format
 * and then from the converted safetensors copy in the cache.
 *
 * Usage: npx tsx bench/weights.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomVggWeights } from '../src/networks/vgg.js';
import { loadWeightsCached } from '../src/networks/weights/cache.js';
import { loadWeightsFile } from '../src/networks/weights/load.js';

const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-bench-weights-'));
try {
  const h5 = (await import('h5wasm/node')).default;
  await h5.ready;
  const file = path.join(dir, 'vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5');
  const f = new h5.File(file, 'w', { libver: ['earliest', 'v108'] });
  const names: string[] = [];
  for (const [name, p] of randomVggWeights('vgg19', 1).convs) {
    const [, b, i] = /conv(\d)_(\d)/.exec(name)!;
    const layer = `block${b}_conv${i}`;
    names.push(layer);
    const [o, ci, kh, kw] = p.shape;
    const g = f.create_group(layer);
    g.create_dataset({ name: `${layer}_W_1:0`, data: p.weight, shape: [kh, kw, ci, o], dtype: '<f' });
    g.create_dataset({ name: `${layer}_b_1:0`, data: p.bias, shape: [o], dtype: '<f' });
    g.create_attribute('weight_names', [`${layer}_W_1:0`, `${layer}_b_1:0`]);
  }
  f.create_attribute('layer_names', names);
  f.close();
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };
  const cache = path.join(dir, 'cache');
  const original = await time(() => loadWeightsFile(file));
  const first = await time(() => loadWeightsCached(file, cache));
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) runs.push(await time(() => loadWeightsCached(file, cache)));
  runs.sort((a, b) => a - b);
  console.log(`full-size VGG-19 (80 MB of conv weights): Keras .h5 ${original.toFixed(2)} s; first cached load (parse + convert) ${first.toFixed(2)} s; ` +
    `from the converted cache ${runs[1]!.toFixed(2)} s (median of 3) → ${(original / runs[1]!).toFixed(1)}× faster`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
