/**
 * Type tests: misuse of the loss API does not compile. Each `@ts-expect-error` line must be an
 * error for `tsc -p tsconfig.check.json` (run by `npm test`) to pass; if the types ever allowed
 * the call, the unused directive would fail the type check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { contentLoss } from '../../src/losses/content.js';
import { gramOf, gramStyleLoss } from '../../src/losses/gram-style.js';
import { asFeatureMap, asGramMatrix } from '../../src/losses/types.js';
import { validateOptions } from '../../src/pipeline/options.js';

test('a Gram matrix where features are expected, or the reverse, does not compile', () => {
  const t = new Tape(new GraphBuilder());
  const features = asFeatureMap(t.b.input('f', [1, 2, 3, 3]));
  const gram = gramOf(t, features, 'g');
  // Never called: these lines exist for the type checker only.
  const misuse = () => {
    // @ts-expect-error a GramMatrix is not a FeatureMap (the course lab's "Expects two images")
    contentLoss(t, gram, gram, 0.5, 'c');
    // @ts-expect-error the style target must be a GramMatrix, not features
    gramStyleLoss(t, features, features, 1, 's');
    // @ts-expect-error an unbranded value is neither
    gramStyleLoss(t, t.b.input('x', [1, 2, 3, 3]), gram, 1, 's2');
  };
  assert.equal(typeof misuse, 'function');
  assert.equal(gramStyleLoss(t, features, gram, 1, 's3').shape.length, 0);
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
