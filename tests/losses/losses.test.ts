/**
 * Each loss on a hand-computable example (C = 2, H = W = 2), its gradient against float64 finite
 * differences, a test that pins its normalisation, and each preset's factor relative to `paper`.
 *
 * Hand example: features F [1,2,2,2] = channel 0 [1,2,3,4], channel 1 [5,6,7,8] (row-major).
 *   Gram G = F Fᵀ = [[30, 70], [70, 174]].
 *   With A = I: G − A = [[29, 70], [70, 173]], Σ(G−A)² = 841 + 4900 + 4900 + 29929 = 40570.
 *   Paper: E = Σ(G−A)² / (4 N² M²) with N = 2, M = 4: 40570 / 256 = 158.4765625.
 *   Content with P = 0: ½ Σ F² = ½ (1+4+9+16+25+36+49+64) = 102.
 *   TV of the 1-channel image [[1,2],[4,8]]: dh = (3, 6), dw = (1, 4):
 *   L2 = 9 + 36 + 1 + 16 = 62; L1 = 3 + 6 + 1 + 4 = 14.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { contentLoss } from '../../src/losses/content.js';
import { gramStyleLoss } from '../../src/losses/gram-style.js';
import { tvLoss } from '../../src/losses/tv.js';
import { asFeatureMap, asGramMatrix, asImage } from '../../src/losses/types.js';
import { PRESETS, getPreset } from '../../src/losses/presets.js';
import { checkVjp64, sessionFor, Build } from '../helpers.js';

const F = [1, 2, 3, 4, 5, 6, 7, 8];

async function value(shape: number[], data: number[], build: Build): Promise<number> {
  const b = new GraphBuilder('float64');
  const t = new Tape(b);
  const x = b.input('x', shape);
  b.output('y', build(t, [x]));
  const s = await sessionFor(b);
  const out = await s.run({ x: { data: Float64Array.from(data), dims: shape } });
  await s.dispose();
  return Number(out.y!.data[0]);
}

const paperStyle = (t: Tape, f: ReturnType<GraphBuilder['input']>, a: number[], factor = PRESETS.paper.styleFactor) => {
  const n = f.shape[1]!;
  const m = f.shape[2]! * f.shape[3]!;
  return gramStyleLoss(t, asFeatureMap(f), asGramMatrix(t.b.constant('A', a, [n, n])), factor(n, m), 'style');
};

test('content loss ½Σ(F−P)² on the 2×2×2 example is 102', async () => {
  const v = await value([1, 2, 2, 2], F, (t, [f]) => contentLoss(t, asFeatureMap(f!), asFeatureMap(t.b.constant('P', new Float64Array(8), [1, 2, 2, 2])), 0.5, 'content'));
  assert.equal(v, 102);
});

test('Gram style loss E = Σ(G−A)²/(4N²M²) on the 2×2×2 example is 40570/256', async () => {
  const v = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1]));
  assert.equal(v, 40570 / 256);
});

test('total variation on [[1,2],[4,8]]: L2 form 62, L1 form 14', async () => {
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l2')), 62);
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l1')), 14);
});

test('gradients of content, style and both TV forms match float64 finite differences', async () => {
  const P = Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.cos(i));
  await checkVjp64([[1, 2, 3, 4]], (t, [f]) => contentLoss(t, asFeatureMap(f!), asFeatureMap(t.b.constant('P', P, [1, 2, 3, 4])), 0.5, 'c'));
  await checkVjp64([[1, 2, 3, 4]], (t, [f]) => paperStyle(t, f!, [1, 0.5, 0.5, 2]));
  await checkVjp64([[1, 3, 3, 4]], (t, [x]) => tvLoss(t, asImage(x!), 'l2'));
  await checkVjp64([[1, 3, 3, 4]], (t, [x]) => tvLoss(t, asImage(x!), 'l1'));
});

/** The 2×2×2 features tiled 2×2 → [1,2,4,4] (M = 16). */
function tiled(): number[] {
  const out: number[] = [];
  for (let c = 0; c < 2; c++) for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) out.push(F[c * 4 + (i % 2) * 2 + (j % 2)]!);
  return out;
}

test('normalisation: E_l is unchanged when the image is tiled 2×2 (A scaled to the new M)', async () => {
  const small = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1]));
  // A is un-normalised (a sum over positions), so the tiled style target is 4·A.
  const big = await value([1, 2, 4, 4], tiled(), (t, [f]) => paperStyle(t, f!, [4, 0, 0, 4]));
  assert.ok(Math.abs(big - small) < 1e-12 * small, `${big} vs ${small}`);
});

test('normalisation: the content loss is a sum, so tiling 2×2 multiplies it by 4', async () => {
  const zeros = (n: number) => new Float64Array(n);
  const small = await value([1, 2, 2, 2], F, (t, [f]) => contentLoss(t, asFeatureMap(f!), asFeatureMap(t.b.constant('P', zeros(8), [1, 2, 2, 2])), 0.5, 'c'));
  const big = await value([1, 2, 4, 4], tiled(), (t, [f]) => contentLoss(t, asFeatureMap(f!), asFeatureMap(t.b.constant('P', zeros(32), [1, 2, 4, 4])), 0.5, 'c'));
  assert.equal(big, 4 * small);
});

test('each preset pins its per-layer style factor relative to the paper', async () => {
  const expected: Record<string, (n: number) => number> = {
    paper: () => 1,
    'gatys-code': () => 4,
    'keras-tutorial': () => 4,
    jcjohnson: (n) => 4 / (n * n),
    'pytorch-tutorial': (n) => 4 / (n * n),
  };
  const paper = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1]));
  for (const [name, ratio] of Object.entries(expected)) {
    const v = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1], getPreset(name).styleFactor));
    assert.ok(Math.abs(v / paper - ratio(2)) < 1e-12, `${name}: ratio ${v / paper}, expected ${ratio(2)}`);
    // The factor's dependence on N and M, checked away from the example too.
    for (const [n, m] of [[64, 65536], [512, 1024]]) {
      const r = getPreset(name).styleFactor(n!, m!) / PRESETS.paper.styleFactor(n!, m!);
      assert.ok(Math.abs(r / ratio(n!) - 1) < 1e-12, `${name} at N=${n}, M=${m}: ratio ${r}`);
    }
  }
});

test('each preset pins its content factor relative to the paper (½)', () => {
  const expected: Record<string, (n: number, m: number) => number> = {
    paper: () => 1,
    'keras-tutorial': () => 1,
    'gatys-code': (n, m) => 2 / (n * m),
    jcjohnson: (n, m) => 2 / (n * m),
    'pytorch-tutorial': (n, m) => 2 / (n * m),
  };
  for (const [name, ratio] of Object.entries(expected)) {
    const r = getPreset(name).contentFactor(512, 1024) / PRESETS.paper.contentFactor(512, 1024);
    assert.ok(Math.abs(r / ratio(512, 1024) - 1) < 1e-12, `${name}: ${r}`);
  }
});

test('an unknown preset is an error that lists the valid ones', () => {
  assert.throws(() => getPreset('gatys'), /unknown preset 'gatys'; expected one of: paper, gatys-code, jcjohnson, pytorch-tutorial, keras-tutorial/);
});
