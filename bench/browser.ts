/**
 * Seconds per evaluation in headless Chromium (the page's "Run on this device": the library in a
 * module Web Worker on onnxruntime-web's wasm build) against the Node engine (onnxruntime-node)
 * and onnxruntime-web's wasm build in Node, in the same run, at 256 px (--size), for the offline
 * network and VGG-19 with seeded random weights.
 *
 *   npx tsx bench/browser.ts [--size 256] [--evaluations 6] [--chromium /usr/bin/chromium]
 *
 * Each run is Adam (one evaluation per step) from the content; seconds per evaluation are taken
 * between the first and the last `iterate` event, so the set-up (graph building, session creation,
 * wasm compilation) is left out. Ratios are against the Node engine measured in the same run.
 */
import path from 'node:path';
import sharp from 'sharp';
import { chromium } from 'playwright-core';
import { images, opt } from './common.js';
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

async function inNode(engineName: 'node' | 'web', network: (typeof networks)[number]): Promise<number> {
  const engine = await resolveEngine(engineName);
  const events: { evaluations: number; elapsedMs: number }[] = [];
  const tmp = (b: Buffer) => sharp(b).raw().toBuffer({ resolveWithObject: true }).then(({ data, info }) => ({ data: new Uint8Array(data), width: info.width, height: info.height }));
  await stylize({ ...options(network), content: await tmp(contentPng), style: [await tmp(stylePng)] }, {
    engine, onEvent: (e: StylizeEvent) => { if (e.type === 'iterate') events.push(e); },
  });
  return perEvaluation(events);
}

const server = await startServe();
const browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--disable-gpu'] });
const rows: string[] = [];
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  const isolated = await page.evaluate(() => crossOriginIsolated);
  for (const network of networks) {
    const node = await inNode('node', network);
    const wasmNode = await inNode('web', network);
    const result = await page.evaluate(async ({ content, style, options }) => {
      const worker = new Worker('/device-worker.js', { type: 'module' });
      const events: { evaluations: number; elapsedMs: number }[] = [];
      const file = (b64: string, name: string) => new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/png' });
      return new Promise<{ events: typeof events; threads: number; error?: string }>((resolve) => {
        worker.onmessage = (m) => {
          const d = m.data;
          if (d.type === 'event' && d.event.type === 'iterate') events.push(d.event);
          if (d.type === 'done') resolve({ events, threads: d.threads });
          if (d.type === 'failed') resolve({ events, threads: 0, error: d.message });
        };
        worker.postMessage({ type: 'start', content: file(content, 'content.png'), styles: [file(style, 'style.png')], options, imageEvery: 0 });
      });
    }, { content: contentPng.toString('base64'), style: stylePng.toString('base64'), options: options(network) });
    if (result.error) throw new Error(`the browser run failed: ${result.error}`);
    const browserSec = perEvaluation(result.events);
    rows.push(`${network.padEnd(13)} ${node.toFixed(3).padStart(8)} s  ${wasmNode.toFixed(3).padStart(8)} s (×${(wasmNode / node).toFixed(2)})  ${browserSec.toFixed(3).padStart(8)} s (×${(browserSec / node).toFixed(2)}, ${result.threads} threads${isolated ? ', cross-origin isolated' : ''})`);
    process.stderr.write(`${rows.at(-1)}\n`);
  }
} finally {
  await browser.close();
  await server.stop();
}
process.stdout.write(`seconds per evaluation at ${size}×${Math.round((size * 3) / 4)}, Adam, ${evaluations} evaluations (ratios against the Node engine, same run)\n`);
process.stdout.write(`network       onnxruntime-node  onnxruntime-web wasm in Node   headless Chromium (wasm, Web Worker)\n${rows.join('\n')}\n`);
