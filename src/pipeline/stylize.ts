/**
 * The driver: Gatys et al. style transfer, coarse to fine, in stages that read top to bottom.
 *
 *   set-up (prepare.ts: load → network) → plan (plan.ts: the scales, each whole or in blocks,
 *   within the memory budget) → for each scale, smallest first:
 *       problem (prepare.ts `problemAt`: size → objective → colour → targets → normalise → graph)
 *       → start (the first scale: the content image, or noise for a texture; later scales: the
 *         last scale's result, upsampled bicubically) → optimise (pixels kept in 0–255 by
 *         default; `tolerance` may end a scale early; `average` keeps the iterates' average,
 *         which is the scale's result) → checkpoints
 *   → postprocess → the loss of the 8-bit image that is returned (what a PNG of it scores under
 *     `impasto score`)
 *
 * Coarse-to-fine follows crowsonkb/style-transfer-pytorch: the content is resampled from the
 * original at every scale, the style images to `styleScale` × the scale's longest side (so the
 * style's statistics per position are those of the same painting at every scale), and the
 * targets are re-extracted. L-BFGS starts each scale afresh (its pairs are of another size);
 * Adam's moments are reset or resized (`adamMoments`).
 *
 * The core never prints, and writes no file but the weight cache's converted copies and the
 * checkpoint it is asked for (`checkpoint`, written atomically by checkpoint.ts): it reports
 * through typed events and returns the image; the CLI writes it. Cancellation goes through an
 * AbortSignal: an aborted signal stops the set-up before its next stage, and the optimiser stops
 * between evaluations, returning the current image with stopReason 'aborted'.
 */
import { transferLuminance } from '../image/color.js';
import { fromPlanar, readImage, resizeImage, RgbImage, toPlanar } from '../image/io-node.js';
import type { Engine } from '../engine/index.js';
import { adam } from '../optimizers/adam.js';
import { lbfgs } from '../optimizers/lbfgs.js';
import { projectInto, type Evaluated, type MinimizeResult, type Objective, type OptimiserState, type StepInfo } from '../optimizers/types.js';
import { gaussian } from '../util/random.js';
import { checkRequest, OptionError, type StylizeOptions } from './options.js';
import { prepareSetup, problemAt, wantsAutoNormalise, type ImageInput, type PreparedProblem, type ProblemRequest, type SetupControl, type TemporalRequest } from './prepare.js';
import { planRun, type RunPlan } from './plan.js';
import { fingerprintOf, readCheckpoint, stateArrays, stateHeader, stateOf, writeCheckpoint, type Checkpoint, type CheckpointHeader, type ScaleReport } from './checkpoint.js';
import { resizeBicubic } from '../image/resample.js';
import { CheckpointError } from '../errors.js';
import fs from 'node:fs/promises';
import type { Image255, Problem } from './problem.js';
import { termWeights } from '../losses/objective.js';

export type { ImageInput } from './prepare.js';
export type { ScaleReport } from './checkpoint.js';
export { planSize } from './prepare.js';

