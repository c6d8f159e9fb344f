/**
 * The driver: Gatys et al. style transfer, in stages that read top to bottom.
 *
 *   set-up (prepare.ts: load → size → network → objective → colour → targets → normalise → graph)
 *     → init (the content image, or noise for a texture) → optimise (pixels kept in 0–255 by default) → postprocess → the loss of the 8-bit
 *     image that is returned (what a PNG of it scores under `impasto score`)
 *
 * The core never prints and writes no file but the weight cache's converted copies: it reports
 * through typed events and returns the image; the CLI writes it. Cancellation goes through an
 * AbortSignal: an aborted signal stops the set-up before its next stage, and the optimiser stops
 * between evaluations, returning the current image with stopReason 'aborted'.
 */
import { transferLuminance } from '../image/color.js';
import { fromPlanar, readImage, resizeImage, RgbImage, toPlanar } from '../image/io-node.js';
import type { Engine } from '../engine/index.js';
import { adam } from '../optimizers/adam.js';
import { lbfgs } from '../optimizers/lbfgs.js';
import type { Evaluated, MinimizeResult, Objective, StepInfo } from '../optimizers/types.js';
import { gaussian } from '../util/random.js';
import { OptionError, type StylizeOptions } from './options.js';
import { prepareProblem, type PreparedProblem, type ProblemRequest } from './prepare.js';
import type { Image255, StyleProblem } from './problem.js';
import { termWeights } from '../losses/objective.js';

export type { ImageInput } from './prepare.js';
export { planSize } from './prepare.js';

/** Events emitted by {@link stylize}, in order: (notice | stage)*, start, iterate*, done. */
export type StylizeEvent =
  | { type: 'notice'; message: string }
  /** A set-up stage begins (reading the images, loading the network, computing the targets, building the graph). */
  | { type: 'stage'; stage: string }
  | {
    type: 'start'; width: number; height: number; network: string; preset: string; styleLoss: string; autoNormalised: boolean;
    /** The iteration budget (`iterations` option): the count the bar, the iterate events and the result use. */
    iterations: number;
    /** The evaluation budget (`maxEvaluations`): the optimiser also stops after this many. */
    maxEvaluations: number;
    /** β as used (from `styleWeight`, or from `strength`). */
    styleWeight: number;
    /** The factor each term enters the total with (α·u_c, β·w_l, γ), by term key: L = Σ factor × term. */
    termWeights: Readonly<Record<string, number>>;
  }
  | {
    type: 'iterate';
    /** Steps taken to reach this image. */
    iteration: number;
    /** Objective evaluations used so far (line searches use more than one per step). */
    evaluations: number;
    /** Total loss L of this image. */
    loss: number;
    /** Each term of this image before its weight (keys `content/<layer>`, `style/<layer>`, `tv`). */
    terms: Readonly<Record<string, number>>;
    elapsedMs: number;
    /** This image (clipped to 0–255), when `imageEvery` asks for it. */
    image?: RgbImage;
  }
  | { type: 'done'; stopReason: StylizeResult['stopReason']; loss: number; iterations: number; evaluations: number; elapsedMs: number };

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
  /** The loss of the starting image. */
  readonly initialLoss: number;
  /** The terms of `image`, before their weights (keys `content/<layer>`, `style/<layer>`, `tv`). */
  readonly terms: Readonly<Record<string, number>>;
  /** Optimiser iterations (steps) taken. */
  readonly iterations: number;
  /** Objective evaluations used by the optimiser. */
  readonly evaluations: number;
  /** 'nan': the objective became NaN/Inf; the image is the last finite iterate. */
  readonly stopReason: MinimizeResult['stopReason'] | 'nan';
}

export type StylizeRequest = ProblemRequest;

