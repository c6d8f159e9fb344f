/**
 * The driver: Gatys et al. style transfer, in stages that read top to bottom.
 *
 *   load → size → network → targets → objective → init → optimise → postprocess
 *
 * The core never prints and writes no file but the weight cache's converted copies: it reports
 * through typed events and returns the image; the CLI writes it. Cancellation goes through an AbortSignal: the
 * optimiser stops between evaluations and the current image is returned with stopReason 'aborted'.
 */
import { resolveEngine, type Engine } from '../engine/index.js';
import { sizeByArea, sizeByLongestSide, transferLuminance } from '../image/color.js';
import { fromPlanar, readImage, resizeImage, RgbImage, toPlanar } from '../image/io-node.js';
import { getPreset, Preset } from '../losses/presets.js';
import type { ObjectiveSpec } from '../losses/objective.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { randomVggWeights, vggNet } from '../networks/vgg.js';
import { DEFAULT_UNTRAINED, untrainedNet } from '../networks/untrained.js';
import { autoNormalise } from '../losses/normalise.js';
import { cacheDir, cachedDefault, loadWeightsCached } from '../networks/weights/cache.js';
import { adam } from '../optimizers/adam.js';
import { lbfgs, MinimizeResult, Objective, StepInfo } from '../optimizers/lbfgs.js';
import { gaussian } from '../util/random.js';
import { OptionError, StylizeOptions, validateOptions } from './options.js';
import { computeTargets, Image255, StyleProblem } from './problem.js';

/** An input image: a file path or decoded 8-bit RGB. */
export type ImageInput = string | RgbImage;

/** Events emitted by {@link stylize}, in order: notice*, start, iterate*, done. */
export type StylizeEvent =
  | { type: 'notice'; message: string }
  | { type: 'start'; width: number; height: number; network: string; preset: string; autoNormalised: boolean; iterations: number }
  | {
    type: 'iterate';
    iteration: number;
    evaluations: number;
    /** Total loss L. */
    loss: number;
    /** Each term before its weight (keys `content/<layer>`, `style/<layer>`, `tv`). */
    terms: Record<string, number>;
    elapsedMs: number;
    /** The current image (clipped to 0–255), when `imageEvery` asks for it. */
    image?: RgbImage;
  }
  | { type: 'done'; stopReason: StylizeResult['stopReason']; loss: number; elapsedMs: number };

export interface StylizeResult {
  /** The output image, 8-bit RGB (the last good iterate, clipped). */
  readonly image: RgbImage;
  readonly loss: number;
  readonly initialLoss: number;
  readonly terms: Record<string, number>;
  readonly iterations: number;
  readonly evaluations: number;
  /** 'nan': the objective became NaN/Inf; the image is the last finite iterate. */
  readonly stopReason: MinimizeResult['stopReason'] | 'nan';
}

export interface StylizeRequest extends Partial<StylizeOptions> {
  content: ImageInput;
  style: ImageInput | ImageInput[];
}

export interface RunControl {
  onEvent?: (e: StylizeEvent) => void;
  signal?: AbortSignal;
  /** Engine to use (default: the highest-priority registered engine). */
  engine?: Engine;
}

// --- stages ------------------------------------------------------------------------------------

async function loadInput(input: ImageInput): Promise<RgbImage> {
  return typeof input === 'string' ? readImage(input) : input;
}

/** Output size from the content image's size and the options. */
export function planSize(content: { width: number; height: number }, o: Pick<StylizeOptions, 'size' | 'area'>): { width: number; height: number } {
  return o.area ? sizeByArea(content.width, content.height, o.area) : sizeByLongestSide(content.width, content.height, o.size);
}

/** A style image's size: `styleScale` × the output's longest side (or area), its own aspect ratio. */
export function styleSize(style: { width: number; height: number }, o: Pick<StylizeOptions, 'size' | 'area' | 'styleScale'>): { width: number; height: number } {
  return planSize(style, { size: Math.round(o.size * o.styleScale), area: o.area && Math.round(o.area * o.styleScale ** 2) });
}

/** The feature network named by the options: a weight file, or an untrained network (with a notice). */
export async function resolveNetwork(o: StylizeOptions, notice: (m: string) => void): Promise<FeatureNet> {
  if (o.weights) return vggNet(await loadWeightsCached(o.weights, cacheDir(), notice), o.pooling);
  if (o.network === 'auto') {
    const cached = await cachedDefault();
    if (cached) return vggNet(await loadWeightsCached(cached, cacheDir(), notice), o.pooling);
  }
  if (o.network === 'offline' || o.network === 'auto') {
    const net = untrainedNet({ ...DEFAULT_UNTRAINED, seed: o.seed });
    notice(`no VGG-19 weights: using the offline network, an untrained lower-quality tier; run 'impasto weights fetch' once to download VGG-19 (80 MB) for the paper's results`);
    return net;
  }
  const arch = o.network === 'random-vgg16' ? 'vgg16' : 'vgg19';
  notice(`using ${arch} with seeded random weights (seed ${o.seed}), a lower-quality tier than pretrained VGG-19`);
  return vggNet(randomVggWeights(arch, o.seed), o.pooling);
}

