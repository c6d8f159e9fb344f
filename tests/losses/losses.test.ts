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
import type { Value } from '../../src/graph/builder.js';
import { CONTENT_NORMALISATIONS, contentUnit } from '../../src/losses/content.js';
import { GRAM_NORMALISATIONS, gramStyle, type GramNormalisation } from '../../src/losses/gram-style.js';
import { STRENGTH_RANGES, styleWeightOf } from '../../src/losses/strength.js';
import { meanStdStyle, MEAN_STD_EPS } from '../../src/losses/mean-std-style.js';
import { w2Style, W2_ABSOLUTE_DELTA, W2_RELATIVE_DELTA } from '../../src/losses/w2-style.js';
import { tvLoss } from '../../src/losses/tv.js';
import { asFeatureMap, asImage } from '../../src/losses/types.js';
import { PRESETS, getPreset, contentFactor, styleFactor } from '../../src/losses/presets.js';
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

/** The Gram unit's term at features f against the constant target A. */
const paperStyle = (t: Tape, f: Value, a: number[], norm: GramNormalisation = 'paper') => {
  const n = f.shape[1]!;
  return gramStyle(norm).term(t, asFeatureMap(f), { gram: t.b.constant('A', a, [n, n]) }, 'style');
};
/** The content unit's term (½Σ under 'half-sum') against the constant target P. */
const content = (t: Tape, f: Value, p: ArrayLike<number>) => contentUnit('half-sum').term(t, asFeatureMap(f), { features: t.b.constant('P', Float64Array.from(p), f.shape) }, 'content');
/** The mean–std unit's term against constant μ_s and Σ_s,ii. */
const meanStd = (t: Tape, f: Value, mean: number[], variance: number[]) =>
  meanStdStyle.term(t, asFeatureMap(f), { mean: t.b.constant('mu', mean, [mean.length]), variance: t.b.constant('var', variance, [variance.length]) }, 'ms');

test('content loss ½Σ(F−P)² on the 2×2×2 example is 102', async () => {
  const v = await value([1, 2, 2, 2], F, (t, [f]) => content(t, f!, new Float64Array(8)));
  assert.equal(v, 102);
});

test('mean–std style loss on the 2×2×2 example: (‖μ−μ_s‖² + ‖σ−σ_s‖²)/N by hand', async () => {
  // Channel 0 [1,2,3,4]: μ = 2.5, Σ_00 = (2.25+0.25+0.25+2.25)/4 = 1.25; channel 1 [5..8]: μ = 6.5, Σ_11 = 1.25.
  // Target μ_s = (1, 2), Σ_s = (0.25, 4): ‖μ−μ_s‖² = 1.5² + 4.5² = 22.5;
  // σ = √(1.25+ε) each, σ_s = √(0.25+ε), √(4+ε).
  const eps = MEAN_STD_EPS;
  const dStd = (Math.sqrt(1.25 + eps) - Math.sqrt(0.25 + eps)) ** 2 + (Math.sqrt(1.25 + eps) - Math.sqrt(4 + eps)) ** 2;
  const v = await value([1, 2, 2, 2], F, (t, [f]) => meanStd(t, f!, [1, 2], [0.25, 4]));
  assert.ok(Math.abs(v - (22.5 + dStd) / 2) < 1e-12, `${v} vs ${(22.5 + dStd) / 2}`);
  // Without ε (to 1e-5): (22.5 + (√1.25−0.5)² + (√1.25−2)²)/2.
  assert.ok(Math.abs(v - (22.5 + (Math.sqrt(1.25) - 0.5) ** 2 + (Math.sqrt(1.25) - 2) ** 2) / 2) < 1e-5);
});

/** The W2 unit's term against constant μ_s [N] and Σ_s [N,N]. */
const w2 = (t: Tape, f: Value, mean: number[], covariance: number[]) =>
  w2Style.term(t, asFeatureMap(f), { mean: t.b.constant('mu', mean, [mean.length]), covariance: t.b.constant('cov', covariance, [mean.length, mean.length]) }, 'w2');

