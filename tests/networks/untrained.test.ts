/**
 * The offline tier: the untrained network is deterministic, its layers and sizes are what they
 * claim, auto-normalised terms are relative errors, texture synthesis beats a colour-matched noise
 * baseline under an independent network, and the bundled demo runs offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { resolveEngine } from '../../src/engine/index.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Tape } from '../../src/graph/autodiff.js';
import { readImage, resizeImage, toPlanar } from '../../src/image/io-node.js';
import { autoNormalise } from '../../src/losses/objective.js';
import { gramStyle } from '../../src/losses/gram-style.js';
import { styleDistance } from '../../src/metrics/quality.js';
import { DEFAULT_UNTRAINED, untrainedNet } from '../../src/networks/untrained.js';
import { lbfgs } from '../../src/optimizers/lbfgs.js';
import { planRequest } from '../../src/pipeline/plan-request.js';
import { computeTargets, Image255, StyleProblem } from '../../src/pipeline/problem.js';
import { gaussian } from '../../src/util/random.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');

test('the pyramid network: layer names, sizes, channels, and a clear error for unknown layers', () => {
  const net = untrainedNet(DEFAULT_UNTRAINED);
  assert.deepEqual(net.layers.slice(0, 3), ['scale0', 'scale1', 'scale2']);
  assert.deepEqual(net.featureSize('scale3', 100, 75), [12, 9]);
  assert.equal(net.channels('scale0'), DEFAULT_UNTRAINED.kind === 'pyramid' ? DEFAULT_UNTRAINED.filters : 0);
  assert.equal(net.channels('luma2'), 1);
  assert.equal(net.minSide(['scale5']), 32);
  assert.throws(() => net.checkLayers(['relu4_2']), /unknown layer name 'relu4_2' for the untrained pyramid network .*expected one of: scale0/);
});

test('the untrained network is a pure function of its seed', async () => {
  const engine = await resolveEngine();
  const img: Image255 = { data: Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i * 37) % 256), width: 32, height: 32 };
  const gram = async (seed: number) => {
    const net = untrainedNet({ ...DEFAULT_UNTRAINED, seed });
    const b = new GraphBuilder();
    const t = new Tape(b);
    const x = b.input('image', [1, 3, 32, 32]);
    b.output('f', net.build(t, x, ['scale1']).get('scale1')!);
    const s = await engine.createSession(b.toModel(), { threads: 1 });
    const out = (await s.run({ image: { data: img.data, dims: [1, 3, 32, 32] } })).f!.data as Float32Array;
    await s.dispose();
    return Array.from(out.subarray(0, 200));
  };
  assert.deepEqual(await gram(3), await gram(3));
  assert.notDeepEqual(await gram(3), await gram(4));
});

test('auto-normalised style terms are relative Gram errors Σ(G−A)²/ΣA²', async () => {
  const engine = await resolveEngine();
  const net = untrainedNet({ kind: 'pyramid', levels: 3, kernel: 3, filters: 8, seed: 1 });
  const g = gaussian(5);
  const rand = (): Image255 => ({ data: Float32Array.from({ length: 3 * 24 * 24 }, () => 128 + 40 * g()), width: 24, height: 24 });
  const content = rand();
  const style = rand();
  const spec0 = {
    net, width: 24, height: 24, content: [], style: ['scale0', 'scale2'].map((layer) => ({ unit: gramStyle('paper'), layer, weight: 1 })),
    alpha: 0, beta: 1, gamma: 0, tv: 'l2' as const,
  };
  const targeted = await computeTargets(engine, spec0, content, [{ image: style, weight: 1 }], { threads: 1 });
  const problem = await StyleProblem.create(engine, autoNormalise(targeted), { threads: 1 });
  const ev = await problem.evaluate(content.data);
  await problem.dispose();
  const relative = await styleDistance(engine, net, ['scale0', 'scale2'], content, style);
  // loss = Σ_l 1·(relative error of l), and styleDistance is their mean.
  assert.ok(Math.abs(ev.loss / 2 - relative) < 1e-5 * relative, `${ev.loss / 2} vs ${relative}`);
});

test('texture synthesis at 64 px: style distance under an independent network ≥ 5× below colour-matched noise', async () => {
  const engine = await resolveEngine();
  const raw = await readImage(path.join(images, 'starry_night.jpg'));
  const style = toPlanar(await resizeImage(raw, 64, 40));
  const net = untrainedNet(DEFAULT_UNTRAINED);
  const layers = net.defaults!.style.map((s) => s.layer).filter((l) => net.minSide([l]) <= 40);
  const spec0 = {
    net, width: 64, height: 40, content: [], style: layers.map((layer) => ({ unit: gramStyle('paper'), layer, weight: 1 })),
    alpha: 0, beta: 1, gamma: 0, tv: 'l2' as const,
  };
  // Colour-matched noise: each pixel drawn with the painting's per-channel mean and spread.
  const n = 64 * 40;
  const g = gaussian(2);
  const stats = [0, 1, 2].map((c) => {
    const ch = style.data.subarray(c * n, (c + 1) * n);
    const m = ch.reduce((a, v) => a + v, 0) / n;
    return { m, s: Math.sqrt(ch.reduce((a, v) => a + (v - m) ** 2, 0) / n) };
  });
  const noise: Image255 = { data: Float32Array.from({ length: 3 * n }, (_, i) => Math.min(255, Math.max(0, stats[Math.floor(i / n)]!.m + stats[Math.floor(i / n)]!.s * g()))), width: 64, height: 40 };
  const targeted = await computeTargets(engine, spec0, style, [{ image: style, weight: 1 }], { threads: 1 });
  const problem = await StyleProblem.create(engine, autoNormalise(targeted), { threads: 1 });
  const r = await lbfgs((x) => problem.evaluate(x), Float32Array.from(noise.data), { maxEvals: 60 });
  await problem.dispose();
  const judge = untrainedNet({ kind: 'multiscale', sizes: [3, 9, 17], filters: 32, seed: 99 });
  const synth: Image255 = { data: r.x, width: 64, height: 40 };
  const dNoise = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], noise, style);
  const dSynth = await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], synth, style);
  assert.ok(dNoise / dSynth >= 5, `noise ${dNoise}, synthesis ${dSynth}: ${(dNoise / dSynth).toFixed(1)}×`);
});

test('impasto demo runs offline (no weights, empty cache) on its bundled photo and painting, and writes the image and its sheet', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-demo-'));
  try {
    const out = path.join(dir, 'demo.png');
    const r = await new Promise<{ code: number | null; err: string; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), 'demo', '-o', out, '--size', '96', '--iterations', '30', '--json'],
        { env: { ...process.env, IMPASTO_HOME: path.join(dir, 'cache') } });
      let err = '';
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, err, out: stdout }));
    });
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.match(lines.find((l) => l.type === 'notice').message, /offline network, an untrained lower-quality tier; run 'impasto weights fetch'/);
    const result = lines.at(-1);
    assert.equal(result.type, 'result');
    assert.ok(result.loss < result.initialLoss / 2, `loss ${result.initialLoss} → ${result.loss}`);
    const meta = await sharp(out).metadata();
    assert.deepEqual([meta.width, meta.height], [96, 72]);
    // The side-by-side sheet: photo (4:3) | painting (8:5) | result (4:3) at 320 px high, 8 px margins.
    assert.equal(lines.find((l) => l.type === 'sheet')?.file, path.join(dir, 'demo-sheet.png'));
    const sheet = await sharp(path.join(dir, 'demo-sheet.png')).metadata();
    assert.deepEqual([sheet.width, sheet.height], [8 + 427 + 8 + 512 + 8 + 427 + 8, 336]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the offline network chosen with --network offline is named as chosen, not as a fallback for missing weights', async () => {
  const notices: string[] = [];
  await planRequest({ content: path.join(images, 'tubingen.jpg'), style: path.join(images, 'starry_night.jpg'), network: 'offline', size: 64 }, { onNotice: (m) => notices.push(m) });
  assert.ok(notices.some((m) => /^using the offline network \(--network offline\), an untrained lower-quality tier/.test(m)), notices.join('\n'));
  assert.ok(!notices.some((m) => /no VGG-19 weights/.test(m)), notices.join('\n'));
});