/**
 * The objective spec from the options, the preset and the network. Layers: the options', else the
 * network's own defaults (untrained network), else the preset's. Layer weights likewise.
 * @param size the output size in px.
 * @param smallestSide the smallest side (px) of the output and style images: the network's own
 *        default style layers that need more are dropped, with `notice` told which.
 */
export function objectiveSpec(
  o: StylizeOptions, preset: Preset, net: FeatureNet, size: { width: number; height: number },
  smallestSide = Infinity, notice: (m: string) => void = () => {},
): ObjectiveSpec {
  const own = net.defaults;
  const content = o.contentLayers
    ? o.contentLayers.map((layer, i) => ({ layer, weight: o.contentLayerWeights?.[i] ?? 1 }))
    : own ? own.content : preset.contentLayers.map((layer, i) => ({ layer, weight: o.contentLayerWeights?.[i] ?? 1 }));
  let ownStyle = own?.style ?? [];
  if (own && !o.styleLayers) {
    // The network's own style layers that need more pixels than the smallest image has are
    // dropped (with a notice) rather than refused: they are defaults, not the user's choice.
    const fits = ownStyle.filter((l) => net.minSide([l.layer]) <= smallestSide);
    const dropped = ownStyle.filter((l) => !fits.includes(l));
    if (dropped.length && fits.length) {
      notice(`style layers ${dropped.map((l) => l.layer).join(', ')} need more than the ${smallestSide} px of the smallest image side; using ${fits.map((l) => l.layer).join(', ')}`);
      ownStyle = fits;
    }
  }
  const styleNames = o.styleLayers ?? (own ? ownStyle.map((l) => l.layer) : [...preset.styleLayers]);
  net.checkLayers([...content.map((c) => c.layer), ...styleNames]);
  const style = styleNames.map((layer, i) => ({
    layer,
    weight: o.styleLayerWeights?.[i] ?? (own && !o.styleLayers ? ownStyle[i]!.weight : preset.styleLayerWeight(net.channels(layer))),
  }));
  return {
    net,
    width: size.width,
    height: size.height,
    content,
    style,
    contentFactor: preset.contentFactor,
    styleFactor: preset.styleFactor,
    alpha: o.contentWeight ?? own?.alpha ?? preset.alpha,
    beta: o.styleWeight ?? own?.beta ?? preset.beta,
    gamma: o.tvWeight ?? preset.gamma,
    tv: o.tv ?? preset.tv,
  };
}