export interface RunControl {
  onEvent?: (e: StylizeEvent) => void;
  signal?: AbortSignal;
  /** Engine to use (default: the one the `engine` option names). */
  engine?: Engine;
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
function objectiveOf(problem: StyleProblem, onNaN: () => void): Objective {
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

/** Runs the chosen optimiser from x0 within the iteration and evaluation budgets, in the box 0–255 unless `bounds` is 'none'. */
function optimise(o: StylizeOptions, f: Objective, x0: Float32Array, onStep: (s: StepInfo) => void, signal?: AbortSignal): Promise<MinimizeResult> {
  const bounds = o.bounds === 'none' ? undefined : { lower: 0, upper: 255, mode: o.bounds };
  const common = { maxIterations: o.iterations, maxEvals: maxEvaluationsOf(o), bounds, onStep, signal };
  return o.optimizer === 'adam'
    ? adam(f, x0, { ...common, lr: o.learningRate })
    : lbfgs(f, x0, { ...common, history: o.history, lineSearch: o.lineSearch });
}

// --- the driver --------------------------------------------------------------------------------

/** A texture's request: a stylisation without a content image. */
export type TextureRequest = Omit<StylizeRequest, 'content'>;

/**
 * Texture synthesis (Gatys et al. 2015; 2017): the style terms alone, from noise (or `init`), at
 * `width`×`height` or `size` (default: the first style image's aspect ratio); `tileable` makes it
 * wrap seamlessly. Everything else is as {@link stylize}: presets, style losses, blends.
 */
export function texture(request: TextureRequest, control: RunControl = {}): Promise<StylizeResult> {
  return stylize({ ...request, content: null }, control);
}

/**
 * Repaints `content` in the style of `style` (one image or several, blended).
 * @throws OptionError, ImageError, WeightFormatError or GraphBuildError with a message that says
 *         what was expected, what was received and what to do; the signal's reason when it is
 *         aborted before the optimisation starts.
 */
export async function stylize(request: StylizeRequest, control: RunControl = {}): Promise<StylizeResult> {
  if (control.signal !== undefined && !(control.signal instanceof AbortSignal)) {
    throw new OptionError(`invalid signal: expected an AbortSignal, received ${typeof control.signal}`);
  }
  const emit = control.onEvent ?? (() => {});
  const t0 = performance.now();
  const p: PreparedProblem = await prepareProblem(request, {
    engine: control.engine, signal: control.signal, onNotice: (message) => emit({ type: 'notice', message }),
    onStage: (stage) => emit({ type: 'stage', stage }),
  });
  const { options: o, width, height } = p;
  emit({
    type: 'start', width, height, network: p.net.description, preset: p.preset.name, styleLoss: o.styleLoss,
    autoNormalised: p.autoNormalised, iterations: o.iterations, maxEvaluations: maxEvaluationsOf(o),
    styleWeight: p.objective.beta, termWeights: termWeights(p.objective),
  });

  try {
    // init and optimise
    const x0 = await initImage(o, p.content, p.styles[0]!.image, width, height);
    let nan = false;
    let initialLoss = NaN;
    const f = objectiveOf(p.problem, () => (nan = true));
    const counted: Objective = async (x) => {
      const r = await f(x);
      if (Number.isNaN(initialLoss)) initialLoss = r.loss;
      return r;
    };
    const onStep = (s: StepInfo) => {
      const wantImage = o.imageEvery > 0 && s.iteration % o.imageEvery === 0;
      emit({
        type: 'iterate', iteration: s.iteration, evaluations: s.evaluations, loss: s.loss, terms: s.terms,
        elapsedMs: performance.now() - t0, image: wantImage ? fromPlanar({ data: s.x, width, height }) : undefined,
      });
    };
    const result = await optimise(o, counted, x0, onStep, control.signal);

    // postprocess, then the loss of the 8-bit image itself
    let out: Image255 = { data: result.x, width, height };
    // Original colours, and luminance-only transfer: Y of the result, chroma of the content.
    if (p.content && (o.originalColors || o.luminanceOnly)) out = transferLuminance(out, p.content);
    const image = fromPlanar(out);
    const file = await p.problem.evaluate(toPlanar(image).data);
    // 'nan' when the returned point's own loss is not finite (nothing finite was ever reached, e.g.
    // an overflowing weight), or when the optimiser gave up after a NaN/Inf.
    const stopReason = !Number.isFinite(result.loss) || (nan && result.stopReason === 'no-progress') ? 'nan' : result.stopReason;
    emit({ type: 'done', stopReason, loss: file.loss, iterations: result.iterations, evaluations: result.evaluations, elapsedMs: performance.now() - t0 });
    return {
      image, loss: file.loss, optimiserLoss: result.loss, initialLoss, terms: file.terms,
      iterations: result.iterations, evaluations: result.evaluations, stopReason,
    };
  } finally {
    await p.problem.dispose();
  }
}