/** Events emitted by {@link stylize}, in order: (notice | stage)*, start, (scale, (stage | iterate | checkpoint)*)*, done. */
export type StylizeEvent =
  | { type: 'notice'; message: string }
  /** A set-up stage begins (reading the images, loading the network, computing the targets, building the graph). */
  | { type: 'stage'; stage: string }
  | {
    type: 'start'; width: number; height: number; network: string; preset: string; styleLoss: string; autoNormalised: boolean;
    /** The iteration budget of the whole run: `iterations` × the scales left (the bar's total). */
    iterations: number;
    /** The evaluation budget per scale (`maxEvaluations`): each scale's optimiser also stops after this many. */
    maxEvaluations: number;
    /** The plan: each scale's size, its blocks (0: whole) and predicted peak bytes and seconds per evaluation. */
    scales: readonly { width: number; height: number; blocks: number; bytes: number; seconds: number }[];
    /** The scale the run starts at (> 0 when resumed). */
    firstScale: number;
    /** β as used (from `styleWeight`, or from `strength`). */
    styleWeight: number;
  }
  /** A scale's problem is set up and its optimisation begins (index from 0 of `count`). */
  | {
    type: 'scale'; index: number; count: number; width: number; height: number;
    /** Blocks of the tiled evaluation (0: the whole image at once). */
    blocks: number;
    /** The factor each term enters this scale's total with (α·u_c, β·w_l, γ), by term key: L = Σ factor × term. */
    termWeights: Readonly<Record<string, number>>;
  }
  /** A checkpoint was written. */
  | { type: 'checkpoint'; file: string; scale: number; iteration: number }
  | {
    type: 'iterate';
    /** Steps taken to reach this image, over all scales so far. */
    iteration: number;
    /** The scale (index from 0) and the steps taken in it. */
    scale: number;
    scaleIteration: number;
    /** Objective evaluations used so far, over all scales (line searches use more than one per step). */
    evaluations: number;
    /** Total loss L of this image. */
    loss: number;
    /** Each term of this image before its weight (keys `content/<layer>`, `style/<layer>`, `tv`, and a video frame's `temporal/<j>`). */
    terms: Readonly<Record<string, number>>;
    elapsedMs: number;
    /** This image (clipped to 0–255), when `imageEvery` asks for it. */
    image?: RgbImage;
  }
  | { type: 'done'; stopReason: StylizeResult['stopReason']; loss: number; iterations: number; evaluations: number; elapsedMs: number; scales: readonly ScaleReport[] };

export interface StylizeResult {
  /** The output image, 8-bit RGB: the optimiser's returned iterate, rounded (with the content's chroma under `originalColors` or `luminanceOnly`). */
  readonly image: RgbImage;
  /**
   * The loss of `image` itself, 8-bit values and any colour transfer included: what
   * `impasto score` reports for a PNG of it. One evaluation beyond `evaluations`.
   */
  readonly loss: number;
  /** The optimiser's own loss at its returned iterate (float32 pixels, before rounding). */
  readonly optimiserLoss: number;
  /** The loss of the starting image, at the first scale's size (a scale-free loss reads alike at every size). */
  readonly initialLoss: number;
  /** The terms of `image`, before their weights (keys `content/<layer>`, `style/<layer>`, `tv`, and a video frame's `temporal/<j>`). */
  readonly terms: Readonly<Record<string, number>>;
  /** Optimiser iterations (steps) taken, over all scales. */
  readonly iterations: number;
  /** Objective evaluations used by the optimiser, over all scales. */
  readonly evaluations: number;
  /**
   * Why the last scale run stopped: 'budget' (its iterations or evaluations), 'converged' (the
   * tolerance), 'aborted' (the image is then the interrupted scale's, at its size), 'no-progress',
   * or 'nan' (the objective became NaN/Inf; the image is the last finite iterate).
   */
  readonly stopReason: MinimizeResult['stopReason'] | 'nan';
  /** Each scale run: size, steps, evaluations and why it stopped. */
  readonly scales: readonly ScaleReport[];
}

export type StylizeRequest = ProblemRequest;

export interface RunControl {
  onEvent?: (e: StylizeEvent) => void;
  signal?: AbortSignal;
  /** Engine to use (default: the one the `engine` option names). */
  engine?: Engine;
  /** VGG weights already in memory, instead of `weights`/`network` (prepare.ts SetupControl). */
  weights?: SetupControl['weights'];
  /** The network itself, made once for many runs of the same options (a video's frames; prepare.ts `networkFor`). */
  net?: SetupControl['net'];
  /**
   * A video frame (src/video/video.ts):
   * - `start`: its starting image [3,H,W] in 0–255 at the output size (the previous result warped
   *   into this frame), instead of `init`; resampled to the first scale's size if that is smaller;
   * - `temporal`: its temporal terms (losses/temporal.ts), which join the last scale's objective.
   */
  frame?: { readonly start?: Float32Array; readonly temporal?: TemporalRequest };
}