test('W2 style loss on a 2×2×2 example with uncorrelated channels, by hand', async () => {
  // Channel 0 [1,2,3,4]: μ 2.5, Σ_00 1.25; channel 1 [6,5,5,6]: μ 5.5, Σ_11 0.25; Σ_01 = 0.
  // Target μ_s = (1, 2), Σ_s = diag(0.25, 4). Both diagonal, so tr(Σ_δ + Σ_s,δ − 2(Σ_δΣ_s,δ)^½)
  // = Σ_i (√(a_i+δ) − √(b_i+δ))², with δ = 1e-4·tr(Σ_s) + 1e-8.
  const delta = W2_RELATIVE_DELTA * 4.25 + W2_ABSOLUTE_DELTA;
  const expected = (1.5 ** 2 + 3.5 ** 2 + (Math.sqrt(1.25 + delta) - Math.sqrt(0.25 + delta)) ** 2 + (Math.sqrt(0.25 + delta) - Math.sqrt(4 + delta)) ** 2) / 2;
  const v = await value([1, 2, 2, 2], [1, 2, 3, 4, 6, 5, 5, 6], (t, [f]) => w2(t, f!, [1, 2], [0.25, 0, 0, 4]));
  assert.ok(Math.abs(v - expected) < 1e-12 * expected, `${v} vs ${expected}`);
});

test('W2 normalisation: unchanged when the image is tiled 2×2; its blend target is the mixture’s mean and covariance', async () => {
  const small = await value([1, 2, 2, 2], F, (t, [f]) => w2(t, f!, [2, 5], [1, 0.2, 0.2, 2]));
  const big = await value([1, 2, 4, 4], tiled(), (t, [f]) => w2(t, f!, [2, 5], [1, 0.2, 0.2, 2]));
  assert.ok(Math.abs(big - small) < 1e-9 * small, `${big} vs ${small}`);
  const stats = (mean: number[], cov: number[]) => ({ mean: { data: Float32Array.from(mean), dims: [2] }, covariance: { data: Float32Array.from(cov), dims: [2, 2] } });
  // Means (0,0) and (2,0), covariance I each, equal weights: μ = (1,0) and
  // Σ = ½(I + 0) + ½(I + (2,0)(2,0)ᵀ) − μμᵀ = [[3,0],[0,1]] − [[1,0],[0,0]] = [[2,0],[0,1]].
  const mix = w2Style.target([{ stats: stats([0, 0], [1, 0, 0, 1]), weight: 0.5, positions: 4 }, { stats: stats([2, 0], [1, 0, 0, 1]), weight: 0.5, positions: 9 }], { channels: 2, positions: 4 });
  assert.deepEqual([...mix.tensors.mean.data], [1, 0]);
  assert.deepEqual([...mix.tensors.covariance.data], [2, 0, 0, 1]);
});

test('mean–std target of a blend is the mixture moments; one image gives its own', () => {
  const stats = (mean: number[], variance: number[]) => ({ mean: { data: Float32Array.from(mean), dims: [mean.length] }, variance: { data: Float32Array.from(variance), dims: [variance.length] } });
  const at = { channels: 2, positions: 16 };
  const one = meanStdStyle.target([{ stats: stats([1, 2], [0.5, 3]), weight: 1, positions: 4 }], at);
  assert.deepEqual([...one.tensors.mean.data], [1, 2]);
  assert.deepEqual([...one.tensors.variance.data], [0.5, 3]);
  // Two equal-weight images, channel 0 means 0 and 2 with variance 1 each: mixture mean 1,
  // variance E[x²] − μ² = ½(1+0) + ½(1+4) − 1 = 2.
  const blend = meanStdStyle.target([{ stats: stats([0, 0], [1, 1]), weight: 0.5, positions: 4 }, { stats: stats([2, 0], [1, 1]), weight: 0.5, positions: 9 }], at);
  assert.deepEqual([...blend.tensors.mean.data], [1, 0]);
  assert.deepEqual([...blend.tensors.variance.data], [2, 1]);
});

test('mean–std normalisation: the loss is unchanged when the image is tiled 2×2 (per-position statistics)', async () => {
  const small = await value([1, 2, 2, 2], F, (t, [f]) => meanStd(t, f!, [1, 2], [0.25, 4]));
  const big = await value([1, 2, 4, 4], tiled(), (t, [f]) => meanStd(t, f!, [1, 2], [0.25, 4]));
  assert.ok(Math.abs(big - small) < 1e-12 * small, `${big} vs ${small}`);
});

test('Gram style loss E = Σ(G−A)²/(4N²M²) on the 2×2×2 example is 40570/256', async () => {
  const v = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1]));
  assert.equal(v, 40570 / 256);
});

test('total variation on [[1,2],[4,8]]: L2 form 62, L1 form 14', async () => {
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l2')), 62);
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l1')), 14);
});

