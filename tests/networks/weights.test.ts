/**
 * Weight files in every supported format load to identical canonical tensors. Fixtures: tiny
 * VGG-19-shaped checkpoints written by real torch.save (tools/fixtures/make_torch_weights.py), and
 * files this test writes in the other formats from the same values; plus one full-size VGG-19.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/graph/builder.js';
import { loadWeightsFile, sniffFormat, torchvisionConvIndices, WeightFormatError } from '../../src/networks/weights/load.js';
import { NamedTensor, writeSafetensors } from '../../src/networks/weights/safetensors.js';
import { loadWeightsCached } from '../../src/networks/weights/cache.js';
import { randomVggWeights, vggLayers, VggWeights } from '../../src/networks/vgg.js';
import * as writers from '../weight-writers.js';

const fixtures = fileURLToPath(new URL('../fixtures/weights/', import.meta.url));
let dir = '';
let expected: Record<string, { weight: number[]; bias: number[]; shape: number[] }> = {};
const convNames = vggLayers('vgg19').filter((l) => l.kind === 'conv').map((l) => l.name);

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-weights-'));
  expected = JSON.parse(await readFile(path.join(fixtures, 'tiny-values.json'), 'utf8')).convs;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts that loaded weights equal the torch-written values exactly (float32). */
function assertTiny(w: VggWeights, what: string) {
  assert.equal(w.arch, 'vgg19', what);
  assert.deepEqual([...w.convs.keys()], convNames, what);
  for (const name of convNames) {
    const e = expected[name]!;
    const p = w.convs.get(name)!;
    assert.deepEqual([...p.shape], e.shape, `${what} ${name} shape`);
    assert.deepEqual(Array.from(p.weight), Array.from(Float32Array.from(e.weight)), `${what} ${name} weight`);
    assert.deepEqual(Array.from(p.bias), Array.from(Float32Array.from(e.bias)), `${what} ${name} bias`);
  }
}

/** The tiny network's values as canonical tensors. */
function tinyTensors(): Map<string, { w: NamedTensor; b: NamedTensor }> {
  return new Map(convNames.map((n) => [n, {
    w: { data: Float32Array.from(expected[n]!.weight), shape: expected[n]!.shape },
    b: { data: Float32Array.from(expected[n]!.bias), shape: [expected[n]!.shape[0]!] },
  }]));
}

// --- writers of the formats this test produces: tests/weight-writers.ts -----------------------

const caffeModel = (v1: boolean) => writers.caffeModel(tinyTensors(), v1);
const onnxModel = (naming: 'mxnet' | 'caffe2') => writers.onnxModel(tinyTensors(), naming);
const kerasH5 = (file: string, style: 'keras1' | 'keras2', tensors = tinyTensors()) => writers.kerasH5(file, style, tensors);

// --- tests -----------------------------------------------------------------------------------

test('PyTorch .pth in the legacy magic-number format and in the zip format (written by torch.save)', async () => {
  for (const f of ['tiny-legacy.pth', 'tiny-zip.pth']) {
    const w = await loadWeightsFile(path.join(fixtures, f));
    assertTiny(w, f);
    assert.equal(w.preprocess.name, 'torchvision', 'torchvision keys imply torchvision preprocessing');
  }
  assert.equal(sniffFormat(await readFile(path.join(fixtures, 'tiny-legacy.pth'))), 'torch-legacy');
  assert.equal(sniffFormat(await readFile(path.join(fixtures, 'tiny-zip.pth'))), 'torch-zip');
});

test('safetensors, Keras .h5 (two naming styles), Caffe (V1 and V2 layers) and ONNX (both zoo namings) load to the same tensors', async () => {
  const tv = new Map<string, NamedTensor>();
  const idx = torchvisionConvIndices('vgg19');
  for (const [n, { w, b }] of tinyTensors()) {
    tv.set(`features.${idx.get(n)}.weight`, w);
    tv.set(`features.${idx.get(n)}.bias`, b);
  }
  const files: [string, Uint8Array | null, string, string][] = [
    ['tiny.safetensors', writeSafetensors(tv), 'safetensors', 'torchvision'],
    ['tiny-v2.caffemodel', caffeModel(false), 'caffe', 'caffe'],
    ['tiny-v1.caffemodel', caffeModel(true), 'caffe', 'caffe'],
    ['tiny-mxnet.onnx', onnxModel('mxnet'), 'onnx', 'torchvision'],
    ['tiny-caffe2.onnx', onnxModel('caffe2'), 'onnx', 'caffe'],
    ['tiny-keras1.h5', null, 'keras-h5', 'caffe'],
    ['tiny-keras2.h5', null, 'keras-h5', 'caffe'],
  ];
  for (const [name, bytes, format, pre] of files) {
    const file = path.join(dir, name);
    if (bytes) await writeFile(file, bytes);
    else await kerasH5(file, name.includes('keras1') ? 'keras1' : 'keras2');
    assert.equal(sniffFormat(await readFile(file)), format, name);
    const w = await loadWeightsFile(file);
    assertTiny(w, name);
    assert.equal(w.preprocess.name, pre, `${name} preprocessing`);
  }
});