/** Engine session options from the stylisation options. */
export function sessionOptions(o: StylizeOptions): { threads?: number; executionProviders: string[] } {
  return { threads: o.threads, executionProviders: o.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'] };
}

/** Auto-normalisation applies when asked, or by the network's default unless layer weights are given. */
export function wantsAutoNormalise(o: StylizeOptions, net: FeatureNet): boolean {
  return o.autoNormalise ?? (Boolean(net.defaults?.autoNormalise) && !o.styleLayerWeights && !o.contentLayerWeights);
}

/** The starting image [3,H,W] in 0–255. */
async function initImage(o: StylizeOptions, content: Image255, styles: RgbImage[]): Promise<Float32Array> {
  const { width, height } = content;
  if (o.init === 'content') return Float32Array.from(content.data);
  if (o.init === 'noise') {
    const g = gaussian(o.seed);
    return Float32Array.from({ length: 3 * width * height }, () => Math.min(255, Math.max(0, 127.5 + 40 * g())));
  }
  const img = o.init === 'style' ? styles[0]! : await readImage(o.init);
  return toPlanar(await resizeImage(img, width, height)).data;
}

/**
 * Wraps the problem as an optimiser objective that reports NaN/Inf instead of passing them on, and
 * remembers each evaluation's terms by its loss, so an iteration event can report the terms of the
 * accepted point (a line search may evaluate other trial points after it).
 */
function guardedObjective(problem: StyleProblem, onNaN: () => void): Objective & { termsAt: (loss: number) => Record<string, number> } {
  const recent = new Map<number, Record<string, number>>();
  let last: Record<string, number> = {};
  const f = async (x: Float32Array) => {
    const ev = await problem.evaluate(x);
    let finite = Number.isFinite(ev.loss);
    for (let i = 0; finite && i < ev.grad.length; i += 1) if (!Number.isFinite(ev.grad[i]!)) finite = false;
    if (!finite) {
      onNaN();
      return { loss: NaN, grad: ev.grad };
    }
    last = ev.terms;
    recent.set(ev.loss, ev.terms);
    if (recent.size > 64) recent.delete(recent.keys().next().value!);
    return { loss: ev.loss, grad: ev.grad };
  };
  return Object.assign(f, { termsAt: (loss: number) => recent.get(loss) ?? last });
}

// --- the driver --------------------------------------------------------------------------------

/**
 * Repaints `content` in the style of `style` (one image or several, blended).
 * @throws OptionError, ImageError, WeightFormatError or GraphBuildError with a message that says
 *         what was expected, what was received and what to do.
 */
export async function stylize(request: StylizeRequest, control: RunControl = {}): Promise<StylizeResult> {
  const { content: contentInput, style: styleInput, ...rest } = request;
  const o = validateOptions(rest);
  const emit = control.onEvent ?? (() => {});
  const preset = getPreset(o.preset);
  const t0 = performance.now();

  // load
  const styleInputs = Array.isArray(styleInput) ? styleInput : [styleInput];
  if (styleInputs.length === 0) throw new OptionError('expected at least one style image, received none');
  if (o.styleBlend && o.styleBlend.length !== styleInputs.length) {
    throw new OptionError(`invalid styleBlend: expected ${styleInputs.length} weights, one per style image; received ${o.styleBlend.length}`);
  }
  const blendSum = (o.styleBlend ?? styleInputs.map(() => 1)).reduce((a, b) => a + b, 0);
  if (!(blendSum > 0)) throw new OptionError('invalid styleBlend: the weights must not all be zero');
  const contentRaw = await loadInput(contentInput);
  const stylesRaw = await Promise.all(styleInputs.map(loadInput));

  // size
  const size = planSize(contentRaw, o);
  const net = await resolveNetwork(o, (message) => emit({ type: 'notice', message }));
  const smallest = Math.min(size.width, size.height, ...stylesRaw.map((s) => Math.min(styleSize(s, o).width, styleSize(s, o).height)));
  const spec0 = objectiveSpec(o, preset, net, size, smallest, (message) => emit({ type: 'notice', message }));
  const layerList = [...spec0.content, ...spec0.style].map((l) => l.layer);
  const minSide = net.minSide(layerList);
  for (const [what, s] of [['output', size] as const, ...stylesRaw.map((s) => ['style image', styleSize(s, o)] as const)]) {
    if (s.width < minSide || s.height < minSide) {
      throw new OptionError(`the ${what} would be ${s.width}×${s.height} px, but layers ${layerList.join(', ')} need at least ${minSide}×${minSide}; use a larger --size or an image of a less extreme aspect ratio`);
    }
  }
  const content = toPlanar(await resizeImage(contentRaw, size.width, size.height));
  const styles = await Promise.all(stylesRaw.map(async (s, i) => {
    const ss = styleSize(s, o);
    return { image: toPlanar(await resizeImage(s, ss.width, ss.height)), weight: (o.styleBlend?.[i] ?? 1) / blendSum };
  }));

  // targets and objective
  const engine = control.engine ?? (await resolveEngine(o.engine));
  const sessionOpts = sessionOptions(o);
  const targets = await computeTargets(engine, spec0, content, styles, sessionOpts);
  const normalised = wantsAutoNormalise(o, net);
  const spec = normalised ? autoNormalise(spec0, targets) : spec0;
  const problem = await StyleProblem.create(engine, spec, targets, sessionOpts);
  emit({ type: 'start', width: size.width, height: size.height, network: net.description, preset: preset.name, autoNormalised: normalised, iterations: o.iterations });

  try {
    // init and optimise
    const x0 = await initImage(o, content, stylesRaw.map((s, i) => fromPlanar(styles[i]!.image)));
    let nan = false;
    const objective = guardedObjective(problem, () => (nan = true));
    let initialLoss = NaN;
    const onStep = (s: StepInfo) => {
      const wantImage = o.imageEvery > 0 && s.iteration % o.imageEvery === 0;
      emit({
        type: 'iterate', iteration: s.iteration, evaluations: s.evaluations, loss: s.loss, terms: objective.termsAt(s.loss),
        elapsedMs: performance.now() - t0, image: wantImage ? fromPlanar({ data: s.x, width: size.width, height: size.height }) : undefined,
      });
    };
    const counted: Objective = async (x) => {
      const r = await objective(x);
      if (Number.isNaN(initialLoss)) initialLoss = r.loss;
      return r;
    };
    const common = { maxEvals: o.iterations, onStep, signal: control.signal };
    const result = o.optimizer === 'adam'
      ? await adam(counted, x0, { ...common, lr: o.learningRate })
      : await lbfgs(counted, x0, { ...common, history: o.history, lineSearch: o.lineSearch });

    // postprocess
    let out: Image255 = { data: result.x, width: size.width, height: size.height };
    if (o.originalColors) out = transferLuminance(out, content);
    const stopReason = nan && result.stopReason !== 'budget' && result.stopReason !== 'aborted' ? 'nan' : result.stopReason;
    emit({ type: 'done', stopReason, loss: result.loss, elapsedMs: performance.now() - t0 });
    return {
      image: fromPlanar(out), loss: result.loss, initialLoss, terms: objective.termsAt(result.loss),
      iterations: result.iterations, evaluations: result.evaluations, stopReason,
    };
  } finally {
    await problem.dispose();
  }
}
