/** The engine seam: registry, readable errors, session lifecycle. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { EngineError, listEngines, resolveEngine } from '../../src/engine/index.js';

test('the node engine is registered and resolves; an unknown engine name lists the registered ones', async () => {
  assert.deepEqual(listEngines(), ['node', 'web']);
  assert.equal((await resolveEngine()).name, 'node');
  await assert.rejects(resolveEngine('webgpu'), /unknown engine 'webgpu'; registered engines: node, web/);
});

test('a graph with an unknown op fails with one line that names the node, not a stack trace', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 3, 4, 4]);
  b.output('y', b.emit1('NoSuchOp', [x], [1, 3, 4, 4], { label: 'conv9_9' }));
  const engine = await resolveEngine();
  await assert.rejects(engine.createSession(b.toModel(), { threads: 1 }), (e: Error) =>
    e instanceof EngineError && /ONNX Runtime rejected the graph/.test(e.message) && /NoSuchOp/.test(e.message) && /conv9_9/.test(e.message) && !e.message.includes('\n    at '));
});

test('a run with a missing input names it', async () => {
  const b = new GraphBuilder();
  const x = b.input('image', [1, 3]);
  b.output('y', b.emit1('Relu', [x], [1, 3]));
  const s = await (await resolveEngine()).createSession(b.toModel(), { threads: 1 });
  await assert.rejects(s.run({}), /missing graph inputs: image/);
  const out = await s.run({ image: { data: Float32Array.of(-1, 0, 2), dims: [1, 3] } });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [0, 0, 2]);
  await s.dispose();
});
