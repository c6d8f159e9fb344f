/**
 * Video: temporal consistency and cost on a synthetic clip with known motion (tests/video/clip.ts:
 * a slow pan and zoom across the Tübingen photo), per-frame independent stylisation against
 * Impasto's video mode, measured in the same run.
 *
 *   npx tsx bench/video.ts [--size 256] [--frames 8] [--iterations 50] [--network offline]
 *                          [--temporal-weight T] [--long-term 1] [--frame-iterations N] [--weights FILE]
 *                          [--framing houses|whole]
 *
 * Prints, for each mode: the inconsistency (the mean squared difference, in 0–255 units², between
 * output frame t and output frame t−1 warped along the true motion, over the pixels that come from
 * inside frame t−1), the mean content and style terms of the frames, and the seconds per frame for
 * optical flow and for the optimisation (its set-up included). Writes out/bench-video/sheet.png:
 * the input frames, the independent frames and the video frames, one row each.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { contactSheet, images, opt, outDir } from './common.js';
import { fromPlanar, readImage, toPlanar, writeImage } from '../src/image/io-node.js';
import { stylizeVideo } from '../src/video/video.js';
import { HOUSES, inconsistency, panZoom } from '../tests/video/clip.js';

const size = Number(opt('size', '256'));
const n = Number(opt('frames', '8'));
const iterations = Number(opt('iterations', '50'));
const network = opt('network', 'offline') as 'offline';
const temporalWeight = opt('temporal-weight', '') === '' ? undefined : Number(opt('temporal-weight', ''));
const longTerm = opt('long-term', '1').split(',').map(Number);
const frameIterations = opt('frame-iterations', '') ? Number(opt('frame-iterations', '')) : undefined;
const weights = opt('weights', '');

const dir = path.join(outDir, 'bench-video');
await fs.rm(dir, { recursive: true, force: true });
const photo = toPlanar(await readImage(path.join(images, 'tubingen.jpg')));
// --framing whole: the whole photo, a third of it clear sky (which no optical flow sees move)
const framing = opt('framing', 'houses') === 'whole' ? { centre: [0.5, 0.5] as const, scale: 0.6 } : HOUSES;
const clip = panZoom(photo, n, size, Math.round(size * 0.75), [size / 40, size / 120], 0.985, framing);
await fs.mkdir(path.join(dir, 'clip'), { recursive: true });
for (const [i, f] of clip.frames.entries()) await writeImage(path.join(dir, 'clip', `${String(i).padStart(4, '0')}.png`), fromPlanar(f));

const rows: { mode: string; inconsistency: number; content: number; style: number; flow: number; optimise: number }[] = [];
const sheet = [clip.frames.map(fromPlanar)];
for (const mode of ['independent', 'video'] as const) {
  const out = path.join(dir, mode);
  const terms: Record<string, number>[] = [];
  const r = await stylizeVideo({
    input: path.join(dir, 'clip'), style: path.join(images, 'starry_night.jpg'), output: out, size, iterations, network,
    ...(weights ? { weights } : {}), independent: mode === 'independent', temporalWeight, longTerm, frameIterations,
  }, { onEvent: (e) => { if (e.type === 'frame') { terms.push({ ...e.terms }); process.stderr.write(`${mode} frame ${e.index}: flow ${e.flowSeconds.toFixed(3)} s, optimise ${e.optimiseSeconds.toFixed(2)} s, ${e.iterations} steps (${e.stopReason})\n`); } } });
  const frames = [];
  for (let i = 0; i < n; i++) frames.push(toPlanar(await readImage(path.join(out, `${String(i).padStart(6, '0')}.png`))));
  sheet.push(frames.map(fromPlanar));
  const mean = (prefix: string) => terms.reduce((a, t) => a + Object.entries(t).filter(([k]) => k.startsWith(prefix)).reduce((b, [, v]) => b + v, 0), 0) / terms.length;
  rows.push({ mode, inconsistency: inconsistency(frames, clip), content: mean('content/'), style: mean('style/'), flow: r.flowSeconds, optimise: r.optimiseSeconds });
}
await contactSheet(path.join(dir, 'sheet.png'), sheet, Math.max(96, Math.min(size, 200)));

const [ind, vid] = [rows[0]!, rows[1]!];
process.stdout.write(`${n} frames at ${size}×${Math.round(size * 0.75)}, ${iterations} iterations${frameIterations ? ` (later frames ${frameIterations})` : ''}, ${weights ? 'VGG weights ' + path.basename(weights) : network + ' network'}, temporal weight ${temporalWeight ?? 'default'}, long-term ${longTerm.join(',')}\n`);
process.stdout.write('mode          inconsistency  content term  style term   flow s/frame  optimise s/frame\n');
for (const r of rows) process.stdout.write(`${r.mode.padEnd(14)}${r.inconsistency.toFixed(2).padEnd(15)}${r.content.toPrecision(5).padEnd(14)}${r.style.toPrecision(4).padEnd(13)}${r.flow.toFixed(3).padEnd(14)}${r.optimise.toFixed(2)}\n`);
process.stdout.write(`inconsistency: video ${(ind.inconsistency / vid.inconsistency).toFixed(2)}× lower; content term: video ×${(vid.content / ind.content).toFixed(3)} of independent; style term ×${(vid.style / ind.style).toFixed(3)}\n`);
process.stdout.write(`contact sheet: ${path.join(dir, 'sheet.png')} (rows: input, independent, video)\n`);
