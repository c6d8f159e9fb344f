/**
 * ONNX model-zoo VGG files: the conv initializers, in graph order, mapped to canonical names.
 * vgg19-7.onnx (MXNet export) names them `vgg0_conv{k}_weight`/`_bias` and expects torchvision-style
 * input (RGB/255, ImageNet mean/std); vgg19-caffe2-9.onnx names them `conv{b}_{i}_w_0`/`_b_0` and
 * expects Caffe input. Initializers are read from raw_data (or float_data), whose length must match
 * their dims; initializers kept in external data files are refused without opening those files.
 */
import { ModelProto } from '../../graph/onnx-proto.js';
import { NamedTensor, WeightFormatError } from './safetensors.js';

interface TensorMsg {
  name?: string;
  dims?: (number | { toNumber(): number })[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  external_data?: { key?: string; value?: string }[];
  data_location?: number;
}

/** Reads conv weights; keys canonical (`conv1_1.weight`); `preprocess` as implied by the naming. */
export function readOnnxModel(buf: Uint8Array, what: string): { tensors: Map<string, NamedTensor>; preprocess: 'caffe' | 'torchvision' } {
  let model: { graph?: { initializer?: TensorMsg[] } };
  try {
    model = ModelProto.decode(buf) as unknown as typeof model;
  } catch (err) {
    throw new WeightFormatError(`${what}: not a readable ONNX model (${(err as Error).message}); the file is truncated or not ONNX`);
  }
  const inits = model.graph?.initializer ?? [];
  const get = (name: string): NamedTensor | undefined => {
    const t = inits.find((i) => i.name === name);
    if (!t) return undefined;
    if (t.data_location === 1 || t.external_data?.length) {
      const location = t.external_data?.find((e) => e.key === 'location')?.value ?? '?';
      throw new WeightFormatError(`${what}: initializer ${name} keeps its data in another file (${location}), ONNX external data; a weight file must hold its own weights, so it is refused (that file was not read)`);
    }
    if (t.data_type !== 1) throw new WeightFormatError(`${what}: initializer ${name} has ONNX data type ${t.data_type}; expected FLOAT (1)`);
    const shape = (t.dims ?? []).map((d) => (typeof d === 'number' ? d : d.toNumber()));
    if (shape.length > 8 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new WeightFormatError(`${what}: initializer ${name} has dims [${shape}]; expected up to 8 non-negative sizes`);
    const count = shape.reduce((a, d) => a * d, 1);
    const stored = t.raw_data && t.raw_data.length ? t.raw_data.length / 4 : (t.float_data ?? []).length;
    if (stored !== count) throw new WeightFormatError(`${what}: initializer ${name} of dims [${shape}] needs ${count} floats but holds ${stored}; the file is corrupt`);
    let data: Float32Array;
    if (t.raw_data && t.raw_data.length) {
      data = new Float32Array(t.raw_data.length >> 2);
      new Uint8Array(data.buffer).set(t.raw_data.subarray(0, data.length * 4));
    } else data = Float32Array.from(t.float_data ?? []);
    return { data, shape };
  };
  const out = new Map<string, NamedTensor>();
  const mx = inits.some((i) => /^vgg0_conv\d+_weight$/.test(i.name ?? ''));
  const blocks = [2, 2, 4, 4, 4];
  const vgg16 = mx ? !inits.some((i) => i.name === 'vgg0_conv15_weight') : !inits.some((i) => i.name === 'conv5_4_w_0');
  const counts = vgg16 ? [2, 2, 3, 3, 3] : blocks;
  let k = 0;
  counts.forEach((n, b) => {
    for (let i = 1; i <= n; i++, k++) {
      const canon = `conv${b + 1}_${i}`;
      const [w, bias] = mx ? [get(`vgg0_conv${k}_weight`), get(`vgg0_conv${k}_bias`)] : [get(`${canon}_w_0`), get(`${canon}_b_0`)];
      if (w) out.set(`${canon}.weight`, w);
      if (bias) out.set(`${canon}.bias`, bias);
    }
  });
  if (out.size === 0) throw new WeightFormatError(`${what}: an ONNX model without VGG conv initializers (vgg0_convK_weight or convB_I_w_0)`);
  return { tensors: out, preprocess: mx ? 'torchvision' : 'caffe' };
}
