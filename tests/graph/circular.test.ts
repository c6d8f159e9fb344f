/** Circular padding (graph/circular.ts): its values against a hand-built wrap, and its gradient against finite differences. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { circularPad, sameConv } from '../../src/graph/circular.js';
import { checkVjp64, sessionFor, uniform } from '../helpers.js';

for (const [h, w, p] of [[3, 4, 2], [2, 1, 3]]) test(`circularPad wraps each side of ${h}×${w} by ${p}: [x[L−p:], x, x[:p]] along W, then along H (repeating when p > L)`, async () => {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const x = b.input('x', [1, 2, h, w]);
  b.output('y', circularPad(t, x, p, 'pad'));
  const s = await sessionFor(b);
  const data = Float32Array.from({ length: 2 * h * w }, (_, i) => i);
  const y = (await s.run({ x: { data, dims: [1, 2, h, w] } })).y!;
  await s.dispose();
  assert.deepEqual(y.dims, [1, 2, h + 2 * p, w + 2 * p]);
  const mod = (a: number, n: number) => ((a % n) + n) % n;
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < h + 2 * p; i++) {
      for (let j = 0; j < w + 2 * p; j++) {
        const want = data[c * h * w + mod(i - p, h) * w + mod(j - p, w)]!;
        assert.equal(y.data[(c * (h + 2 * p) + i) * (w + 2 * p) + j], want, `c ${c}, row ${i}, col ${j}`);
      }
    }
  }
});

test('circular padding has an exact gradient (float64 finite differences), also behind another op', async () => {
  await checkVjp64([[1, 2, 3, 5]], (t, [x]) => circularPad(t, x!, 2, 'pad'));
  await checkVjp64([[1, 1, 2, 3]], (t, [x]) => circularPad(t, t.mul(x!, x!, 'square'), 1, 'pad'));
});

test('a circular convolution commutes with rolling the image (what makes a texture tile)', async () => {
  const [h, w] = [6, 8];
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const x = b.input('x', [1, 1, h, w]);
  b.output('y', sameConv(t, x, b.constant('w', uniform(9, 3), [1, 1, 3, 3]), undefined, 1, true, 'conv'));
  const s = await sessionFor(b);
  const img = Float32Array.from(uniform(h * w, 4));
  const rolled = Float32Array.from({ length: h * w }, (_, k) => img[Math.floor(k / w) * w + ((k % w) + 3) % w]!);
  const y = (await s.run({ x: { data: img, dims: [1, 1, h, w] } })).y!.data as Float32Array;
  const yr = (await s.run({ x: { data: rolled, dims: [1, 1, h, w] } })).y!.data as Float32Array;
  await s.dispose();
  for (let k = 0; k < h * w; k++) assert.ok(Math.abs(yr[k]! - y[Math.floor(k / w) * w + ((k % w) + 3) % w]!) < 1e-5);
});
