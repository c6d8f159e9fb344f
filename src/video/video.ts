/**
 * Video: each frame stylised by the one problem set-up, held to the previous stylised frames by
 * the temporal loss (Ruder, Dosovitskiy & Brox 2016; losses/temporal.ts), and started from the
 * previous result warped into it.
 *
 *   input (a video through ffmpeg, decoded at the working size; or a folder of frames)
 *   → frame 0: a stylisation like any image's (coarse to fine, `iterations`)
 *   → frame t > 0: optical flow to and from each earlier frame t−j, j ∈ `longTerm` (flow.ts)
 *       → temporal targets ω_j and certainties c_j, closest first (temporal.ts)
 *       → one scale at the working size, from ω_1 (the previous result warped; pixels that came
 *         from outside the previous frame start from the frame itself), `frameIterations` steps,
 *         objective + Σ_j λ_t · L_temporal(j)
 *   → each stylised frame written as it is done (temporary file, then rename)
 *   → output: the frames encoded at the input's frame rate with its audio (ffmpeg), or a folder
 *
 * Resume: the stylised frames are kept as they are made (`<out>/NNNNNN.png` for a folder;
 * `<out>.work/frames/` for a video file), with a manifest of the run (its inputs, options and
 * slice). A run with the same manifest skips the frames already there and reads them back as the
 * earlier frames of the temporal terms; a manifest of another run is refused.
 *
 * `independent: true` stylises every frame on its own (no temporal term, no warped start): the
 * per-frame baseline that flickers.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { OptionError } from '../errors.js';
import { imageSize, readImage, resizeImage, toPlanar, fromPlanar, writeImage, type RgbImage } from '../image/io-node.js';
import { resolveEngine, type Engine } from '../engine/index.js';
import { getPreset } from '../losses/presets.js';
import { longTermCertainties, temporalTarget, type TemporalTarget } from '../losses/temporal.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { networkFor, planSize, type ImageInput } from '../pipeline/prepare.js';
import { checkRequest, validateOptions, type StylizeOptions } from '../pipeline/options.js';
import { stylize, type RunControl, type StylizeEvent } from '../pipeline/stylize.js';
import { flowBetween, type Frame } from './flow.js';
import { checkFfmpeg, decodeFrames, encodeFrames, listFrames, MAX_FRAMES, probeVideo, VIDEO_EXTENSIONS, VideoError } from './media.js';


/** What `stylizeVideo` takes: the stylise options, which apply to every frame, and the video's own. */
export interface VideoRequest extends Partial<StylizeOptions> {
  /** A video file (read through ffmpeg) or a folder of frames (PNG, JPEG, WebP, TIFF, in natural name order). */
  readonly input: string;
  readonly style: ImageInput | ImageInput[];
  /** A video file (.mp4, .mov, .mkv, .m4v; written through ffmpeg) or a folder for the frames. */
  readonly output: string;
  /** The first frame to stylise, from 0 (default 0). */
  readonly start?: number;
  /** How many frames (default: to the end). */
  readonly frames?: number;
  /** T of losses/temporal.ts (default: 10, measured, under auto-normalised presets; Ruder's 1e3 under raw ones); 0: no temporal term. */
  readonly temporalWeight?: number;
  /** The frame offsets j of the temporal terms, ascending (default [1]; Ruder's long-term: [1, 2, 4]). */
  readonly longTerm?: readonly number[];
  /** Each frame on its own: no temporal term, no warped start (the flickering baseline). */
  readonly independent?: boolean;
  /** Optimiser steps for each frame after the first (default: `iterations`). */
  readonly frameIterations?: number;
  /** Frames per second of a video made from a folder of frames (default 25). */
  readonly fps?: number;
  /** Keep `<out>.work/` (the decoded and stylised frames) after a video file is written. */
  readonly keepFrames?: boolean;
}

