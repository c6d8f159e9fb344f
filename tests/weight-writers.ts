/**
 * Writers of small weight files in the formats Impasto reads, for tests and the fuzzer: Caffe
 * NetParameter (V1 and V2 layers), ONNX model-zoo namings, Keras .h5 (Keras 1 and 2 naming).
 * Tensors are canonical (`conv1_1` → OIHW weight and bias).
 */
import { GraphBuilder } from '../src/graph/builder.js';
import type { NamedTensor } from '../src/networks/weights/safetensors.js';

/** Canonical conv layers: name → weight OIHW and bias. */
export type Tensors = Map<string, { w: NamedTensor; b: NamedTensor }>;


function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}
const field = (num: number, payload: Uint8Array | number[]) => Uint8Array.from([...varint(num * 8 + 2), ...varint(payload.length), ...payload]);
const vfield = (num: number, v: number) => Uint8Array.from([...varint(num * 8), ...varint(v)]);
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const floats = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
const str = (s: string) => new TextEncoder().encode(s);

/** A Caffe NetParameter: V2 (`layer`, field 100) or V1 (`layers`, field 2) encoding. */
export function caffeModel(tensors: Tensors, v1: boolean): Uint8Array {
  const layers: Uint8Array[] = [field(1, str('VGG_tiny'))];
  // A non-conv layer first, with a blob, to check it is skipped.
  layers.push(v1 ? field(2, cat(field(4, str('fc8')), vfield(5, 14), field(6, field(5, floats(new Float32Array(4)))))) : field(100, cat(field(1, str('fc8')), field(2, str('InnerProduct')), field(7, field(5, floats(new Float32Array(4)))))));
  for (const [name, { w, b }] of tensors) {
    const shape = field(7, field(1, w.shape.flatMap((d) => varint(d))));
    const wBlob = v1 ? cat(vfield(1, w.shape[0]!), vfield(2, w.shape[1]!), vfield(3, 3), vfield(4, 3), field(5, floats(w.data))) : cat(shape, field(5, floats(w.data)));
    const bBlob = cat(field(5, floats(b.data)));
    layers.push(v1
      ? field(2, cat(field(4, str(name)), vfield(5, 4), field(6, wBlob), field(6, bBlob)))
      : field(100, cat(field(1, str(name)), field(2, str('Convolution')), field(7, wBlob), field(7, bBlob))));
  }
  return cat(...layers);
}

/** An ONNX model whose initializers follow a model-zoo naming. */
export function onnxModel(tensors: Tensors, naming: 'mxnet' | 'caffe2'): Uint8Array {
  const b = new GraphBuilder();
  const x = b.input('data', [1, 3, 8, 8]);
  let k = 0;
  let last = x;
  for (const [name, { w, b: bias }] of tensors) {
    const wn = naming === 'mxnet' ? `vgg0_conv${k}_weight` : `${name}_w_0`;
    const bn = naming === 'mxnet' ? `vgg0_conv${k}_bias` : `${name}_b_0`;
    const wv = b.constant(wn, w.data, w.shape);
    const bv = b.constant(bn, bias.data, bias.shape);
    if (wv.name !== wn) throw new Error(`initializer name ${wv.name} is not ${wn}`);
    last = b.emit1('Conv', [last, wv, bv], [1, w.shape[0]!, 8, 8], { attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
    k++;
  }
  b.output('out', last);
  return b.toModel();
}

export async function kerasH5(file: string, style: 'keras1' | 'keras2', tensors: Tensors): Promise<void> {
  const h5 = (await import('h5wasm/node')).default;
  await h5.ready;
  const f = new h5.File(file, 'w', { libver: ['earliest', 'v108'] });
  const root = style === 'keras2' ? f.create_group('model_weights') : f;
  const names: string[] = [];
  for (const [name, { w, b }] of tensors) {
    const [, bi, ci] = /conv(\d)_(\d)/.exec(name)!;
    const layer = `block${bi}_conv${ci}`;
    names.push(layer);
    const [o, i, kh, kw] = w.shape as number[];
    const hwio = new Float32Array(w.data.length);
    for (let oo = 0; oo < o!; oo++) for (let ii = 0; ii < i!; ii++) for (let y = 0; y < kh!; y++) for (let xx = 0; xx < kw!; xx++) {
      hwio[((y * kw! + xx) * i! + ii) * o! + oo] = w.data[((oo * i! + ii) * kh! + y) * kw! + xx]!;
    }
    const g = root.create_group(layer);
    const [kn, bn] = style === 'keras1' ? [`${layer}_W_1:0`, `${layer}_b_1:0`] : [`${layer}/kernel:0`, `${layer}/bias:0`];
    const holder = style === 'keras1' ? g : g.create_group(layer);
    holder.create_dataset({ name: style === 'keras1' ? kn : 'kernel:0', data: hwio, shape: [kh!, kw!, i!, o!], dtype: '<f' });
    holder.create_dataset({ name: style === 'keras1' ? bn : 'bias:0', data: b.data, shape: [o!], dtype: '<f' });
    g.create_attribute('weight_names', [kn, bn]);
    if (name.endsWith('_2') && Number(bi) <= 2 || name.endsWith('_4')) names.push(`block${bi}_pool`);
  }
  for (const n of names.filter((x) => x.endsWith('_pool'))) root.create_group(n).create_attribute('weight_names', new Float64Array(0), [0], '<d');
  root.create_attribute('layer_names', names);
  f.close();
}

