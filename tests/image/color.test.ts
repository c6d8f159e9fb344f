/** Luminance transfer (--original-colors) and output sizing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sizeByArea, sizeByLongestSide, transferLuminance } from '../../src/image/color.js';

const px = (r: number, g: number, b: number) => ({ data: Float32Array.of(r, g, b), width: 1, height: 1 });
const luma = (d: Float32Array) => 0.299 * d[0]! + 0.587 * d[1]! + 0.114 * d[2]!;

test('luminance transfer keeps the stylised luma and the content chroma', () => {
  // A grey stylised pixel (Y = 100) with a pure-red content pixel: the result is a red of luma 100.
  const out = transferLuminance(px(100, 100, 100), px(255, 0, 0)).data;
  assert.ok(Math.abs(luma(out) - 100) < 1e-3, `luma ${luma(out)}`);
  const cb = (d: Float32Array) => -0.168736 * d[0]! - 0.331264 * d[1]! + 0.5 * d[2]!;
  const cr = (d: Float32Array) => 0.5 * d[0]! - 0.418688 * d[1]! - 0.081312 * d[2]!;
  assert.ok(Math.abs(cb(out) - cb(Float32Array.of(255, 0, 0))) < 1e-3);
  assert.ok(Math.abs(cr(out) - cr(Float32Array.of(255, 0, 0))) < 1e-3);
  // Same image in, same image out.
  const same = transferLuminance(px(12, 200, 77), px(12, 200, 77)).data;
  assert.ok(Array.from(same).every((v, i) => Math.abs(v - [12, 200, 77][i]!) < 1e-3));
  assert.throws(() => transferLuminance(px(1, 1, 1), { data: new Float32Array(6), width: 2, height: 1 }), /needs images of one size, received 1×1 and 2×1/);
});

test('output size by longest side or by area keeps the aspect ratio', () => {
  assert.deepEqual(sizeByLongestSide(1024, 768, 512), { width: 512, height: 384 });
  assert.deepEqual(sizeByLongestSide(591, 800, 256), { width: 189, height: 256 });
  assert.deepEqual(sizeByArea(1024, 768, 512 * 512), { width: 591, height: 443 });
});
