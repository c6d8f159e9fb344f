/**
 * The page in real headless Chromium (Debian's `chromium`, driven by playwright-core): upload two
 * images, start, see live previews, download a valid image; cancel a job. Screenshots go to
 * $IMPASTO_SCREENSHOTS when set.
 *
 * Needs /usr/bin/chromium (or $IMPASTO_CHROMIUM); .ci/run installs it. Without it the tests are
 * skipped locally and fail under CI=true.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { images, root, startServe, type Served } from '../server/serve.js';
import { randomVggWeights } from '../../src/networks/vgg.js';
import { writeSafetensors, type NamedTensor } from '../../src/networks/weights/safetensors.js';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readImage } from '../../src/image/io-node.js';
import { stylize } from '../../src/pipeline/stylize.js';

const executable = process.env.IMPASTO_CHROMIUM ?? '/usr/bin/chromium';
const have = existsSync(executable);
if (!have && process.env.CI) throw new Error(`Chromium is missing at ${executable}: .ci/run installs Debian's chromium; install it or set IMPASTO_CHROMIUM`);
const skip = have ? false : `no Chromium at ${executable} (apt-get install chromium, or set IMPASTO_CHROMIUM)`;
const shots = process.env.IMPASTO_SCREENSHOTS;

let server: Served;
let browser: Browser;

before(async () => {
  if (!have) return;
  server = await startServe(['--preview-every', '2']);
  browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0);
});

async function openPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(server.url);
  await page.waitForSelector('[name="preset"]'); // the form is built from /api/options
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

/** Chooses the photo and painting, opens "More options" and sets the small sizes. */
async function fillForm(page: Page, options: Record<string, string>): Promise<void> {
  await page.setInputFiles('#content', path.join(images, 'tubingen.jpg'));
  await page.setInputFiles('#style', [path.join(images, 'starry_night.jpg'), path.join(images, 'the_scream.jpg')]);
  await page.click('details summary');
  for (const [k, v] of Object.entries(options)) {
    const el = page.locator(`[name="${k}"]`);
    if ((await el.evaluate((e) => e.tagName)) === 'SELECT') await el.selectOption(v);
    else await el.fill(v);
  }
  await page.click('details summary'); // closed again, as a first-time user sees the page
}

test('the page: two images uploaded, a job started, live previews and loss curve, the result downloaded', { skip, timeout: 180_000 }, async () => {
  const page = await openPage();
  await fillForm(page, { network: 'offline', size: '96', minSize: '64', iterations: '10', seed: '3' });
  // Count distinct preview images as the page shows them.
  await page.evaluate(() => {
    const seen = new Set<string>();
    (window as unknown as { previews: Set<string> }).previews = seen;
    new MutationObserver(() => seen.add((document.getElementById('preview') as HTMLImageElement).src)).observe(document.getElementById('preview')!, { attributes: true, attributeFilter: ['src'] });
  });
  await page.click('#start');
  await page.waitForFunction(() => /Iteration \d+ of 20/.test(document.getElementById('status')!.textContent ?? ''));
  await page.waitForFunction(() => (window as unknown as { previews: Set<string> }).previews.size >= 1);
  if (shots) {
    await mkdir(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, 'page-running.png'), fullPage: true });
  }
  await page.waitForSelector('#download:not([hidden])', { timeout: 120_000 });
  const previews = await page.evaluate(() => (window as unknown as { previews: Set<string> }).previews.size);
  assert.ok(previews >= 2, `at least two live updates of the image, saw ${previews}`);
  const status = await page.textContent('#status');
  assert.match(status ?? '', /^Done: loss \d\.\d{3}e[+-]\d+ after 20 iterations$/);
  // The curve was drawn: some pixels of the canvas are the curve's colour.
  const drawn = await page.evaluate(() => {
    const c = document.getElementById('curve') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i]! > 140 && d[i + 1]! < 110 && d[i + 2]! < 80 && d[i + 3]! > 0) n++;
    return n;
  });
  assert.ok(drawn > 100, `loss curve pixels: ${drawn}`);
  if (shots) await page.screenshot({ path: path.join(shots, 'page-done.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const file = await download.path();
  const meta = await sharp(await readFile(file)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 96, 72]);
  assert.match(download.suggestedFilename(), /^impasto-[0-9a-f]{8}\.png$/);
  assert.match(await page.textContent('#notices') ?? '', /using the offline network/, "the pipeline's notices are shown");
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
  await page.close();
});

test('the page: a job cancelled from its Cancel button', { skip, timeout: 120_000 }, async () => {
  const page = await openPage();
  await fillForm(page, { network: 'offline', size: '64', minSize: '64', iterations: '100000' });
  await page.click('#start');
  await page.waitForFunction(() => /Iteration [3-9]\d* of/.test(document.getElementById('status')!.textContent ?? ''));
  await page.click('#cancel');
  await page.waitForFunction(() => /^Cancelled/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 30_000 });
  assert.equal(await page.isDisabled('#start'), false, 'Start is enabled again');
  assert.equal(await page.isVisible('#download'), true, 'the image so far can be downloaded');
  await page.close();
});

test('the page: a job that fails (a layer the network lacks) shows the pipeline\'s message', { skip }, async () => {
  const page = await openPage();
  await fillForm(page, { network: 'offline', styleLayers: 'scale0,relu9_9' });
  await page.click('#start');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error') ?? '', /relu9_9/);
  assert.equal(await page.isDisabled('#start'), false);
  assert.equal(await page.textContent('#status'), 'Failed after 0 iterations');
  await page.close();
});