test('total variation of a tiling image on [[1,2],[4,8]] adds the seams (first − last row: 9 + 36, first − last column: 1 + 16): L2 124, L1 28', async () => {
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l2', 'tv', true)), 124);
  assert.equal(await value([1, 1, 2, 2], [1, 2, 4, 8], (t, [x]) => tvLoss(t, asImage(x!), 'l1', 'tv', true)), 28);
  await checkVjp64([[1, 3, 3, 4]], (t, [x]) => tvLoss(t, asImage(x!), 'l2', 'tv', true));
});

test('gradients of content, Gram style, mean–std style, W2 style and both TV forms match float64 finite differences', async () => {
  const P = Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.cos(i));
  await checkVjp64([[1, 2, 3, 4]], (t, [f]) => content(t, f!, P));
  await checkVjp64([[1, 2, 3, 4]], (t, [f]) => paperStyle(t, f!, [1, 0.5, 0.5, 2]));
  await checkVjp64([[1, 3, 3, 4]], (t, [f]) => meanStd(t, f!, [0.3, -0.2, 0.1], [0.2, 0.5, 0.05]));
  // W2: the gradient through Σ uses the implicit ½A^−½ᵀ of the Newton–Schulz op (converged here).
  await checkVjp64([[1, 3, 3, 4]], (t, [f]) => w2(t, f!, [0.3, -0.2, 0.1], [0.5, 0.1, 0.05, 0.1, 0.4, -0.1, 0.05, -0.1, 0.3]));
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
  const small = await value([1, 2, 2, 2], F, (t, [f]) => content(t, f!, zeros(8)));
  const big = await value([1, 2, 4, 4], tiled(), (t, [f]) => content(t, f!, zeros(32)));
  assert.equal(big, 4 * small);
});

test('each preset pins its per-layer style factor relative to the paper', async () => {
  const expected: Record<string, (n: number) => number> = {
    paper: () => 1,
    'gatys-code': () => 4,
    'tf-course-lab': () => 4,
    jcjohnson: (n) => 4 / (n * n),
    'pytorch-tutorial': (n) => 4 / (n * n),
  };
  const paper = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1]));
  for (const [name, ratio] of Object.entries(expected)) {
    const v = await value([1, 2, 2, 2], F, (t, [f]) => paperStyle(t, f!, [1, 0, 0, 1], getPreset(name).gram));
    assert.ok(Math.abs(v / paper - ratio(2)) < 1e-12, `${name}: ratio ${v / paper}, expected ${ratio(2)}`);
    // The factor's dependence on N and M, checked away from the example too.
    for (const [n, m] of [[64, 65536], [512, 1024]]) {
      const r = styleFactor(getPreset(name))(n!, m!) / styleFactor(PRESETS.paper)(n!, m!);
      assert.ok(Math.abs(r / ratio(n!) - 1) < 1e-12, `${name} at N=${n}, M=${m}: ratio ${r}`);
    }
  }
});

test('each preset pins its content factor relative to the paper (½)', () => {
  const expected: Record<string, (n: number, m: number) => number> = {
    paper: () => 1,
    'tf-course-lab': () => 1,
    'gatys-code': (n, m) => 2 / (n * m),
    jcjohnson: (n, m) => 2 / (n * m),
    'pytorch-tutorial': (n, m) => 2 / (n * m),
  };
  for (const [name, ratio] of Object.entries(expected)) {
    const r = contentFactor(getPreset(name))(512, 1024) / contentFactor(PRESETS.paper)(512, 1024);
    assert.ok(Math.abs(r / ratio(512, 1024) - 1) < 1e-12, `${name}: ${r}`);
  }
});

test('an unknown preset is an error that lists the valid ones', () => {
  assert.throws(() => getPreset('gatys'), /unknown preset 'gatys'; expected one of: impasto, paper, gatys-code, jcjohnson, pytorch-tutorial, tf-course-lab, keras-tutorial/);
});

test("'keras-tutorial' is an alias of 'tf-course-lab'; tool presets copy the tool's max pooling, paper and impasto keep average", () => {
  assert.equal(getPreset('keras-tutorial'), PRESETS['tf-course-lab']);
  for (const p of Object.values(PRESETS)) assert.equal(p.pooling, p.name === 'paper' || p.name === 'impasto' ? 'avg' : 'max', p.name);
  // impasto is the paper's terms with scale-free weights; every tool preset keeps its raw weights.
  const { impasto, paper } = PRESETS;
  assert.deepEqual([impasto.content, impasto.gram, impasto.contentLayers, impasto.styleLayers], [paper.content, paper.gram, paper.contentLayers, paper.styleLayers]);
  assert.deepEqual(Object.values(PRESETS).filter((p) => p.autoNormalise).map((p) => p.name), ['impasto']);
});

