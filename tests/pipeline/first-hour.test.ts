/**
 * A new user's first hour (issue 10): the strength knob, the loss of the written file, failing
 * before the work, progress and weighted terms, snapshots as events, score's own options, one set
 * of term keys, and `weights add`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stylize } from '../../src/pipeline/stylize.js';
import { resolveEngine } from '../../src/engine/index.js';
import { readImage, resizeImage, toPlanar } from '../../src/image/io-node.js';
import { ssimLuma, styleDistance } from '../../src/metrics/quality.js';
import { untrainedNet } from '../../src/networks/untrained.js';
import { addWeights } from '../../src/networks/weights/add.js';
import { cachedDefault, WeightsCacheError } from '../../src/networks/weights/cache.js';
import { Progress } from '../../cli/progress.js';
import { createHash } from 'node:crypto';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
const photo = path.join(images, 'tubingen.jpg');
const painting = path.join(images, 'starry_night.jpg');
const vggFile = path.join(root, 'tests/fixtures/reference/net-avg.safetensors');
let dir = '';

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-first-hour-'));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

function impasto(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), path.join(root, 'cli/bin.ts'), ...args],
      { cwd: dir, env: { ...process.env, IMPASTO_HOME: path.join(dir, 'cache'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
  });
}

const jsonLines = (r: Run) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('--strength moves the result monotonically from the photo towards the painting, on the offline network and on VGG-19', async () => {
  const engine = await resolveEngine('node');
  const judge = untrainedNet({ kind: 'multiscale', sizes: [3, 9, 17], filters: 32, seed: 99 });
  const load = async (file: string, w: number, h: number) => toPlanar(await resizeImage(await readImage(file), w, h));
  const content = await load(photo, 96, 72);
  const style = await load(painting, 96, 60);
  for (const network of ['offline', 'random-vgg19'] as const) {
    const rows: { s: number; ssim: number; dist: number }[] = [];
    for (const s of [0, 0.5, 1]) {
      const r = await stylize({ content: photo, style: painting, network, size: 96, iterations: 40, strength: s, threads: 1 }, { engine });
      const img = toPlanar(r.image);
      rows.push({ s, ssim: ssimLuma(img, content), dist: await styleDistance(engine, judge, ['ms3', 'ms9', 'ms17'], img, style) });
    }
    const text = rows.map((r) => `s ${r.s}: SSIM ${r.ssim.toFixed(3)}, style distance ${r.dist.toFixed(4)}`).join('; ');
    assert.ok(rows[0]!.ssim > 0.9, `${network}: strength 0 stays near the photo (${text})`);
    for (let i = 1; i < rows.length; i++) {
      assert.ok(rows[i]!.ssim < rows[i - 1]!.ssim, `${network}: SSIM falls with strength (${text})`);
      assert.ok(rows[i]!.dist < rows[i - 1]!.dist, `${network}: style distance falls with strength (${text})`);
    }
  }
});

test('the loss the CLI reports is the loss impasto score gives its PNG, on two image pairs', async () => {
  for (const [style, network] of [['starry_night.jpg', 'offline'], ['the_scream.jpg', 'weights']] as const) {
    const out = path.join(dir, `file-loss-${style}.png`);
    const net = network === 'offline' ? ['--network', 'offline'] : ['--weights', vggFile];
    const r = await impasto([photo, path.join(images, style), '-o', out, ...net, '--size', '96', '--iterations', '30', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = jsonLines(r).at(-1)!;
    const s = await impasto(['score', out, '--content', photo, '--style', path.join(images, style), ...net, '--json']);
    assert.equal(s.code, 0, s.stderr);
    const scored = JSON.parse(s.stdout) as { total: number; terms: Record<string, number> };
    const loss = result.loss as number;
    assert.ok(Math.abs(scored.total - loss) <= 1e-3 * loss, `${style}: reported ${loss}, score of the PNG ${scored.total}`);
    assert.deepEqual(Object.keys(scored.terms), Object.keys(result.terms as object), 'stylise and score name the terms alike');
    assert.ok(result.optimiserLoss as number <= loss * 1.01, 'rounding to 8 bits costs at most 1 %');
  }
});

test('a bad output path or snapshot folder fails before any evaluation', async () => {
  for (const extra of [[], ['--snapshot-every', '5']]) {
    const r = await impasto([photo, painting, '-o', '/nonexistent/dir/x.png', '--network', 'offline', '--json', ...extra]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /cannot write \/nonexistent\/dir\/x\.png: the directory \/nonexistent\/dir does not exist/);
    assert.equal(r.stdout, '', 'no event: the set-up never started');
  }
  const r = await impasto([photo, painting, '-o', path.join(dir, 'x.bmp'), '--network', 'offline']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /expected an output name ending in \.png/);
});

test('--print-every shows each term as it enters the total, and the total; snapshots are events', async () => {
  const out = path.join(dir, 'terms.png');
  const r = await impasto([photo, painting, '-o', out, '--network', 'offline', '--size', '64', '--iterations', '6', '--print-every', '3', '--tv-weight', '0']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('iteration '));
  assert.equal(lines.length, 2, r.stderr);
  for (const line of lines) {
    const m = /^iteration (\d+) \((\d+) evaluations\): total (\S+) = (.*)$/.exec(line);
    assert.ok(m, line);
    const parts = m![4]!.split(' + ').map((p) => p.split(' '));
    assert.deepEqual(parts.at(-1), ['tv', '0.000e+0'], 'the TV term at γ = 0 enters as 0');
    const sum = parts.reduce((a, [, v]) => a + Number(v), 0);
    assert.ok(Math.abs(sum - Number(m![3])) <= 2e-3 * Number(m![3]), `${line}: the terms sum to ${sum}`);
  }
  const snap = await impasto([photo, painting, '-o', out, '--network', 'offline', '--size', '64', '--iterations', '6', '--snapshot-every', '3', '--json']);
  assert.equal(snap.code, 0, snap.stderr);
  const events = jsonLines(snap);
  const snaps = events.filter((e) => e.type === 'snapshot');
  assert.deepEqual(snaps.map((e) => e.iteration), [3, 6]);
  for (const e of snaps) assert.ok((await stat(e.file as string)).size > 0);
  const start = events.find((e) => e.type === 'start')!;
  const result = events.at(-1)!;
  const iterates = events.filter((e) => e.type === 'iterate');
  assert.deepEqual([start.iterations, result.iterations, iterates.at(-1)!.iteration], [6, 6, 6], 'start, events and result count the same iterations');
  assert.ok((result.evaluations as number) >= 6);
});

test('score refuses options that do not apply to it; the CLI offers no library-only flag; strength and style weight exclude each other', async () => {
  const s = await impasto(['score', photo, '--content', photo, '--style', painting, '--size', '64', '--network', 'offline']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /score measures the image as it is, at its own size; --size does not apply/);
  const e = await impasto([photo, painting, '--image-every', '2', '--network', 'offline']);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /unknown flag '--image-every'/);
  const b = await impasto([photo, painting, '--strength', '0.3', '--style-weight', '10', '--network', 'offline']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /give either strength \(--strength 0\.3\) or styleWeight \(--style-weight 10\)/);
  const blend = await impasto([photo, painting, '--style-blend', '1,x', '--network', 'offline']);
  assert.match(blend.stderr, /invalid --style-blend: expected a number, received 'x'/);
});

test('weights add: a file matching a published hash becomes the default; a wrong hash and a non-weight file are refused, leaving nothing', async () => {
  const cache = path.join(dir, 'add-cache');
  const bytes = await readFile(vggFile);
  const md5 = createHash('md5').update(bytes).digest('hex');
  const sha = createHash('sha256').update(bytes).digest('hex');
  // A published table holding this file's hash, as the real table holds the Oxford file's.
  const sources = [{ id: 'vgg19-test', arch: 'vgg19' as const, source: 'keras' as const, file: 'published-vgg19.h5', url: 'https://example.invalid/x', bytes: bytes.length, hash: `md5:${md5}`, licence: 'test' }];
  const added = await addWeights(vggFile, { root: cache, sources });
  assert.equal(added.source?.file, 'published-vgg19.h5');
  assert.equal(await cachedDefault(cache), path.join(cache, 'models', 'published-vgg19.h5'));

  // Through the CLI: no published match, and no --sha256.
  const env = { IMPASTO_HOME: path.join(dir, 'cli-cache') };
  const none = await impasto(['weights', 'add', vggFile], env);
  assert.equal(none.code, 3, none.stderr);
  assert.match(none.stderr, new RegExp(`net-avg\\.safetensors \\(${bytes.length} bytes, sha256 ${sha}\\) matches no published vgg19 file .*add it with --sha256`));
  const wrong = await impasto(['weights', 'add', vggFile, '--sha256', '0'.repeat(64)], env);
  assert.equal(wrong.code, 3);
  assert.match(wrong.stderr, /does not match the SHA-256 given: expected 0{64}, found/);
  const text = path.join(dir, 'notes.txt');
  await writeFile(text, 'not a weight file\n');
  const textSha = createHash('sha256').update('not a weight file\n').digest('hex');
  const notWeights = await impasto(['weights', 'add', text, '--sha256', textSha], env);
  assert.equal(notWeights.code, 3);
  assert.match(notWeights.stderr, /notes\.txt.*unrecognised weight file/);
  assert.deepEqual((await readdir(path.join(dir, 'cli-cache', 'models'))).sort(), [], 'nothing left in the cache');

  // Vouched for with its true hash: it loads as VGG-19, becomes the default, and a run uses it.
  const ok = await impasto(['weights', 'add', vggFile, '--sha256', sha], env);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), path.join(dir, 'cli-cache', 'models', `sha256-${sha}.weights`));
  const run = await impasto([photo, painting, '-o', path.join(dir, 'added.png'), '--size', '64', '--iterations', '2', '--json'], env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(String(jsonLines(run).find((e) => e.type === 'start')!.network), /^vgg19 \(.*sha256-/);
  await assert.rejects(addWeights(vggFile, { root: cache, arch: 'vgg16', sources }), (e: unknown) => e instanceof WeightsCacheError && /matches no published vgg16 file/.test((e as Error).message));
});

test('progress off a terminal: a plain line every interval and at the end, never one per update', () => {
  const written: string[] = [];
  const out = { isTTY: false, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
  let now = 0;
  const realNow = Date.now;
  Date.now = () => now;
  try {
    const p = new Progress(out, { enabled: true, format: (d, t) => `${d}/${t} iterations`, plainEveryMs: 5000 });
    p.start(100, 'label');
    for (let i = 1; i <= 100; i++) {
      now = i * 300; // 0.3 s per iteration: 30 s in all
      p.update(i, `loss ${i}`);
    }
  } finally {
    Date.now = realNow;
  }
  const lines = written.join('').trim().split('\n');
  assert.equal(lines[0], 'label');
  // t = 0.3 s (first), then every ≥ 5 s: 5.4, 10.5, 15.6, 20.7, 25.8 s, and the last at 30 s.
  assert.deepEqual(lines.slice(1).map((l) => Number(/^(\d+)\//.exec(l)![1])), [1, 18, 35, 52, 69, 86, 100]);
  assert.match(lines.at(-1)!, /^100\/100 iterations {2}loss 100 {2}30s elapsed, ETA 0s$/);
});