// --- stages ------------------------------------------------------------------------------------

/** The starting image [3,H,W] in 0–255, of the output size; a texture (no content) starts from noise unless `init` names a file or 'style'. */
async function initImage(o: StylizeOptions, content: Image255 | null, firstStyle: Image255, width: number, height: number): Promise<Float32Array> {
  if (o.init === 'content' && content) return Float32Array.from(content.data);
  if (o.init === 'noise' || o.init === 'content') {
    const g = gaussian(o.seed);
    return Float32Array.from({ length: 3 * width * height }, () => Math.min(255, Math.max(0, 127.5 + 40 * g())));
  }
  const img = o.init === 'style' ? fromPlanar(firstStyle) : await readImage(o.init);
  return toPlanar(await resizeImage(img, width, height)).data;
}

/**
 * The problem as an optimiser objective: passes the terms through with each evaluation, and
 * reports a non-finite gradient as a NaN loss so the optimisers back off.
 */
function objectiveOf(problem: Problem, onNaN: () => void): Objective {
  return async (x: Float32Array): Promise<Evaluated> => {
    const ev = await problem.evaluate(x);
    let finite = Number.isFinite(ev.loss);
    for (let i = 0; finite && i < ev.grad.length; i += 1) if (!Number.isFinite(ev.grad[i]!)) finite = false;
    if (!finite) {
      onNaN();
      return { loss: NaN, grad: ev.grad };
    }
    return ev;
  };
}

/** The evaluation budget: the option, else Torch's 1.25 per iteration plus 20 for the first line search's bracketing. */
export function maxEvaluationsOf(o: Pick<StylizeOptions, 'iterations' | 'maxEvaluations'>): number {
  return o.maxEvaluations ?? Math.ceil(1.25 * o.iterations) + 20;
}

/** How one scale's optimiser starts: afresh, from a checkpoint's state, or (Adam) with resized moments. */
interface Start {
  readonly resume?: OptimiserState;
  readonly moments?: { m: Float32Array; v: Float32Array; t: number };
}

/**
 * Runs the chosen optimiser from x0 within one scale's iteration and evaluation budgets and the
 * tolerance, in the box 0–255 unless `bounds` is 'none'.
 */
function optimise(o: StylizeOptions, history: number, f: Objective, x0: Float32Array, start: Start, onStep: (s: StepInfo) => Promise<void>, signal?: AbortSignal): Promise<MinimizeResult> {
  const bounds = o.bounds === 'none' ? undefined : { lower: 0, upper: 255, mode: o.bounds };
  const common = { maxIterations: o.iterations, maxEvals: maxEvaluationsOf(o), bounds, onStep, signal, tolerance: o.tolerance, resume: start.resume };
  return o.optimizer === 'adam'
    ? adam(f, x0, { ...common, lr: o.learningRate, moments: start.moments })
    : lbfgs(f, x0, { ...common, history, lineSearch: o.lineSearch });
}

/**
 * Iterate averaging: the bias-corrected exponential moving average of the iterates,
 * x̄_t = a_t / (1 − dᵗ) with a_t = d·a_{t−1} + (1 − d)·x_t, a_0 = 0 (crowsonkb's EMA).
 */
class IterateAverage {
  constructor(readonly decay: number, readonly acc: Float32Array, public count = 0) {}

  update(x: Float32Array): void {
    const d = this.decay;
    for (let i = 0; i < x.length; i++) this.acc[i] = d * this.acc[i]! + (1 - d) * x[i]!;
    this.count++;
  }

  /** x̄ (a new array). */
  value(): Float32Array {
    const c = 1 - this.decay ** this.count;
    return this.acc.map((v) => v / c);
  }
}