test('the strength map: β rises monotonically with s, from lo to hi decades for scale-free terms, and around the preset β for raw terms', () => {
  for (const family of ['vgg', 'untrained'] as const) {
    const [lo, hi] = STRENGTH_RANGES[family];
    assert.ok(Math.abs(styleWeightOf(0, family, true, 1e3) - 10 ** lo) <= 1e-12 * 10 ** lo);
    assert.ok(Math.abs(styleWeightOf(1, family, true, 1e3) - 10 ** hi) <= 1e-12 * 10 ** hi);
    const betas = [0, 0.1, 0.3, 0.5, 0.9, 1].map((s) => styleWeightOf(s, family, true, 1e3));
    for (let i = 1; i < betas.length; i++) assert.ok(betas[i]! > betas[i - 1]!);
  }
  assert.equal(styleWeightOf(0.5, 'vgg', false, 100), 100, "s = ½ is a raw preset's own β");
  assert.ok(Math.abs(styleWeightOf(0.75, 'vgg', false, 100) - 1000) < 1e-9, 'a quarter of strength is one decade');
});

test('each unit’s auto-normalisation scale is its term at zero features', async () => {
  const zeros = new Float64Array(8);
  const at = { channels: 2, positions: 4 };
  const host = (data: number[], dims: number[]) => ({ data: Float32Array.from(data), dims });
  const cases: [string, number, number][] = [
    ['content', await value([1, 2, 2, 2], zeros as unknown as number[], (t, [f]) => content(t, f!, F)),
      contentUnit('half-sum').scale({ kind: 'content', tensors: { features: host(F, [1, 2, 2, 2]) } }, at)],
    ['gram', await value([1, 2, 2, 2], Array.from(zeros), (t, [f]) => paperStyle(t, f!, [30, 70, 70, 174])),
      gramStyle('paper').scale({ kind: 'gram', tensors: { gram: host([30, 70, 70, 174], [2, 2]) } }, at)],
    ['mean-std', await value([1, 2, 2, 2], Array.from(zeros), (t, [f]) => meanStd(t, f!, [2.5, 6.5], [1.25, 1.25])),
      meanStdStyle.scale({ kind: 'mean-std', tensors: { mean: host([2.5, 6.5], [2]), variance: host([1.25, 1.25], [2]) } }, at)],
    ['w2', await value([1, 2, 2, 2], Array.from(zeros), (t, [f]) => w2(t, f!, [2.5, 6.5], [1.25, 0, 0, 1.25])),
      w2Style.scale({ kind: 'w2', tensors: { mean: host([2.5, 6.5], [2]), covariance: host([1.25, 0, 0, 1.25], [2, 2]) } }, at)],
  ];
  for (const [name, atZero, scale] of cases) {
    // mean–std: σ at zero features is √ε, not 0, so its scale differs from the term by O(√ε·σ_s);
    // w2: likewise by O(√δ·√tr Σ_s) from the regularisation.
    const tol = name === 'mean-std' ? 2 * Math.sqrt(MEAN_STD_EPS) * 2 : name === 'w2' ? 4 * Math.sqrt(W2_RELATIVE_DELTA * 2.5) * Math.sqrt(1.25) : 1e-9 * atZero;
    assert.ok(Math.abs(atZero - scale) <= tol, `${name}: term at zero ${atZero}, scale ${scale}`);
  }
});

test('the normalisation tables give the factors their texts state', () => {
  assert.equal(GRAM_NORMALISATIONS.paper.factor(2, 4), 1 / (4 * 4 * 16));
  assert.equal(GRAM_NORMALISATIONS['mean-g-by-m'].factor(2, 4), 1 / (4 * 16));
  assert.equal(GRAM_NORMALISATIONS['mean-g-by-nm'].factor(2, 4), 1 / (16 * 16));
  assert.equal(CONTENT_NORMALISATIONS['half-sum'].factor(2, 4), 0.5);
  assert.equal(CONTENT_NORMALISATIONS.mean.factor(2, 4), 1 / 8);
});