test('a full-size VGG-19 written on the fly (Keras .h5) loads with 20,024,384 conv parameters', async () => {
  const full = randomVggWeights('vgg19', 5);
  const tensors = new Map([...full.convs].map(([n, p]) => [n, { w: { data: p.weight, shape: p.shape }, b: { data: p.bias, shape: [p.shape[0]] } }]));
  const file = path.join(dir, 'vgg19_full.h5');
  await kerasH5(file, 'keras1', tensors);
  const w = await loadWeightsFile(file);
  let count = 0;
  for (const p of w.convs.values()) count += p.weight.length + p.bias.length;
  assert.equal(count, 20_024_384);
  assert.deepEqual(Array.from(w.convs.get('conv5_4')!.weight.subarray(0, 5)), Array.from(full.convs.get('conv5_4')!.weight.subarray(0, 5)));
});

test('bad weight files: truncated, wrong network, NaNs, random bytes, HDF5 that is not Keras; each says what was expected', async () => {
  const legacy = await readFile(path.join(fixtures, 'tiny-legacy.pth'));
  const zip = await readFile(path.join(fixtures, 'tiny-zip.pth'));
  const caffe = caffeModel(false);
  const h5 = await import('h5wasm/node').then((m) => m.default);
  await h5.ready;
  const notKeras = new h5.File(path.join(dir, 'data.h5'), 'w');
  notKeras.create_dataset({ name: 'measurements', data: new Float32Array([1, 2, 3]) });
  notKeras.close();
  const tv = new Map<string, NamedTensor>();
  for (const [n, { w, b }] of tinyTensors()) {
    if (n === 'conv3_2') continue; // missing layer
    tv.set(`${n}.weight`, n === 'conv1_2' ? { data: new Float32Array(2 * 3 * 3 * 3), shape: [2, 3, 3, 3] } : w);
    tv.set(`${n}.bias`, b);
  }
  const missing = new Map([...tv].filter(([k]) => !k.startsWith('conv1_2')));
  const withNaN = new Map<string, NamedTensor>();
  for (const [n, { w, b }] of tinyTensors()) {
    withNaN.set(`${n}.weight`, n === 'conv3_1' ? { data: Float32Array.from(w.data, (v, i) => (i < 3 ? NaN : v)), shape: w.shape } : w);
    withNaN.set(`${n}.bias`, b);
  }
  const cases: [string, Uint8Array, RegExp][] = [
    ['truncated-legacy.pth', legacy.subarray(0, legacy.length - 200), /truncated/],
    ['truncated-zip.pth', zip.subarray(0, zip.length >> 1), /truncated|no central directory/],
    ['truncated.caffemodel', caffe.subarray(0, caffe.length - 100), /truncated/],
    ['wrong-shape.safetensors', writeSafetensors(tv, { 'impasto.preprocess': 'caffe' }), /layer conv1_2 .* has weight \[2,3,3,3\] .*expected weight \[out,2,3,3\]/],
    ['missing.safetensors', writeSafetensors(missing), /'conv1_2.weight' or '.bias' \(layer conv1_2\) is missing/],
    ['nan.safetensors', writeSafetensors(withNaN), /layer conv3_1 has 3 NaN or infinite values; expected finite weights/],
    ['random.bin', Uint8Array.from({ length: 5000 }, (_, i) => (i * 2654435761) >>> 24), /unrecognised weight file .*expected safetensors, Keras \.h5, PyTorch \.pth, ONNX or Caffe/],
  ];
  for (const [name, bytes, message] of cases) {
    await writeFile(path.join(dir, name), bytes);
    await assert.rejects(loadWeightsFile(path.join(dir, name)), (e: Error) => e instanceof WeightFormatError && message.test(e.message) || assert.fail(`${name}: ${e.message}`));
  }
  await assert.rejects(loadWeightsFile(path.join(dir, 'data.h5')), /HDF5 file without Keras 'layer_names'; expected Keras VGG weights/);
  await assert.rejects(loadWeightsFile(path.join(dir, 'absent.h5')), /cannot read weight file .*absent\.h5: the file does not exist; give --weights the path of a VGG weight file/);
});

test('the converted cache: the first load stores canonical safetensors, later loads read them, a changed source is converted again', async () => {
  const cacheRoot = path.join(dir, 'cache');
  const src = path.join(dir, 'copy-legacy.pth');
  await writeFile(src, await readFile(path.join(fixtures, 'tiny-legacy.pth')));
  assertTiny(await loadWeightsCached(src, cacheRoot), 'first load');
  const files = await readdir(path.join(cacheRoot, 'converted'));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^copy-legacy\.pth-[0-9a-f]{16}\.safetensors$/);
  // Mark the converted copy: a later load must return the mark, proving it read the copy.
  const converted = path.join(cacheRoot, 'converted', files[0]!);
  const marked = new Map<string, NamedTensor>();
  for (const [n, { w, b }] of tinyTensors()) {
    marked.set(`${n}.weight`, w);
    marked.set(`${n}.bias`, n === 'conv1_1' ? { data: Float32Array.of(42, 42), shape: [2] } : b);
  }
  await writeFile(converted, writeSafetensors(marked, { 'impasto.preprocess': 'torchvision' }));
  const second = await loadWeightsCached(src, cacheRoot);
  assert.deepEqual(Array.from(second.convs.get('conv1_1')!.bias), [42, 42]);
  assert.equal(second.preprocess.name, 'torchvision');
  assert.equal(second.source, src);
  // A newer source file gets a new key and is converted from the original again.
  await utimes(src, new Date(), new Date(Date.now() + 5000));
  assertTiny(await loadWeightsCached(src, cacheRoot), 'after the source changed');
  assert.equal((await readdir(path.join(cacheRoot, 'converted'))).length, 2);
});
