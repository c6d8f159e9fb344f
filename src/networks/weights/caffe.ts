/**
 * Caffe `.caffemodel` files (a binary NetParameter), read by a streaming wire-format walker that
 * keeps only the conv layers' blobs and skips everything else (the 120 M-parameter fc6–fc8 are
 * never decoded). Both layer encodings are read:
 *   NetParameter.layer = 100 (LayerParameter: name = 1, type = 2 "Convolution", blobs = 7) and
 *   NetParameter.layers = 2 (V1LayerParameter: name = 4, type = 5 (CONVOLUTION = 4), blobs = 6).
 * BlobProto: data = 5 (packed float), shape = 7 (BlobShape.dim = 1, packed int64), or the legacy
 * num/channels/height/width = 1–4. Blob 0 is the OIHW weight, blob 1 the bias. Caffe VGG input is
 * BGR minus the mean.
 */
import { NamedTensor, WeightFormatError } from './safetensors.js';
import { fields, packedFloats, packedVarints, utf8 } from './protowire.js';

function blob(bytes: Uint8Array, what: string): NamedTensor {
  let data: Float32Array | null = null;
  let shape: number[] | null = null;
  const legacy = [0, 0, 0, 0];
  for (const f of fields(bytes, what)) {
    if (f.number === 5 && f.wire === 2) data = packedFloats(f.bytes);
    else if (f.number === 7 && f.wire === 2) {
      shape = [];
      for (const d of fields(f.bytes, what)) {
        if (d.number === 1) shape.push(...(d.wire === 2 ? packedVarints(d.bytes, what) : [d.value]));
      }
    } else if (f.number >= 1 && f.number <= 4 && f.wire === 0) legacy[f.number - 1] = f.value;
  }
  if (!data) throw new WeightFormatError(`${what}: a Caffe blob without float data (double-precision blobs are not supported)`);
  return { data, shape: shape ?? legacy };
}

/** Reads the conv layers of a Caffe model; keys `<layer name>.weight` and `.bias`. */
export function readCaffeModel(buf: Uint8Array, what: string): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  let layersSeen = 0;
  for (const f of fields(buf, what)) {
    const v2 = f.number === 100 && f.wire === 2;
    const v1 = f.number === 2 && f.wire === 2;
    if (!v2 && !v1) continue;
    layersSeen++;
    let name = '';
    let isConv = false;
    const blobs: Uint8Array[] = [];
    for (const g of fields(f.bytes, what)) {
      if (v2 && g.number === 1 && g.wire === 2) name = utf8(g.bytes);
      else if (v2 && g.number === 2 && g.wire === 2) isConv = utf8(g.bytes) === 'Convolution';
      else if (v2 && g.number === 7 && g.wire === 2) blobs.push(g.bytes);
      else if (v1 && g.number === 4 && g.wire === 2) name = utf8(g.bytes);
      else if (v1 && g.number === 5 && g.wire === 0) isConv = g.value === 4;
      else if (v1 && g.number === 6 && g.wire === 2) blobs.push(g.bytes);
    }
    if (!isConv || blobs.length === 0) continue;
    const w = blob(blobs[0]!, `${what} (${name})`);
    const count = w.shape.reduce((a, d) => a * d, 1);
    if (count !== w.data.length) throw new WeightFormatError(`${what}: layer ${name} has ${w.data.length} weights for shape [${w.shape}]`);
    out.set(`${name}.weight`, w);
    if (blobs[1]) {
      const b = blob(blobs[1], `${what} (${name})`);
      out.set(`${name}.bias`, { data: b.data, shape: [b.data.length] });
    }
  }
  if (layersSeen === 0) throw new WeightFormatError(`${what}: no Caffe layers found; expected a .caffemodel (NetParameter)`);
  return out;
}
