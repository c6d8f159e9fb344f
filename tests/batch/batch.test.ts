/**
 * `impasto batch` on the embedded in-process queue, as a user runs it: six jobs over two worker
 * threads, an interrupted batch that resumes and skips what was done, a sweep whose style terms
 * fall as the weight rises, a bad input that fails once with its reason, and a manifest.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { jsonLines, type JsonRun } from './run-json.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const images = path.join(root, 'tests/fixtures/images');
const img = (n: string) => path.join(images, n);
const small = (iterations = 4) => ['--network', 'offline', '--size', '40', '--min-size', '40', '--iterations', String(iterations)];
const SMALL = small();
let dir = '';

before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-batch-test-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

type Run = JsonRun;

/** Runs `impasto batch … --json`; `onLine` may act on the child (e.g. interrupt it). */
function batch(args: string[], onLine?: (line: Record<string, unknown>, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), 'batch', '--json', ...args], { cwd: root, env: { ...process.env, IMPASTO_HOME: path.join(dir, 'home') } });
  return jsonLines(child, (line) => onLine?.(line, child));
}

const summaryOf = (r: Run) => r.lines.find((l) => l.type === 'summary') as { done: number; failed: number; skipped: number; cancelled: number; failures: { output: string; error: string }[] };
const jobsOf = (r: Run) => r.lines.filter((l) => l.type === 'job') as { status: string; output: string; error?: string; terms?: Record<string, number> }[];

