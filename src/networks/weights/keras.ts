/**
 * Keras HDF5 weight files (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` and re-saved
 * models), read through h5wasm the way Keras reads them: the root attribute `layer_names` (or its
 * split parts `layer_names0`, `layer_names1`, …), then per layer group its `weight_names`, kernel
 * first and bias second. This accepts all three naming styles (Keras 1 `block1_conv1_W_1:0`,
 * Keras 2 `block1_conv1/kernel:0` under `model_weights/`, Keras 3 `block1_conv1/kernel`).
 * Kernels are stored (kh, kw, in, out) and are transposed to OIHW. Keras VGG expects Caffe input.
 */
import { NamedTensor, WeightFormatError } from './safetensors.js';

/** HDF5's 8-byte signature. */
export const HDF5_MAGIC = Uint8Array.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isHdf5(buf: Uint8Array): boolean {
  return buf.length >= 8 && HDF5_MAGIC.every((b, i) => buf[i] === b);
}

type H5 = typeof import('h5wasm');

async function h5(): Promise<H5> {
  const mod = (await import('h5wasm/node')) as unknown as H5 & { default?: H5 };
  const lib = mod.default ?? mod;
  await lib.ready;
  return lib;
}

function strings(v: unknown): string[] {
  const arr = Array.isArray(v) ? v : v == null ? [] : [v];
  return arr.map((s) => String(s).replace(/[\0\s]+$/, ''));
}

function attrStrings(obj: { attrs: Record<string, unknown> }, name: string): string[] | null {
  const attrs = obj.attrs as Record<string, { json_value: unknown }>;
  if (attrs[name]) return strings(attrs[name].json_value);
  const parts: string[] = [];
  for (let i = 0; attrs[`${name}${i}`]; i++) parts.push(...strings(attrs[`${name}${i}`]!.json_value));
  return parts.length ? parts : null;
}

const KERAS_NAME = /^block(\d)_conv(\d)$/;

/**
 * Reads the conv layers of a Keras VGG weight file into canonical `convB_I.weight/.bias`.
 * @throws WeightFormatError for an HDF5 file that is not Keras weights.
 */
export async function readKerasH5(path: string): Promise<Map<string, NamedTensor>> {
  const lib = await h5();
  let file: InstanceType<H5['File']>;
  try {
    file = new lib.File(path, 'r');
  } catch (err) {
    throw new WeightFormatError(`${path}: HDF5 file could not be opened (${(err as Error).message}); it is truncated or corrupt`);
  }
  try {
    let root: InstanceType<H5['Group']> = file;
    if (!attrStrings(root, 'layer_names') && file.get('model_weights')) root = file.get('model_weights') as InstanceType<H5['Group']>;
    const layers = attrStrings(root, 'layer_names');
    if (!layers) {
      throw new WeightFormatError(`${path}: an HDF5 file without Keras 'layer_names'; expected Keras VGG weights (e.g. vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5)`);
    }
    const out = new Map<string, NamedTensor>();
    for (const layer of layers) {
      const m = KERAS_NAME.exec(layer);
      if (!m) continue;
      const group = root.get(layer) as InstanceType<H5['Group']> | null;
      const names = group ? attrStrings(group, 'weight_names') : null;
      if (!group || !names || names.length < 2) throw new WeightFormatError(`${path}: Keras layer ${layer} has no kernel and bias weights`);
      const read = (n: string) => {
        const ds = (group.get(n) ?? root.get(n)) as InstanceType<H5['Dataset']> | null;
        if (!ds || !ds.shape) throw new WeightFormatError(`${path}: dataset ${layer}/${n} is missing`);
        let value: unknown;
        try {
          value = ds.value;
        } catch (err) {
          throw new WeightFormatError(`${path}: dataset ${layer}/${n} cannot be read (${(err as Error).message}); the file is truncated or corrupt`);
        }
        const data = value instanceof Float32Array ? value : Float32Array.from(value as ArrayLike<number>);
        return { data, shape: ds.shape };
      };
      const k = read(names[0]!);
      const b = read(names[1]!);
      if (k.shape.length !== 4) throw new WeightFormatError(`${path}: ${layer} kernel has shape [${k.shape}]; expected (kh, kw, in, out)`);
      const [kh, kw, ci, co] = k.shape as [number, number, number, number];
      const oihw = new Float32Array(k.data.length);
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) {
        oihw[((o * ci + i) * kh + y) * kw + x] = k.data[((y * kw + x) * ci + i) * co + o]!;
      }
      const canon = `conv${m[1]}_${m[2]}`;
      out.set(`${canon}.weight`, { data: oihw, shape: [co, ci, kh, kw] });
      out.set(`${canon}.bias`, b);
    }
    if (out.size === 0) throw new WeightFormatError(`${path}: Keras file without VGG conv layers (block1_conv1 …); its layers are ${layers.slice(0, 5).join(', ')}`);
    return out;
  } finally {
    file.close();
  }
}