/** Events of `stylizeVideo`, in order: (notice | stage)*, video-start, (frame-start, iterate*, frame)*, encode?, video-done. */
export type VideoEvent =
  | { type: 'notice'; message: string }
  | { type: 'stage'; stage: string }
  | { type: 'video-start'; frames: number; skipped: number; width: number; height: number; fps: number; audio: boolean; output: string }
  | { type: 'frame-start'; index: number; iterations: number }
  /** A step of the current frame's optimiser (every step). */
  | { type: 'iterate'; index: number; iteration: number; loss: number }
  | {
    type: 'frame'; index: number; file: string;
    /** Seconds for this frame: optical flow (and targets), and the optimisation with its set-up. */
    flowSeconds: number; optimiseSeconds: number;
    loss: number; terms: Readonly<Record<string, number>>;
    /** The frame's optimiser steps and why it stopped (stylize.ts StylizeResult). */
    iterations: number; stopReason: string;
    /** Frames done in this run and in all (skipped included), of `total`. */
    done: number; total: number;
  }
  | { type: 'encode'; output: string }
  | { type: 'video-done'; output: string; frames: number; stylised: number; skipped: number; seconds: number; stopReason: 'done' | 'aborted' };

export interface VideoControl {
  onEvent?: (e: VideoEvent) => void;
  signal?: AbortSignal;
  engine?: Engine;
}

export interface VideoResult {
  readonly output: string;
  /** Frames in the output, those stylised by this run, and those found done. */
  readonly frames: number;
  readonly stylised: number;
  readonly skipped: number;
  /** Mean seconds per stylised frame: flow and optimisation. */
  readonly flowSeconds: number;
  readonly optimiseSeconds: number;
  readonly stopReason: 'done' | 'aborted';
}

const pad = (i: number) => String(i).padStart(6, '0');

/** Validates the video's own options. @throws OptionError */
function videoOptions(r: VideoRequest): { start: number; count: number; T: number | undefined; longTerm: number[]; fps: number } {
  const start = r.start ?? 0;
  if (!(Number.isInteger(start) && start >= 0)) throw new OptionError(`invalid --start ${r.start}: expected a frame number ≥ 0`);
  const count = r.frames ?? Infinity;
  if (count !== Infinity && !(Number.isInteger(count) && count >= 1 && count <= MAX_FRAMES)) throw new OptionError(`invalid --frames ${r.frames}: expected a whole number of frames from 1 to ${MAX_FRAMES}`);
  const T = r.temporalWeight;
  if (T !== undefined && !(Number.isFinite(T) && T >= 0)) throw new OptionError(`invalid --temporal-weight ${r.temporalWeight}: expected a number ≥ 0`);
  const longTerm = [...(r.longTerm ?? [1])];
  if (!longTerm.length || longTerm.some((j, i) => !(Number.isInteger(j) && j >= 1 && j <= 100) || (i > 0 && j <= longTerm[i - 1]!)) || longTerm[0] !== 1) {
    throw new OptionError(`invalid --long-term ${longTerm.join(',')}: expected ascending frame offsets starting with 1, such as 1,2,4`);
  }
  const fps = r.fps ?? 25;
  if (!(fps > 0 && fps <= 1000)) throw new OptionError(`invalid --fps ${r.fps}: expected frames per second in (0, 1000]`);
  if (r.frameIterations !== undefined && !(Number.isInteger(r.frameIterations) && r.frameIterations >= 1)) throw new OptionError(`invalid --frame-iterations ${r.frameIterations}: expected a whole number ≥ 1`);
  for (const key of ['checkpoint', 'resume', 'tileable', 'width', 'height'] as const) {
    if (r[key] !== undefined) throw new OptionError(`${key} does not apply to video (a video resumes by the frames it has written: run the same command again)`);
  }
  return { start, count, T, longTerm, fps };
}

/** SHA-256 of what decides the frames: the input (its name, size and time), the styles' bytes, the options and the slice. */
async function manifestOf(r: VideoRequest, o: StylizeOptions, extra: object): Promise<{ version: 1; fingerprint: string; input: string }> {
  const h = createHash('sha256');
  const st = await fs.stat(r.input);
  h.update(JSON.stringify({ input: path.resolve(r.input), size: st.size, mtime: st.mtimeMs }));
  for (const s of Array.isArray(r.style) ? r.style : [r.style]) h.update(typeof s === 'string' ? await fs.readFile(s) : s.data);
  const skip = new Set(['threads', 'maxMemory', 'imageEvery', 'engine']);
  h.update(JSON.stringify(Object.entries(o).filter(([k]) => !skip.has(k)).sort(([a], [b]) => a.localeCompare(b))));
  h.update(JSON.stringify(extra));
  return { version: 1, fingerprint: h.digest('hex'), input: path.resolve(r.input) };
}

