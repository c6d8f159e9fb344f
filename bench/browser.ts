/**
 * Seconds per evaluation in headless Chromium (the page's "Run on this device": the library in a
 * module Web Worker on onnxruntime-web's wasm build) against the Node engine (onnxruntime-node)
 * and onnxruntime-web's wasm build in Node, in the same run, at 256 px (--size), for the offline
 * network and VGG-19 with seeded random weights.
 *
 *   npx tsx bench/browser.ts [--size 256] [--evaluations 6] [--chromium /usr/bin/chromium] [--webgpu]
 *
 * --webgpu adds a run on onnxruntime-web's WebGPU backend in a Chromium started with its
 * software adapter (SwiftShader): a check that the graphs run and give Node's loss there, not a
 * speed a GPU would give.
 *
 * Each run is Adam (one evaluation per step) from the content; seconds per evaluation are taken
 * between the first and the last `iterate` event, so the set-up (graph building, session creation,
 * wasm compilation) is left out. Ratios are against the Node engine measured in the same run.
 */
import path from 'node:path';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { args, images, opt } from './common.js';
import { resolveEngine } from '../src/engine/index.js';
import { stylize, type StylizeEvent } from '../src/pipeline/stylize.js';
import { startServe } from '../tests/server/serve.js';

const size = Number(opt('size', '256'));
const evaluations = Number(opt('evaluations', '6'));
const executable = opt('chromium', '/usr/bin/chromium');
const networks = ['offline', 'random-vgg19'] as const;

/** Seconds per evaluation from a run's iterate events (first to last). */
function perEvaluation(events: { evaluations: number; elapsedMs: number }[]): number {
  const a = events[0]!;
  const b = events.at(-1)!;
  return (b.elapsedMs - a.elapsedMs) / 1000 / (b.evaluations - a.evaluations);
}

// Inputs already at the working size, so that neither side resamples.
const contentPng = await sharp(path.join(images, 'tubingen.jpg')).resize(size, Math.round((size * 3) / 4), { fit: 'fill' }).png().toBuffer();
const stylePng = await sharp(path.join(images, 'starry_night.jpg')).resize(size, Math.round((size * 202) / 256), { fit: 'fill' }).png().toBuffer();
const options = (network: (typeof networks)[number]) => ({ network, size, minSize: size, iterations: evaluations, optimizer: 'adam' as const, seed: 1 });


interface BrowserRun { events: { evaluations: number; elapsedMs: number; loss: number }[]; threads: number; backend: string; loss: number; error?: string }

async function inBrowser(page: Page, network: (typeof networks)[number], backend: 'wasm' | 'webgpu'): Promise<BrowserRun> {
  return page.evaluate(async ({ content, style, options, backend }) => {
    const worker = new Worker('/device-worker.js', { type: 'module' });
    const events: { evaluations: number; elapsedMs: number; loss: number }[] = [];
    const file = (b64: string, name: string) => new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/png' });
    return new Promise<BrowserRun>((resolve) => {
      worker.onmessage = (m) => {
        const d = m.data;
        if (d.type === 'event' && d.event.type === 'iterate') events.push(d.event);
        if (d.type === 'done') resolve({ events, threads: d.threads, backend: d.backend, loss: d.loss });
        if (d.type === 'failed') resolve({ events, threads: 0, backend, loss: NaN, error: d.message });
      };
      worker.postMessage({ type: 'start', content: file(content, 'content.png'), styles: [file(style, 'style.png')], options, imageEvery: 0, backend });
    });
  }, { content: contentPng.toString('base64'), style: stylePng.toString('base64'), options: options(network), backend });
}

async function inNode(engineName: 'node' | 'web', network: (typeof networks)[number]): Promise<{ seconds: number; loss: number }> {
  const engine = await resolveEngine(engineName);
  const events: { evaluations: number; elapsedMs: number }[] = [];
  const tmp = (b: Buffer) => sharp(b).raw().toBuffer({ resolveWithObject: true }).then(({ data, info }) => ({ data: new Uint8Array(data), width: info.width, height: info.height }));
  const result = await stylize({ ...options(network), content: await tmp(contentPng), style: [await tmp(stylePng)] }, {
    engine, onEvent: (e: StylizeEvent) => { if (e.type === 'iterate') events.push(e); },
  });
  return { seconds: perEvaluation(events), loss: result.loss };
}

const server = await startServe();
const browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--disable-gpu'] });
const rows: string[] = [];
let gpuBrowser: Browser | null = null;
try {
  // tsx names functions with an `__name` helper, which functions sent to page.evaluate lack.
  const page = await browser.newPage();
  await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  await page.goto(server.url);
  const isolated = await page.evaluate(() => crossOriginIsolated);
  let gpuPage: Page | null = null;
  if (args.includes('--webgpu')) {
    gpuBrowser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader'] });
    gpuPage = await gpuBrowser.newPage();
    await gpuPage.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await gpuPage.goto(server.url);
  }
  for (const network of networks) {
    const { seconds: node, loss: nodeLoss } = await inNode('node', network);
    const { seconds: wasmNode } = await inNode('web', network);
    const result = await inBrowser(page, network, 'wasm');
    if (result.error) throw new Error(`the browser run failed: ${result.error}`);
    const browserSec = perEvaluation(result.events);
    let gpuText = '';
    if (gpuPage) {
      const gpu = await inBrowser(gpuPage, network, 'webgpu');
      gpuText = gpu.error ? `  WebGPU (SwiftShader): failed: ${gpu.error.slice(0, 160)}`
        : `  ${perEvaluation(gpu.events).toFixed(3).padStart(8)} s (×${(perEvaluation(gpu.events) / node).toFixed(2)}, ${gpu.backend}, loss ${Math.abs(gpu.loss - nodeLoss) / nodeLoss < 1e-3 ? 'matches' : 'DIFFERS from'} Node's: relative ${(Math.abs(gpu.loss - nodeLoss) / nodeLoss).toExponential(1)})`;
    }
    rows.push(`${network.padEnd(13)} ${node.toFixed(3).padStart(8)} s  ${wasmNode.toFixed(3).padStart(8)} s (×${(wasmNode / node).toFixed(2)})  ${browserSec.toFixed(3).padStart(8)} s (×${(browserSec / node).toFixed(2)}, ${result.threads} threads${isolated ? ', cross-origin isolated' : ''}; loss relative to Node's ${(Math.abs(result.loss - nodeLoss) / nodeLoss).toExponential(1)})${gpuText}`);
    process.stderr.write(`${rows.at(-1)}\n`);
  }
} finally {
  await browser.close();
  await gpuBrowser?.close();
  await server.stop();
}
process.stdout.write(`seconds per evaluation at ${size}×${Math.round((size * 3) / 4)}, Adam, ${evaluations} evaluations (ratios against the Node engine, same run)\n`);
process.stdout.write(`network       onnxruntime-node  onnxruntime-web wasm in Node   headless Chromium (wasm, Web Worker)\n${rows.join('\n')}\n`);