/** SHA-256 of what decides a run's result: the options that shape it, the inputs' bytes, the network and the plan. */
async function fingerprint(request: StylizeRequest, o: StylizeOptions, net: string, plan: RunPlan): Promise<string> {
  const skip = new Set(['checkpoint', 'checkpointEvery', 'resume', 'imageEvery', 'threads', 'maxMemory']);
  const opts = Object.fromEntries(Object.entries(o).filter(([k]) => !skip.has(k)).sort(([a], [b]) => a.localeCompare(b)));
  const bytesOf = async (input: ImageInput | null) => (input === null ? 'none' : typeof input === 'string' ? new Uint8Array(await fs.readFile(input)) : input.data);
  const styles = Array.isArray(request.style) ? request.style : [request.style];
  const planned = plan.scales.map((s) => [s.width, s.height, s.tiles ? [s.tiles.blockWidth, s.tiles.blockHeight, s.tiles.blocks.length] : 0]);
  return fingerprintOf([JSON.stringify(opts), net, JSON.stringify({ planned, history: plan.history }), await bytesOf(request.content), ...(await Promise.all(styles.map(bytesOf)))]);
}

// --- the driver --------------------------------------------------------------------------------

/** A texture's request: a stylisation without a content image. */
export type TextureRequest = Omit<StylizeRequest, 'content'>;

/**
 * Texture synthesis (Gatys et al. 2015; 2017): the style terms alone, from noise (or `init`), at
 * `width`×`height` or `size` (default: the first style image's aspect ratio); `tileable` makes it
 * wrap seamlessly. Everything else is as {@link stylize}: presets, style losses, blends, scales.
 */
export async function texture(request: TextureRequest, control: RunControl = {}): Promise<StylizeResult> {
  checkRequest(request, 'texture');
  return stylize({ ...request, content: null }, control);
}

/**
 * Repaints `content` in the style of `style` (one image or several, blended), coarse to fine.
 * @throws OptionError, ImageError, WeightFormatError, GraphBuildError or CheckpointError with a
 *         message that says what was expected, what was received and what to do; the signal's
 *         reason when it is aborted before the optimisation starts.
 */
