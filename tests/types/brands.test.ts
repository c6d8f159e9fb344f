/**
 * Type tests: misuse of the loss API does not compile. Each `@ts-expect-error` line must be an
 * error for `tsc -p tsconfig.check.json` (run by `npm test`) to pass; if the types ever allowed
 * the call, the unused directive would fail the type check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { contentUnit, type ContentTarget } from '../../src/losses/content.js';
import { gramOf, gramStyle, type GramTarget } from '../../src/losses/gram-style.js';
import { meanStdStyle, type MeanStdTarget } from '../../src/losses/mean-std-style.js';
import { asFeatureMap, asGramMatrix } from '../../src/losses/types.js';
import { withTarget } from '../../src/losses/unit.js';
import { validateOptions } from '../../src/pipeline/options.js';

const host = (n: number) => ({ data: new Float32Array(n), dims: [n] });
const gramTarget: GramTarget = { kind: 'gram', tensors: { gram: { data: new Float32Array(4), dims: [2, 2] } } };
const meanStdTarget: MeanStdTarget = { kind: 'mean-std', tensors: { mean: host(2), variance: host(2) } };
const contentTarget: ContentTarget = { kind: 'content', tensors: { features: { data: new Float32Array(8), dims: [1, 2, 2, 2] } } };

test('a target cannot be given to a unit that did not make it: types, and the kind at run time', () => {
  const gram = gramStyle('paper');
  const at = { channels: 2, positions: 4 };
  const misuse = () => {
    // @ts-expect-error a Gram target is not a mean–std target
    meanStdStyle.scale(gramTarget, at);
    // @ts-expect-error a content target (features) is not a Gram target
    gram.scale(contentTarget, at);
    // @ts-expect-error the Gram term takes a Gram statistic, not mean and variance
    gram.term(new Tape(new GraphBuilder()), asFeatureMap(new GraphBuilder().input('f', [1, 2, 2, 2])), { mean: new GraphBuilder().input('m', [2]) }, 's');
    // @ts-expect-error withTarget binds a unit only to its own kind of target
    withTarget({ unit: gram, layer: 'relu1_1', weight: 1 }, meanStdTarget);
  };
  assert.equal(typeof misuse, 'function');
  assert.equal(gram.scale(gramTarget, at), 0);
  // The same check at run time, for targets that come through untyped paths.
  assert.throws(() => withTarget({ unit: gram, layer: 'relu1_1', weight: 1 }, meanStdTarget as unknown as GramTarget), /relu1_1: a 'mean-std' target was given to the 'gram' loss/);
  assert.equal(withTarget({ unit: contentUnit('mean'), layer: 'relu4_2', weight: 1 }, contentTarget).target, contentTarget);
});

test('a Gram matrix where features are expected does not compile', () => {
  const t = new Tape(new GraphBuilder());
  const features = asFeatureMap(t.b.input('f', [1, 2, 3, 3]));
  const g = gramOf(t, features, 'g');
  const misuse = () => {
    // @ts-expect-error a GramMatrix is not a FeatureMap (the course lab's "Expects two images")
    gramStyle('paper').term(t, g, { gram: g }, 's');
    // @ts-expect-error an unbranded value is not a FeatureMap either
    contentUnit('half-sum').term(t, t.b.input('x', [1, 2, 3, 3]), { features: features }, 'c');
  };
  assert.equal(typeof misuse, 'function');
  assert.equal(gramStyle('paper').term(t, features, { gram: g }, 's3').shape.length, 0);
});

test('the brands check shapes at the boundary', () => {
  const b = new GraphBuilder();
  assert.throws(() => asGramMatrix(b.input('a', [2, 3])), /expected a Gram matrix \[N,N\], received \[2,3\]/);
  assert.throws(() => asFeatureMap(b.input('b', [2, 3])), /expected a feature map \[1,N,H,W\], received \[2,3\]/);
});

test('weights travel by name: positional weights do not compile', () => {
  const misuse = () => {
    // @ts-expect-error options are one named object, never positional floats
    validateOptions(1e3, 1, 1e-3);
  };
  assert.equal(typeof misuse, 'function');
  assert.equal(validateOptions({ styleWeight: 1e3, contentWeight: 1, tvWeight: 1e-3 }).styleWeight, 1e3);
});