test('the page: a job run entirely in the browser (onnxruntime-web, wasm) ends at the Node engine\'s loss for the same seed and options', { skip, timeout: 300_000 }, async () => {
  // Images already at the working sizes, so that neither side resamples (the browser's canvas
  // and sharp's Lanczos differ); PNG decodes to the same bytes in both.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-device-'));
  const contentFile = path.join(dir, 'content.png');
  const styleFile = path.join(dir, 'style.png');
  await sharp(path.join(images, 'tubingen.jpg')).resize(64, 48, { fit: 'fill' }).png().toFile(contentFile);
  await sharp(path.join(images, 'starry_night.jpg')).resize(64, 51, { fit: 'fill' }).png().toFile(styleFile);
  const options = { network: 'offline' as const, size: 64, minSize: 64, iterations: 6, seed: 5 };
  const node = await stylize({ ...options, content: await readImage(contentFile), style: [await readImage(styleFile)] });

  const page = await openPage();
  assert.equal(await page.isVisible('#device-choice'), true, 'the page offers "Run on this device"');
  await page.setInputFiles('#content', contentFile);
  await page.setInputFiles('#style', styleFile);
  await page.click('details summary');
  await page.selectOption('[name="network"]', 'offline');
  for (const [k, v] of [['size', '64'], ['minSize', '64'], ['iterations', '6'], ['seed', '5']]) await page.fill(`[name="${k}"]`, v!);
  await page.check('#device');
  const posted: string[] = [];
  page.on('request', (r) => { if (r.url().includes('/api/jobs')) posted.push(r.url()); });
  await page.click('#start');
  await page.waitForFunction(() => /^(Done|Failed)/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 240_000 });
  assert.equal(await page.textContent('#error'), '', 'no error');
  const device = await page.evaluate(() => (window as unknown as { deviceResult: { loss: number; iterations: number; threads: number } }).deviceResult);
  assert.deepEqual(posted, [], 'nothing was sent to the server');
  assert.equal(device.iterations, node.iterations);
  const rel = Math.abs(device.loss - node.loss) / node.loss;
  process.stderr.write(`# browser (wasm, ${device.threads} threads) loss ${device.loss} vs Node ${node.loss}: relative difference ${rel.toExponential(2)}\n`);
  assert.ok(rel < 2e-4, `browser loss ${device.loss} vs Node ${node.loss} (relative ${rel})`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const meta = await sharp(await readFile(await download.path())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 48]);
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
  await page.close();
  await rm(dir, { recursive: true, force: true });
});

test('the page: in-browser runs with VGG weights, from a picked file and from the server\'s cache, end at the Node engine\'s loss', { skip, timeout: 600_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'impasto-device-vgg-'));
  // A full-size VGG-19 with seeded random weights, as safetensors (Caffe preprocessing).
  const w = randomVggWeights('vgg19', 2);
  const tensors = new Map<string, NamedTensor>();
  for (const [name, p] of w.convs) {
    tensors.set(`${name}.weight`, { data: p.weight, shape: p.shape });
    tensors.set(`${name}.bias`, { data: p.bias, shape: [p.shape[0]] });
  }
  const weightsFile = path.join(dir, 'vgg19-random.safetensors');
  const bytes = writeSafetensors(tensors, { 'impasto.preprocess': 'caffe' });
  await writeFile(weightsFile, bytes);
  const contentFile = path.join(dir, 'content.png');
  const styleFile = path.join(dir, 'style.png');
  await sharp(path.join(images, 'tubingen.jpg')).resize(64, 48, { fit: 'fill' }).png().toFile(contentFile);
  await sharp(path.join(images, 'starry_night.jpg')).resize(64, 51, { fit: 'fill' }).png().toFile(styleFile);
  const options = { size: 64, minSize: 64, iterations: 4, seed: 5 };
  const node = await stylize({ ...options, weights: weightsFile, content: await readImage(contentFile), style: [await readImage(styleFile)] });

  // A server whose cache holds these weights as its default network.
  const home = path.join(dir, 'home');
  const sha = createHash('sha256').update(bytes).digest('hex');
  const add = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/bin.ts'), 'weights', 'add', weightsFile, '--name', 'vgg19', '--sha256', sha], { env: { ...process.env, IMPASTO_HOME: home }, encoding: 'utf8' });
  assert.equal(add.status, 0, add.stderr);
  const cached = await startServe([], home);
  try {
    for (const route of ['picked', 'cache'] as const) {
      const page = await browser.newPage();
      await page.goto(cached.url);
      await page.waitForSelector('[name="preset"]');
      await page.setInputFiles('#content', contentFile);
      await page.setInputFiles('#style', styleFile);
      await page.click('details summary');
      for (const [k, v] of Object.entries(options)) await page.fill(`[name="${k}"]`, String(v));
      await page.check('#device');
      if (route === 'picked') await page.setInputFiles('#weights', weightsFile);
      const fetched: string[] = [];
      page.on('request', (r) => { if (r.url().includes('/api/')) fetched.push(new URL(r.url()).pathname); });
      await page.click('#start');
      await page.waitForFunction(() => /^(Done|Failed)/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 300_000 });
      assert.equal(await page.textContent('#error'), '', 'no error');
      assert.deepEqual(fetched, route === 'cache' ? ['/api/weights'] : [], 'only the weights are fetched, and only when no file was picked');
      const device = await page.evaluate(() => (window as unknown as { deviceResult: { loss: number } }).deviceResult);
      const rel = Math.abs(device.loss - node.loss) / node.loss;
      process.stderr.write(`# browser VGG-19 (${route}) loss ${device.loss} vs Node ${node.loss}: relative difference ${rel.toExponential(2)}\n`);
      assert.ok(rel < 2e-4, `browser loss ${device.loss} vs Node ${node.loss} (relative ${rel})`);
      await page.close();
    }
  } finally {
    await cached.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