export async function stylize(request: StylizeRequest, control: RunControl = {}): Promise<StylizeResult> {
  checkRequest(request, 'stylize');
  if (control.signal !== undefined && !(control.signal instanceof AbortSignal)) {
    throw new OptionError(`invalid signal: expected an AbortSignal, received ${typeof control.signal}`);
  }
  const emit = control.onEvent ?? (() => {});
  const t0 = performance.now();
  let planned: RunPlan | null = null;
  const setup = await prepareSetup(request, {
    engine: control.engine, weights: control.weights, net: control.net, signal: control.signal, onNotice: (message) => emit({ type: 'notice', message }),
    onStage: (stage) => emit({ type: 'stage', stage }),
    beforeDecode: (spec, net, options, given) => {
      planned = planRun(spec, net, options, given, options.tileable ? net.minSide(net.layers) : 1);
    },
  });
  const o = setup.options;
  const plan: RunPlan = planned!;
  for (const message of plan.notes) emit({ type: 'notice', message });
  const last = plan.scales.length - 1;

  // resume: a checkpoint of this very run (same inputs, options and plan), or refused
  let resumed: Checkpoint | null = null;
  const print = o.checkpoint || o.resume ? await fingerprint(request, o, setup.net.description, plan) : '';
  if (o.resume) {
    resumed = await readCheckpoint(o.resume);
    const h = resumed.header;
    if (h.fingerprint !== print) {
      throw new CheckpointError(`${o.resume} was written by a run with other images, options or memory plan; resume with the command that wrote it, or start afresh without --resume`);
    }
    const at = plan.scales[h.scale];
    if (!at || at.width !== h.width || at.height !== h.height) throw new CheckpointError(`${o.resume} holds scale ${h.scale} at ${h.width}×${h.height}, which this run's plan does not have; start afresh without --resume`);
  }
  const first = resumed?.header.scale ?? 0;
  emit({
    type: 'start', width: setup.size.width, height: setup.size.height, network: setup.net.description, preset: setup.preset.name, styleLoss: o.styleLoss,
    autoNormalised: wantsAutoNormalise(o, setup.preset, setup.net), iterations: o.iterations * (plan.scales.length - first), maxEvaluations: maxEvaluationsOf(o),
    styleWeight: setup.spec.beta, firstScale: first,
    scales: plan.scales.map((s) => ({ width: s.width, height: s.height, blocks: s.tiles?.blocks.length ?? 0, bytes: s.bytes, seconds: s.seconds })),
  });

  const reports: ScaleReport[] = [...(resumed?.header.scales ?? [])];
  let doneIterations = resumed?.header.doneIterations ?? 0;
  let doneEvaluations = resumed?.header.doneEvaluations ?? 0;
  let initialLoss = resumed?.header.initialLoss ?? NaN;
  let image: Float32Array | null = null;
  let prev: { width: number; height: number } | null = null;
  let moments: Start['moments'];
  let p: PreparedProblem | null = null;
  let nan = false;
  let final: MinimizeResult | null = null;
  let finalOut: Float32Array | null = null;

  try {
    for (let k = first; k <= last; k++) {
      const scale = plan.scales[k]!;
      const { width, height } = scale;
      await p?.problem.dispose();
      p = null;
      p = await problemAt(setup, { width, height }, scale.tiles, k < last, k === last ? control.frame?.temporal : undefined);
      emit({ type: 'scale', index: k, count: plan.scales.length, width, height, blocks: scale.tiles?.blocks.length ?? 0, termWeights: termWeights(p.objective) });
      const fromCheckpoint = resumed && k === first ? resumed : null;

      // the scale's starting image
      let x0: Float32Array;
      if (fromCheckpoint) x0 = fromCheckpoint.arrays.x!;
      else if (image && prev) {
        x0 = resizeBicubic(image, 3, prev.width, prev.height, width, height);
        if (o.bounds !== 'none') projectInto(x0, { lower: 0, upper: 255, mode: 'project' });
      } else if (control.frame?.start) {
        const { width: fw, height: fh } = setup.size;
        if (control.frame.start.length !== 3 * fw * fh) throw new OptionError(`the frame's starting image holds ${control.frame.start.length} values, expected 3×${fh}×${fw}`);
        x0 = fw === width && fh === height ? Float32Array.from(control.frame.start) : resizeBicubic(control.frame.start, 3, fw, fh, width, height);
        if (o.bounds !== 'none') projectInto(x0, { lower: 0, upper: 255, mode: 'project' });
      } else x0 = await initImage(o, p.content, p.styles[0]!.image, width, height);
      const resume = fromCheckpoint ? stateOf(fromCheckpoint) : undefined;
      const carried = fromCheckpoint?.arrays.m0 && fromCheckpoint.arrays.v0
        ? { m: fromCheckpoint.arrays.m0, v: fromCheckpoint.arrays.v0, t: fromCheckpoint.header.momentsSteps }
        : undefined;
      const startMoments = fromCheckpoint ? carried : k === first ? undefined : moments;
      const average = o.average > 0
        ? new IterateAverage(o.average, fromCheckpoint?.arrays.average ?? new Float32Array(x0.length), fromCheckpoint?.header.averaged ?? 0)
        : null;

      // checkpoints: at the scale's start, every `checkpointEvery` evaluations, and when interrupted
      let lastState: (() => OptimiserState) | null = null;
      let savedAt = resume?.evaluations ?? 0;
      const save = async (state: OptimiserState | null) => {
        if (!o.checkpoint) return;
        const header: Omit<CheckpointHeader, 'arrays'> = {
          version: 1, fingerprint: print, scale: k, width, height, doneIterations, doneEvaluations, initialLoss, scales: reports,
          optimiser: state ? stateHeader(state) : null, averaged: state && average ? average.count : 0,
          momentsSteps: !state && startMoments ? startMoments.t : 0,
        };
        const arrays: Record<string, Float32Array> = state ? stateArrays(state) : { x: x0 };
        // At a scale's start, Adam's resized moments (when carried) are part of the run.
        if (!state && startMoments) Object.assign(arrays, { m0: startMoments.m, v0: startMoments.v });
        if (state && average) arrays.average = average.acc;
        await writeCheckpoint(o.checkpoint, header, arrays);
        emit({ type: 'checkpoint', file: o.checkpoint, scale: k, iteration: doneIterations + (state?.iterations ?? 0) });
      };
      if (!fromCheckpoint) await save(null);

      const f = objectiveOf(p.problem, () => (nan = true));
      const counted: Objective = async (x) => {
        const r = await f(x);
        if (Number.isNaN(initialLoss)) initialLoss = r.loss;
        return r;
      };
      const onStep = async (s: StepInfo) => {
        average?.update(s.x);
        lastState = s.state;
        const wantImage = o.imageEvery > 0 && s.iteration % o.imageEvery === 0;
        emit({
          type: 'iterate', iteration: doneIterations + s.iteration, scale: k, scaleIteration: s.iteration, evaluations: doneEvaluations + s.evaluations,
          loss: s.loss, terms: s.terms, elapsedMs: performance.now() - t0, image: wantImage ? fromPlanar({ data: average ? average.value() : s.x, width, height }) : undefined,
        });
        if (o.checkpoint && s.evaluations - savedAt >= o.checkpointEvery) {
          savedAt = s.evaluations;
          await save(s.state());
        }
      };
      const result = await optimise(o, plan.history, counted, x0, { resume, moments: resume ? undefined : startMoments }, onStep, control.signal);
      const state = (lastState as (() => OptimiserState) | null)?.() ?? null;
      if (result.stopReason === 'aborted') await save(state);
      const out = average && average.count > 0 ? average.value() : result.x;
      reports.push({ width, height, iterations: result.iterations, evaluations: result.evaluations, stopReason: result.stopReason });
      doneIterations += result.iterations;
      doneEvaluations += result.evaluations;
      final = result;
      finalOut = out;
      if (result.stopReason === 'aborted' || !Number.isFinite(result.loss) || k === last) break;
      // on to the next scale
      if (o.optimizer === 'adam' && o.adamMoments === 'resize' && state?.kind === 'adam') {
        const next = plan.scales[k + 1]!;
        const v = resizeBicubic(state.v, 3, width, height, next.width, next.height);
        for (let i = 0; i < v.length; i++) if (v[i]! < 0) v[i] = 0;
        moments = { m: resizeBicubic(state.m, 3, width, height, next.width, next.height), v, t: state.offset + state.iterations };
      }
      image = out;
      prev = { width, height };
    }

    // postprocess, then the loss of the 8-bit image itself
    const result = final!;
    let out: Image255 = { data: finalOut!, width: p!.width, height: p!.height };
    // Original colours, and luminance-only transfer: Y of the result, chroma of the content.
    if (p!.content && (o.originalColors || o.luminanceOnly)) out = transferLuminance(out, p!.content);
    const rgb = fromPlanar(out);
    const file = await p!.problem.evaluate(toPlanar(rgb).data);
    // 'nan' when the returned point's own loss is not finite (nothing finite was ever reached, e.g.
    // an overflowing weight), or when the optimiser gave up after a NaN/Inf.
    // (An abort before a scale's first evaluation leaves no loss at all: that is 'aborted'.)
    const stopReason = result.stopReason === 'aborted' ? 'aborted'
      : !Number.isFinite(result.loss) || (nan && result.stopReason === 'no-progress') ? 'nan' : result.stopReason;
    emit({ type: 'done', stopReason, loss: file.loss, iterations: doneIterations, evaluations: doneEvaluations, elapsedMs: performance.now() - t0, scales: reports });
    return {
      image: rgb, loss: file.loss, optimiserLoss: result.loss, initialLoss, terms: file.terms,
      iterations: doneIterations, evaluations: doneEvaluations, stopReason, scales: reports,
    };
  } finally {
    await p?.problem.dispose();
  }
}