const planar = (img: RgbImage): Frame => toPlanar(img);

/**
 * A frame's starting image: the previous result warped into it (ω_1), as Ruder et al.'s, except
 * where a pixel came from outside the previous frame (`inside` 0), which starts from the frame
 * itself rather than from a stretched copy of the previous frame's edge. (Starting every
 * untrusted pixel from the frame, disocclusions included, measured 2× less consistent.)
 */
function startImage(warped: Float32Array, inside: Float32Array, content: Float32Array): Float32Array {
  const n = inside.length;
  const out = Float32Array.from(warped);
  for (let i = 0; i < n; i++) if (inside[i] === 0) for (let ch = 0; ch < 3; ch++) out[ch * n + i] = content[ch * n + i]!;
  return out;
}

/** A manifest is a few hundred bytes; a larger file of that name is not one. */
const MAX_MANIFEST = 1 << 20;

/**
 * The manifest already in the work folder: its fingerprint, or null when there is none.
 * @throws OptionError when a file of that name is there but is not a manifest (too large, not
 *         JSON, no fingerprint): the folder is not this tool's, so nothing in it is overwritten.
 */
async function readManifest(file: string, work: string): Promise<{ fingerprint: string } | null> {
  const size = await fs.stat(file).then((st) => (st.isFile() ? st.size : -1), () => null);
  if (size === null) return null;
  const notOurs = (why: string) => new OptionError(`${file} is not an Impasto video manifest (${why}); remove it, or give an output other than ${work}`);
  if (size < 0 || size > MAX_MANIFEST) throw notOurs(size < 0 ? 'not a file' : `${size} bytes, more than any manifest`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    throw notOurs('not JSON');
  }
  const fingerprint = (parsed as { fingerprint?: unknown } | null)?.fingerprint;
  if (typeof fingerprint !== 'string') throw notOurs('no fingerprint');
  return { fingerprint };
}

/**
 * Stylises a video or a folder of frames (see the file header).
 * @throws OptionError (exit 2), VideoError or ImageError (3), MissingToolError (5: no ffmpeg for a video file).
 */
