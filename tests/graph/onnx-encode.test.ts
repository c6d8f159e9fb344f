/**
 * The hand-written ONNX encoder (src/graph/onnx-encode.ts, no code generation, so it runs under a
 * page's CSP) against protobufjs's encoder from the schema in onnx-proto.ts: byte for byte on a
 * model that uses every field kind, and on the real objective graph of a stylisation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeModel } from '../../src/graph/onnx-encode.js';
import { ModelProto } from '../../src/graph/onnx-proto.js';
import { resolveEngine, type Engine } from '../../src/engine/index.js';
import { prepareProblem } from '../../src/pipeline/prepare.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const images = fileURLToPath(new URL('../fixtures/images/', import.meta.url));

function reference(model: Record<string, unknown>): Uint8Array {
  assert.equal(ModelProto.verify(model), null);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

test('every field kind encodes to protobufjs\'s bytes: negative int64, floats, strings, bytes, packed and unpacked repeats, nesting', () => {
  const model = {
    ir_version: 8, producer_name: 'impasto ✓ ünïcode', producer_version: '', model_version: 2 ** 40 + 3, doc_string: 'x'.repeat(300),
    opset_import: [{ domain: '', version: 17 }, { domain: 'com.example', version: 1 }],
    graph: {
      name: 'g',
      node: [
        { input: ['a', 'b'], output: ['c'], name: 'n0', op_type: 'Gemm', attribute: [
          { name: 'alpha', type: 1, f: -0.125 }, { name: 'axis', type: 2, i: -1 }, { name: 'mode', type: 3, s: new TextEncoder().encode('constant') },
          { name: 'pads', type: 7, ints: [0, -2, 3, 1e12] }, { name: 'scales', type: 6, floats: [1.5, -2, 3.25] },
          { name: 'value', type: 4, t: { dims: [2], data_type: 1, float_data: [1, 2.5] } },
        ] },
        { input: [], output: ['d'], op_type: 'Constant', domain: '', doc_string: 'no name' },
      ],
      initializer: [
        { name: 'w', dims: [2, 3], data_type: 1, raw_data: new Uint8Array([0, 0, 128, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]) },
        { name: 'i', dims: [3], data_type: 7, int64_data: [-1, 0, 2 ** 50] },
        { name: 'e', dims: [0], data_type: 11, double_data: [] },
        { name: 'f', dims: [2], data_type: 11, double_data: [Math.PI, -1e-300], external_data: [{ key: 'location', value: 'x.bin' }], data_location: 0 },
      ],
      input: [{ name: 'a', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 1 }, { dim_param: 'N' }] } } } }],
      output: [{ name: 'c', type: { tensor_type: { elem_type: 1, shape: { dim: [] } } }, doc_string: 'out' }],
      value_info: [],
    },
  };
  assert.ok(Buffer.from(encodeModel(model)).equals(Buffer.from(reference(model))), 'byte-identical');
});

test('the objective graph of a real stylisation encodes to protobufjs\'s bytes (decode ours, re-encode with protobufjs)', async () => {
  // The bytes the engine is handed: the targets' graph and the objective's.
  const real = await resolveEngine('node');
  const models: Uint8Array[] = [];
  const engine: Engine = { name: real.name, createSession: (m, o) => { models.push(m); return real.createSession(m, o); } };
  await prepareProblem({ content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network: 'offline', size: 48 }, { engine });
  assert.ok(models.length >= 2);
  const ours = models.at(-1)!;
  const decoded = ModelProto.decode(ours);
  const again = ModelProto.encode(decoded).finish();
  assert.equal(ours.length, again.length);
  assert.ok(Buffer.from(ours).equals(Buffer.from(again)), 'byte-identical');
  assert.ok(ours.length > 100_000, `a real graph (${ours.length} bytes)`);
});

test('a field outside the schema, or a value of the wrong type, is an error naming it', () => {
  assert.throws(() => encodeModel({ ir_version: 8, graph: { nodes: [] } }), /ModelProto\.graph\.nodes: expected a field of GraphProto/);
  assert.throws(() => encodeModel({ ir_version: 1.5 }), /ModelProto\.ir_version: expected an integer, received 1\.5/);
  assert.throws(() => encodeModel({ graph: { node: [{ input: [3] }] } }), /ModelProto\.graph\.node\[0\]\.input\[0\]: expected a string, received 3/);
});