test('a batch of 6 jobs over 2 workers: every output a valid image of the asked size, named from its inputs', async () => {
  const out = path.join(dir, 'six');
  const r = await batch(['--content', `${img('tubingen.jpg')},${img('shipwreck.jpg')}`, '--style', `${img('starry_night.jpg')},${img('the_scream.jpg')},${img('woman-with-hat-matisse.jpg')}`, '-o', out, '--concurrency', '2', ...SMALL]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(summaryOf(r), { ...summaryOf(r), done: 6, failed: 0, skipped: 0, cancelled: 0 });
  const files = (await readdir(out)).sort();
  assert.equal(files.length, 6);
  for (const f of files) {
    assert.match(f, /^(tubingen|shipwreck)--(starry_night|the_scream|woman-with-hat-matisse)--[0-9a-f]{10}\.png$/);
    const meta = await sharp(path.join(out, f)).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(Math.max(meta.width!, meta.height!), 40);
  }
  // The same command again: everything is skipped, nothing rewritten.
  const before = await Promise.all(files.map(async (f) => (await stat(path.join(out, f))).mtimeMs));
  const again = await batch(['--content', `${img('tubingen.jpg')},${img('shipwreck.jpg')}`, '--style', `${img('starry_night.jpg')},${img('the_scream.jpg')},${img('woman-with-hat-matisse.jpg')}`, '-o', out, '--concurrency', '2', ...SMALL]);
  assert.equal(again.code, 0);
  assert.equal(summaryOf(again).skipped, 6);
  assert.deepEqual(await Promise.all(files.map(async (f) => (await stat(path.join(out, f))).mtimeMs)), before);
});

test('an interrupted batch (Ctrl-C) keeps its finished outputs, writes no partial one, and resumes where it stopped', async () => {
  const out = path.join(dir, 'resume');
  const args = ['--content', `${img('tubingen.jpg')},${img('shipwreck.jpg')}`, '--style', `${img('starry_night.jpg')},${img('the_scream.jpg')},${img('woman-with-hat-matisse.jpg')}`, '-o', out, '--concurrency', '1', ...small(12)];
  let sent = false;
  const first = await batch(args, (line, child) => {
    if (line.type === 'job' && line.status === 'done' && !sent) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.equal(first.code, 130, first.stderr);
  const done = jobsOf(first).filter((j) => j.status === 'done').map((j) => path.basename(j.output));
  assert.ok(done.length >= 1 && done.length < 6, `${done.length} done before the interrupt`);
  assert.deepEqual((await readdir(out)).sort(), [...done].sort(), 'only finished outputs exist (no temporary or partial files)');
  const second = await batch(args);
  assert.equal(second.code, 0, second.stderr);
  const s = summaryOf(second);
  assert.equal(s.skipped, done.length);
  assert.equal(s.done, 6 - done.length);
  assert.equal((await readdir(out)).length, 6);
});

test('--sweep style-weight over three values writes three outputs whose style terms fall as the weight rises', async () => {
  const out = path.join(dir, 'sweep');
  const r = await batch(['--content', img('tubingen.jpg'), '--style', img('starry_night.jpg'), '-o', out, ...small(15), '--sweep', 'style-weight=1,1e1,1e2']);
  assert.equal(r.code, 0, r.stderr);
  const jobs = jobsOf(r);
  assert.equal(jobs.length, 3);
  const style = (j: (typeof jobs)[number]) => Object.entries(j.terms!).filter(([k]) => k.startsWith('style/')).reduce((a, [, v]) => a + v, 0);
  const byWeight = ['1', '1e1', '1e2'].map((w) => jobs.find((j) => path.basename(j.output).includes(`--styleWeight-${Number(w)}--`))!);
  assert.ok(byWeight.every(Boolean), jobs.map((j) => j.output).join(' '));
  const terms = byWeight.map(style);
  assert.ok(terms[0]! > terms[1]! && terms[1]! > terms[2]!, `style terms ${terms.join(' > ')}`);
  assert.equal((await readdir(out)).length, 3);
});

test('a bad input fails once with its reason and the other jobs finish (exit 3); bad sweeps and manifests are refused before any work', async () => {
  const inputs = path.join(dir, 'inputs');
  const out = path.join(dir, 'bad');
  await rm(inputs, { recursive: true, force: true });
  await import('node:fs/promises').then((f) => f.mkdir(inputs, { recursive: true }));
  await copyFile(img('tubingen.jpg'), path.join(inputs, 'a-good.jpg'));
  await writeFile(path.join(inputs, 'b-broken.jpg'), 'this is not a JPEG');
  const r = await batch(['--content', inputs, '--style', img('starry_night.jpg'), '-o', out, ...SMALL]);
  assert.equal(r.code, 3, r.stderr);
  const s = summaryOf(r);
  assert.equal(s.done, 1);
  assert.equal(s.failed, 1);
  assert.equal(s.failures.length, 1);
  assert.match(s.failures[0]!.error, /cannot read content .*b-broken\.jpg: expected a JPEG, PNG, WebP, TIFF, GIF or AVIF file, but it is not a readable image/);
  assert.equal(jobsOf(r).filter((j) => j.status === 'failed').length, 1, 'failed once, not retried');
  assert.deepEqual(await readdir(out), [(await readdir(out))[0]!].filter((f) => f.startsWith('a-good--')));

  const sweep = await batch(['--content', img('tubingen.jpg'), '--style', img('starry_night.jpg'), '-o', out, '--sweep', 'preset=1,2']);
  assert.equal(sweep.code, 2);
  assert.match(sweep.stderr, /invalid --sweep preset=1,2: 'preset' is not a numeric option/);
  const neg = await batch(['--content', img('tubingen.jpg'), '--style', img('starry_night.jpg'), '-o', out, '--sweep', 'style-weight=1e2,-1']);
  assert.equal(neg.code, 2);
  assert.match(neg.stderr, /invalid --sweep style-weight: expected a number ≥ 0, received -1/);
  const manifest = path.join(dir, 'escape.json');
  await writeFile(manifest, JSON.stringify([{ content: img('tubingen.jpg'), style: img('starry_night.jpg'), output: '../../escaped.png' }]));
  const esc = await batch(['--manifest', manifest, '-o', out]);
  assert.equal(esc.code, 2);
  assert.match(esc.stderr, /row 1: output \.\.\/\.\.\/escaped\.png must stay inside the output folder/);
});

test('a manifest: each row its own inputs, options and output name', async () => {
  const out = path.join(dir, 'manifest');
  const manifest = path.join(dir, 'jobs.json');
  await writeFile(manifest, JSON.stringify([
    { content: img('tubingen.jpg'), style: img('starry_night.jpg'), output: 'first.png' },
    { content: img('shipwreck.jpg'), style: [img('starry_night.jpg'), img('the_scream.jpg')], options: { size: 48 }, output: 'sub/second.jpg' },
  ]));
  const r = await batch(['--manifest', manifest, '-o', out, ...SMALL]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(summaryOf(r).done, 2);
  const a = await sharp(path.join(out, 'first.png')).metadata();
  const b = await sharp(path.join(out, 'sub/second.jpg')).metadata();
  assert.deepEqual([a.format, Math.max(a.width!, a.height!)], ['png', 40]);
  assert.deepEqual([b.format, Math.max(b.width!, b.height!)], ['jpeg', 48], 'the row\'s own size overrides the batch\'s');
});