export async function stylizeVideo(request: VideoRequest, control: VideoControl = {}): Promise<VideoResult> {
  const t0 = performance.now();
  const emit = control.onEvent ?? (() => {});
  const seen = new Set<string>();
  const notice = (message: string) => { if (!seen.has(message)) { seen.add(message); emit({ type: 'notice', message }); } };
  checkRequest(request, 'stylizeVideo');
  const { input, style, output, start, frames: _f, temporalWeight: _t, longTerm: _l, independent, frameIterations, fps: _fps, keepFrames, ...rest } = request;
  const v = videoOptions(request);
  const o = validateOptions(rest);
  if (typeof input !== 'string' || typeof output !== 'string') throw new OptionError('a video needs an input (a video file or a folder of frames) and an output (a video file or a folder)');

  // the input: a folder of frames, or a video file through ffmpeg
  const inStat = await fs.stat(input).catch(() => null);
  if (!inStat) throw new VideoError(`cannot read ${input}: no such file or folder; expected a video file or a folder of frames`);
  const outIsVideo = (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(output).toLowerCase());
  const inIsVideo = !inStat.isDirectory();
  if (!inIsVideo && path.resolve(output) === path.resolve(input)) throw new OptionError(`the output ${output} is the input folder; give another folder (the frames would be read back as input)`);
  if (inIsVideo || outIsVideo) await checkFfmpeg();
  let size: { width: number; height: number };
  let rate = String(v.fps);
  let fps = v.fps;
  let audio = false;
  let sourceFrames: string[] = [];
  let total: number;
  if (inIsVideo) {
    const info = await probeVideo(input);
    ({ rate, fps, audio } = info);
    if (info.frames && v.start >= info.frames) throw new OptionError(`--start ${v.start} is past the end of ${input}, which has ${info.frames} frames`);
    total = Math.min(v.count, info.frames ? info.frames - v.start : v.count);
    size = planSize(info, o);
  } else {
    sourceFrames = (await listFrames(input)).slice(v.start, v.count === Infinity ? undefined : v.start + v.count);
    if (!sourceFrames.length) throw new VideoError(`${input} holds no frames from frame ${v.start}: expected image files (PNG, JPEG, WebP or TIFF) named in frame order`);
    total = sourceFrames.length;
    size = planSize(await imageSize(sourceFrames[0]!), o);
  }
  // H.264 in yuv420p needs even sides.
  if (outIsVideo) size = { width: Math.max(2, size.width - (size.width % 2)), height: Math.max(2, size.height - (size.height % 2)) };

  // where the frames go, and the manifest that makes a re-run resume
  const work = outIsVideo ? `${output}.work` : output;
  const framesDir = outIsVideo ? path.join(work, 'frames') : output;
  const decodedDir = path.join(work, outIsVideo ? 'input' : '.input');
  const manifestFile = path.join(work, 'impasto-video.json');
  const manifest = await manifestOf(request, o, { start: v.start, count: v.count, T: v.T, longTerm: v.longTerm, independent: Boolean(independent), frameIterations, size });
  await fs.mkdir(framesDir, { recursive: true });
  const existing = await readManifest(manifestFile, work);
  if (existing && existing.fingerprint !== manifest.fingerprint) {
    throw new OptionError(`${work} holds the frames of another run (other input, style images, options or slice); remove it, or give another output`);
  }
  if (!existing) {
    const stray = (await fs.readdir(framesDir)).filter((f) => /^\d{6}\.png$/.test(f));
    if (stray.length) throw new OptionError(`${framesDir} already holds ${stray.length} frames and no manifest of this run; give an empty or new output`);
    const tmp = `${manifestFile}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(manifest, null, 2));
    await fs.rename(tmp, manifestFile);
  }
  // disk: the decoded input (a video) and the stylised frames, as PNG, at most 3 bytes a pixel each
  // (a video whose header states neither frame count nor duration is not planned)
  const need = (Number.isFinite(total) ? total : 0) * size.width * size.height * 3 * (inIsVideo ? 2 : 1);
  const free = await fs.statfs(work).then((s) => s.bavail * s.bsize, () => Infinity);
  if (need > free) throw new VideoError(`the frames need up to ${(need / 1e9).toFixed(1)} GB in ${work}, but only ${(free / 1e9).toFixed(1)} GB are free; free some space, or stylise a slice (--frames) or a smaller --size`);
  const done = new Set((await fs.readdir(framesDir)).filter((f) => /^\d{6}\.png$/.test(f)).map((f) => Number(f.slice(0, 6))));

  // decode the slice (a video) once, at the working size
  if (inIsVideo) {
    const have = await fs.readdir(decodedDir).then((fs_) => fs_.filter((f) => /^\d{6}\.png$/.test(f)).length, () => 0);
    const marker = path.join(decodedDir, 'complete');
    const complete = await fs.stat(marker).then(() => true, () => false);
    if (!complete) {
      emit({ type: 'stage', stage: `decoding ${Number.isFinite(total) ? `${total} frames` : 'the frames'} of ${input} at ${size.width}×${size.height}` });
      total = await decodeFrames(input, decodedDir, v.start, v.count, size.width, size.height, control.signal);
      await fs.writeFile(marker, String(total));
    } else total = have;
    if (!total) throw new VideoError(`${input} has no frames from frame ${v.start}`);
    sourceFrames = Array.from({ length: total }, (_, i) => path.join(decodedDir, `${pad(i)}.png`));
  }
  const skipped = [...done].filter((i) => i < total).length;
  emit({ type: 'video-start', frames: total, skipped, width: size.width, height: size.height, fps, audio, output });

  // once for all frames: the engine, the network and the style images
  const engine = control.engine ?? (await resolveEngine(o.engine));
  const preset = getPreset(o.preset);
  emit({ type: 'stage', stage: 'loading the network' });
  const net: FeatureNet = await networkFor(o, preset, notice);
  const styles = await Promise.all((Array.isArray(style) ? style : [style]).map((s) => (typeof s === 'string' ? readImage(s) : s)));

  const contentOf = new Map<number, Frame>();
  const frameAt = async (i: number): Promise<Frame> => {
    let f = contentOf.get(i);
    if (!f) {
      const img = await readImage(sourceFrames[i]!);
      f = planar(await resizeImage(img, size.width, size.height));
      contentOf.set(i, f);
    }
    return f;
  };
  const outputs = new Map<number, Frame>();
  const outputAt = async (i: number): Promise<Frame> => {
    let f = outputs.get(i);
    if (!f) {
      f = planar(await readImage(path.join(framesDir, `${pad(i)}.png`)));
      if (f.width !== size.width || f.height !== size.height) throw new VideoError(`${framesDir}/${pad(i)}.png is ${f.width}×${f.height}, expected ${size.width}×${size.height}; remove it to make it again`);
      outputs.set(i, f);
    }
    return f;
  };
  const maxOffset = v.longTerm.at(-1)!;

  let stylised = 0;
  let flowTotal = 0;
  let optimiseTotal = 0;
  let stopReason: VideoResult['stopReason'] = 'done';
  for (let i = 0; i < total; i++) {
    // forget what no later frame needs
    for (const k of [...contentOf.keys()]) if (k < i - maxOffset) contentOf.delete(k);
    for (const k of [...outputs.keys()]) if (k < i - maxOffset) outputs.delete(k);
    if (done.has(i)) continue;
    if (control.signal?.aborted) {
      stopReason = 'aborted';
      break;
    }
    const tFlow = performance.now();
    const content = await frameAt(i);
    let frame: RunControl['frame'];
    if (i > 0 && !independent) {
      const offsets = v.longTerm.filter((j) => i - j >= 0);
      const targets: TemporalTarget[] = [];
      let start: Float32Array | undefined;
      for (const j of offsets) {
        const before = await frameAt(i - j);
        const [b, f] = await Promise.all([flowBetween(content, before), flowBetween(before, content)]);
        const prev = await outputAt(i - j);
        const target = temporalTarget(prev, b, f);
        targets.push(target);
        if (j === 1) start = startImage(target.warped, target.inside, content.data);
      }
      const cLong = longTermCertainties(targets.map((t) => t.certainty));
      frame = {
        start,
        temporal: v.T !== 0 ? { weight: v.T, terms: offsets.map((offset, k) => ({ offset, target: { warped: targets[k]!.warped, certainty: cLong[k]! } })) } : undefined,
      };
    }
    const flowSeconds = (performance.now() - tFlow) / 1000;
    const tOpt = performance.now();
    const iterations = i > 0 && !independent ? frameIterations ?? o.iterations : o.iterations;
    emit({ type: 'frame-start', index: i, iterations });
    const result = await stylize({
      ...rest, content: fromPlanar(content), style: styles,
      ...(frame ? { minSize: Math.max(size.width, size.height), iterations } : {}),
    }, {
      engine, net, signal: control.signal, frame,
      onEvent: (e: StylizeEvent) => {
        if (e.type === 'notice') notice(e.message);
        else if (e.type === 'iterate') emit({ type: 'iterate', index: i, iteration: e.iteration, loss: e.loss });
      },
    });
    if (result.stopReason === 'aborted') {
      stopReason = 'aborted';
      break;
    }
    const file = path.join(framesDir, `${pad(i)}.png`);
    await writeImage(file, result.image);
    outputs.set(i, planar(result.image));
    const optimiseSeconds = (performance.now() - tOpt) / 1000;
    stylised++;
    flowTotal += flowSeconds;
    optimiseTotal += optimiseSeconds;
    emit({ type: 'frame', index: i, file, flowSeconds, optimiseSeconds, loss: result.loss, terms: result.terms, iterations: result.iterations, stopReason: result.stopReason, done: stylised, total });
  }

  if (stopReason === 'done') {
    if (outIsVideo) {
      emit({ type: 'encode', output });
      await encodeFrames(framesDir, total, rate, fps, output, inIsVideo && audio ? { file: input, start: v.start } : undefined, control.signal);
      if (!keepFrames) await fs.rm(work, { recursive: true, force: true });
    } else {
      await fs.rm(decodedDir, { recursive: true, force: true });
    }
  }
  emit({ type: 'video-done', output, frames: total, stylised, skipped, seconds: (performance.now() - t0) / 1000, stopReason });
  return {
    output, frames: total, stylised, skipped, stopReason,
    flowSeconds: stylised ? flowTotal / stylised : 0, optimiseSeconds: stylised ? optimiseTotal / stylised : 0,
  };
}
