/**
 * The one problem set-up, shared by `stylize`, `score` and the benchmarks (and by every scale,
 * tile, job or frame that comes later):
 *
 *   load → size → network → objective (validated here, where the network is known)
 *        → colour (style images matched to the content) → targets → normalise → graph and session
 *
 * Each stage is a function below; `prepareProblem` calls them in that order and returns the
 * problem ready to evaluate. Options are validated once, here.
 */
import { resolveEngine, type Engine } from '../engine/index.js';
import { sizeByArea, sizeByLongestSide } from '../image/color.js';
import os from 'node:os';
import { imageSize, readImage, resizeImage, RgbImage, toPlanar } from '../image/io-node.js';
import { memoryBudget, workPerPixel } from './memory.js';
import { planProblem } from './plan.js';
import { TiledProblem, type TileLayout } from './tiled.js';
import type { SessionOptions } from '../engine/engine.js';
import { contentUnit } from '../losses/content.js';
import { autoNormalise, geometryOf, type ObjectiveSpec } from '../losses/objective.js';
import { temporalWeights, type TemporalTarget } from '../losses/temporal.js';
import { getPreset, type Preset } from '../losses/presets.js';
import { DEFAULT_STRENGTH, styleWeightOf } from '../losses/strength.js';
import { STYLE_LOSSES } from '../losses/registry.js';
import type { TermSpec } from '../losses/unit.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { DEFAULT_UNTRAINED, untrainedNet } from '../networks/untrained.js';
import { randomVggWeights, vggNet, type VggWeights } from '../networks/vgg.js';
import { luminanceNet } from '../networks/luminance.js';
import { erode, normaliseGuide, propagateGuide, resizeGuide, type Guide } from '../losses/guides.js';
import { guidedGram } from '../losses/guided-gram.js';
import { matchColour, matchLuminance } from '../image/color-match.js';
import { cacheDir, cachedDefault, loadWeightsCached } from '../networks/weights/cache.js';
import { checkRequest, OptionError, StylizeOptions, validateOptions } from './options.js';
import { computeTargets, Image255, StyleProblem, StyleSource, type Problem } from './problem.js';

/** An input image: a file path or decoded 8-bit RGB. */
export type ImageInput = string | RgbImage;

/** What a problem is made of: the images, and every option (validated here). */
export interface ProblemRequest extends Partial<StylizeOptions> {
  /** The photo; null for a texture, which has no content terms (`texture` in stylize.ts). */
  content: ImageInput | null;
  style: ImageInput | ImageInput[];
}

/** Where the set-up runs and whom it tells. */
export interface SetupControl {
  /** Engine to use (default: the one `engine` names). */
  engine?: Engine;
  /**
   * VGG weights already in memory (the browser's picked file, or the server's cache sent to it),
   * used instead of `weights` and `network`; `what` names them in the notice.
   */
  weights?: { readonly weights: VggWeights; readonly what: string };
  /**
   * The feature network itself, already made by an earlier set-up of the same options (each
   * frame of a video): used as it is, instead of loading `weights`/`network` again.
   */
  net?: FeatureNet;
  /** One-line notices for the user (network choice, dropped layers). */
  onNotice?: (message: string) => void;
  /** Checked between stages: an aborted signal stops the set-up with its reason. */
  signal?: AbortSignal;
  /** Told as each stage begins (e.g. 'computing the style targets'), so that no long step is silent. */
  onStage?: (stage: string) => void;
  /**
   * Called with the final objective (no targets) once the network is loaded and before any image
   * is decoded: where the run is planned, and refused (by throwing) when it cannot fit.
   */
  beforeDecode?: (spec: ObjectiveSpec, net: FeatureNet, options: StylizeOptions, given: Partial<StylizeOptions>) => void;
}

/** A problem ready to evaluate, with everything that went into it. */
export interface PreparedProblem {
  readonly options: StylizeOptions;
  readonly preset: Preset;
  readonly net: FeatureNet;
  /** The generated image's size in px. */
  readonly width: number;
  readonly height: number;
  /** The content image at the output size; null for a texture. */
  readonly content: Image255 | null;
  /** The style images at their working sizes, with blend weights summing to 1. */
  readonly styles: readonly StyleSource[];
  /** The objective with its final (possibly auto-normalised) layer weights (and, untiled, its targets). */
  readonly objective: ObjectiveSpec;
  readonly autoNormalised: boolean;
  /** The objective graph on its session (or the tiled evaluator); dispose it when done. */
  readonly problem: Problem;
}

// --- stages ------------------------------------------------------------------------------------

async function loadInput(input: ImageInput): Promise<RgbImage> {
  return typeof input === 'string' ? readImage(input) : input;
}

/** Output size from an image's size: `area` if given, else `size` as the longest side (unchecked: the callers' sizes are). */
function sizeOf(image: { width: number; height: number }, o: Pick<StylizeOptions, 'size' | 'area'>): { width: number; height: number } {
  return o.area ? sizeByArea(image.width, image.height, o.area) : sizeByLongestSide(image.width, image.height, o.size);
}

/**
 * Output size from the content image's size and the options: `area` if given, else `size`
 * (default 384) as the longest side. The library's entry: its arguments are checked.
 * @throws OptionError for a size, an area or a content size out of range.
 */
export function planSize(content: { width: number; height: number }, options: Partial<Pick<StylizeOptions, 'size' | 'area'>>): { width: number; height: number } {
  if (!(Number.isInteger(content?.width) && Number.isInteger(content?.height) && content.width > 0 && content.height > 0)) {
    throw new OptionError(`planSize: expected the content's { width, height } in px (positive integers), received ${JSON.stringify(content)}`);
  }
  checkRequest(options, 'planSize', 'an options object');
  // the options' own checks and default (size 384 when neither is given); area wins, as it does
  // over the default size of validated options
  return sizeOf(content, validateOptions(options.area !== undefined ? { area: options.area } : options.size !== undefined ? { size: options.size } : {}));
}

/**
 * A style image's size: `styleScale` × the output's longest side (or area), its own aspect ratio.
 * `output` is the generated image's size (from `sizeOf`, or the scored image's).
 */
export function styleSize(style: { width: number; height: number }, output: { width: number; height: number }, o: Pick<StylizeOptions, 'area' | 'styleScale'>): { width: number; height: number } {
  const longest = Math.max(output.width, output.height);
  return sizeOf(style, { size: Math.round(longest * o.styleScale), area: o.area && Math.round(output.width * output.height * o.styleScale ** 2) });
}

/** Blend weights b_k, one per style image, normalised to sum 1. @throws OptionError */
export function blendWeights(o: StylizeOptions, count: number): number[] {
  if (count === 0) throw new OptionError('expected at least one style image, received none');
  const raw = o.styleBlend ?? new Array<number>(count).fill(1);
  if (raw.length !== count) {
    throw new OptionError(`invalid --style-blend: expected ${count} weights, one per style image; received ${raw.length}`);
  }
  const sum = raw.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new OptionError(`invalid --style-blend: the weights must not all be zero, received ${raw.join(',')}`);
  return raw.map((w) => w / sum);
}

/** The feature network named by the options: a weight file, or an untrained network (with a notice). */
export async function resolveNetwork(o: StylizeOptions, preset: Preset, notice: (m: string) => void, given?: SetupControl['weights']): Promise<FeatureNet> {
  const pooling = o.pooling ?? preset.pooling;
  if (given) {
    notice(`using the VGG weights of ${given.what}`);
    return vggNet(given.weights, pooling);
  }
  if (o.weights) return vggNet(await loadWeightsCached(o.weights, cacheDir(), notice), pooling);
  if (o.network === 'auto') {
    const cached = await cachedDefault(cacheDir(), notice);
    if (cached) return vggNet(await loadWeightsCached(cached, cacheDir(), notice), pooling);
  }
  if (o.network === 'offline' || o.network === 'auto') {
    const net = untrainedNet({ ...DEFAULT_UNTRAINED, seed: o.seed });
    notice(o.network === 'offline'
      ? `using the offline network (--network offline), an untrained lower-quality tier; VGG-19 weights give the paper's results`
      : `no VGG-19 weights: using the offline network, an untrained lower-quality tier; run 'impasto weights fetch' once to download VGG-19 (80 MB) for the paper's results`);
    return net;
  }
  const arch = o.network === 'random-vgg16' ? 'vgg16' : 'vgg19';
  notice(`using ${arch} with seeded random weights (seed ${o.seed}), a lower-quality tier than pretrained VGG-19`);
  return vggNet(randomVggWeights(arch, o.seed), pooling);
}

/** The network a run of options `o` optimises through: {@link resolveNetwork}'s, seeing luminance only under `luminanceOnly`. */
export async function networkFor(o: StylizeOptions, preset: Preset, notice: (m: string) => void, given?: SetupControl['weights']): Promise<FeatureNet> {
  const loaded = await resolveNetwork(o, preset, notice, given);
  return o.luminanceOnly ? luminanceNet(loaded) : loaded;
}

/**
 * The objective from the options, the preset and the network, validated against the network.
 *
 * Layers: the options', else the network's own defaults (the offline network has its own), else
 * the preset's. Layer weights: the options' (one per layer), else the network's own for its own
 * default layers, else 1 for each content layer and the preset's w_l for each style layer.
 * α: the option, else 1 for scale-free terms, else the preset's. β: the option, else the
 * strength's (losses/strength.ts; default strength 0.5).
 * @param texture no content image: no content terms (the content layer options are still validated)
 * @param smallestSide the smallest side (px) of the output and style images: the network's own
 *        default style layers that need more are dropped, with `notice` told which.
 * @throws OptionError for unknown or repeated layers and lists of the wrong length;
 *         GraphBuildError (from the network) for unknown layer names.
 */
export function objectiveSpec(
  o: StylizeOptions, preset: Preset, net: FeatureNet, size: { width: number; height: number },
  smallestSide = Infinity, notice: (m: string) => void = () => {}, texture = false,
): ObjectiveSpec {
  const normalised = wantsAutoNormalise(o, preset, net);
  const own = net.defaults;
  const content = contentUnit(preset.content);
  const style = STYLE_LOSSES[o.styleLoss](preset);

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
  /** Names and weights of one role's layers; validated against the network. */
  const layers = (
    what: 'content' | 'style', given: readonly string[] | undefined, weights: readonly number[] | undefined,
    ownList: readonly { layer: string; weight: number }[] | undefined, presetLayers: readonly string[], presetWeight: (layer: string) => number,
  ) => {
    const names = given ?? ownList?.map((l) => l.layer) ?? presetLayers;
    net.checkLayers(names);
    const repeated = names.filter((n, i) => names.indexOf(n) !== i);
    if (repeated.length) throw new OptionError(`invalid --${what}-layers: ${repeated.join(', ')} named more than once; name each layer once`);
    if (weights && weights.length !== names.length) {
      throw new OptionError(`invalid --${what}-layer-weights: expected ${names.length} weights, one per layer of ${names.join(', ')}; received ${weights.length}`);
    }
    return names.map((layer, i) => ({ layer, weight: weights?.[i] ?? (!given && ownList ? ownList[i]!.weight : presetWeight(layer)) }));
  };
  const contentLayers = layers('content', o.contentLayers, o.contentLayerWeights, own?.content, preset.contentLayers, () => 1);
  const styleLayers = layers('style', o.styleLayers, o.styleLayerWeights, own ? ownStyle : undefined, preset.styleLayers, (l) => preset.styleLayerWeight(net.channels(l)));
  return {
    net,
    width: size.width,
    height: size.height,
    content: texture ? [] : contentLayers.map(({ layer, weight }): TermSpec => ({ unit: content, layer, weight })),
    style: styleLayers.map(({ layer, weight }): TermSpec => ({ unit: style, layer, weight })),
    alpha: o.contentWeight ?? (normalised ? 1 : preset.alpha),
    beta: o.styleWeight ?? styleWeightOf(o.strength ?? DEFAULT_STRENGTH, net.family, normalised, preset.beta),
    gamma: o.tvWeight ?? preset.gamma,
    tv: o.tv ?? preset.tv,
  };
}

/** A mask file as a guide in [0, 1] (its BT.601 luma / 255) at width × height. @throws ImageError, OptionError */
async function maskGuide(file: string, width: number, height: number, what: string): Promise<Guide> {
  const img = await readImage(file);
  const n = img.width * img.height;
  const data = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    data[i] = (0.299 * img.data[3 * i]! + 0.587 * img.data[3 * i + 1]! + 0.114 * img.data[3 * i + 2]!) / 255;
    max = Math.max(max, data[i]!);
  }
  if (max === 0) throw new OptionError(`${what} ${file} is all black: it marks no region; white marks where the style applies`);
  return resizeGuide({ data, width: img.width, height: img.height }, width, height);
}

/**
 * Spatial control: each style term becomes one guided term per style image k (region k), fed by
 * that image alone, with the content mask k at the output's layer size and the style mask k (or
 * the whole image) at the style image's (guides.ts, guided-gram.ts).
 * A term whose region is empty at its layer is left out (with a notice).
 * @throws OptionError for masks of the wrong count, a blank mask, a region empty at every layer,
 *         another style loss or a blend.
 */
async function guidedTerms(
  o: StylizeOptions, preset: Preset, net: FeatureNet, terms: readonly TermSpec[],
  size: { width: number; height: number }, styleSizes: readonly { width: number; height: number }[], notice: (m: string) => void,
): Promise<TermSpec[]> {
  const masks = o.contentMasks!;
  const count = styleSizes.length;
  if (masks.length !== count) throw new OptionError(`invalid --content-masks: expected ${count} mask${count > 1 ? 's' : ''}, one per style image; received ${masks.length}`);
  if (o.styleMasks && o.styleMasks.length !== count) throw new OptionError(`invalid --style-masks: expected ${count} mask${count > 1 ? 's' : ''}, one per style image; received ${o.styleMasks.length}`);
  if (o.styleLoss !== 'gram') throw new OptionError(`masks need the Gram style loss (guided Gram matrices); received --style-loss ${o.styleLoss}`);
  if (o.styleBlend) throw new OptionError('masks and --style-blend exclude each other: with masks each style image has its own region');
  const content = await Promise.all(masks.map(async (m) => erode(await maskGuide(m, size.width, size.height, 'content mask'), o.guideErode)));
  const style = await Promise.all(styleSizes.map(async (s, k) => (o.styleMasks
    ? erode(await maskGuide(o.styleMasks[k]!, s.width, s.height, 'style mask'), o.guideErode)
    : { data: new Float32Array(s.width * s.height).fill(1), width: s.width, height: s.height })));
  const at = (g: Guide, layer: string, what: string) => {
    const [h, w] = net.featureSize(layer, g.height, g.width);
    return normaliseGuide(propagateGuide(g, net.guideSteps(layer), o.guidePropagation, [h, w]), `${what} at ${layer}`);
  };
  // A region can vanish at a deep layer (no receptive field fits inside it): that term is left
  // out, with a notice; a region that vanishes at every layer is an error.
  const out: TermSpec[] = [];
  const dropped: string[] = [];
  const kept = new Set<number>();
  let lastError: Error | null = null;
  for (const term of terms) {
    for (const [k, c] of content.entries()) {
      try {
        const unit = guidedGram(preset.gram, at(style[k]!, term.layer, `the style mask of style image ${k + 1}`), at(c, term.layer, `the region of content mask ${k + 1} (${masks[k]})`));
        out.push({ unit, layer: term.layer, weight: term.weight, region: k, sources: [k] });
        kept.add(k);
      } catch (err) {
        if (!(err instanceof OptionError)) throw err;
        lastError = err;
        dropped.push(`${term.layer}@${k}`);
      }
    }
  }
  for (let k = 0; k < count; k++) if (!kept.has(k)) throw lastError ?? new OptionError(`content mask ${k + 1} marks no region`);
  if (dropped.length) notice(`no neuron lies wholly inside a region at ${dropped.join(', ')} (--guide-propagation ${o.guidePropagation}); those terms are left out`);
  return out;
}

/** Options that need a content image, refused for a texture. @throws OptionError */
function checkTextureOptions(o: StylizeOptions, given: Partial<StylizeOptions>): void {
  const bad = (['luminanceOnly', 'colorMatch', 'originalColors', 'contentLayers', 'contentLayerWeights', 'contentWeight'] as const)
    .filter((k) => given[k] !== undefined && given[k] !== false);
  if (bad.length) throw new OptionError(`a texture has no content image, so ${bad.join(', ')} cannot apply; leave ${bad.length > 1 ? 'them' : 'it'} out`);
  if (o.init === 'content' && given.init !== undefined) throw new OptionError("a texture has no content image to start from: use --init noise (the default), style or an image file");
}

/** A texture's size: width × height if both are given, else the first style image's aspect ratio at that width, height or --size. */
export function textureSize(style: { width: number; height: number }, o: Pick<StylizeOptions, 'size' | 'area' | 'width' | 'height'>): { width: number; height: number } {
  if (o.width !== undefined && o.height !== undefined) return { width: o.width, height: o.height };
  if (o.width !== undefined) return { width: o.width, height: Math.max(1, Math.round((o.width * style.height) / style.width)) };
  if (o.height !== undefined) return { width: Math.max(1, Math.round((o.height * style.width) / style.height)), height: o.height };
  return sizeOf(style, o);
}

/**
 * A tileable texture's size: each side a multiple of 2^pools (the network's `minSide` for all its
 * layers), so that every pooling halves a wrapped image exactly; rounded down, with a notice.
 */
function tileableSize(size: { width: number; height: number }, net: FeatureNet, notice: (m: string) => void): { width: number; height: number } {
  const m = net.minSide(net.layers);
  const out = { width: Math.max(m, Math.floor(size.width / m) * m), height: Math.max(m, Math.floor(size.height / m) * m) };
  if (out.width !== size.width || out.height !== size.height) notice(`a tileable texture needs sides that are multiples of ${m} px (every pooling halves it exactly): ${size.width}×${size.height} becomes ${out.width}×${out.height}`);
  return out;
}

/** Engine session options from the stylisation options; threads at most the cores available. */
export function sessionOptions(o: StylizeOptions): { threads?: number; executionProviders: string[] } {
  const threads = o.threads === undefined ? undefined : Math.min(o.threads, os.availableParallelism());
  return { threads, executionProviders: o.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'] };
}

/** All input images (decoded at once, before resizing) may hold at most this many pixels in all. */
export const MAX_TOTAL_INPUT_PIXELS = 200_000_000;

/** An image input's size without decoding it (a file's header, or the given image). */
async function inputSize(input: ImageInput, what: string): Promise<{ width: number; height: number }> {
  checkImageInput(input, what);
  return typeof input === 'string' ? imageSize(input) : { width: input.width, height: input.height };
}

/**
 * Library boundary: an image input is a non-empty path or an RgbImage whose `data` is a Uint8Array
 * of 3·width·height bytes. @throws OptionError naming the argument.
 */
export function checkImageInput(input: unknown, what: string): asserts input is ImageInput {
  if (typeof input === 'string') {
    if (input === '') throw new OptionError(`invalid ${what}: expected an image path or decoded RGB image, received an empty string`);
    return;
  }
  const img = input as Partial<RgbImage> | null | undefined;
  const ok = !!img && typeof img === 'object' && img.data instanceof Uint8Array && Number.isInteger(img.width) && Number.isInteger(img.height)
    && img.width! > 0 && img.height! > 0 && img.data.length === 3 * img.width! * img.height!;
  if (!ok) {
    const got = img === null || img === undefined ? String(img) : typeof img !== 'object' ? typeof img
      : `{data: ${(img.data as object | undefined)?.constructor?.name ?? typeof img.data} of length ${(img.data as { length?: number } | undefined)?.length}, width: ${img.width}, height: ${img.height}}`;
    throw new OptionError(`invalid ${what}: expected an image path or an RgbImage {data: Uint8Array of 3·width·height bytes, width, height}, received ${got}`);
  }
}

/**
 * Auto-normalisation applies when asked, else by default for the `impasto` preset and for a
 * network that asks for it (the offline one), unless layer weights are given.
 */
export function wantsAutoNormalise(o: StylizeOptions, preset: Preset, net: FeatureNet): boolean {
  return o.autoNormalise ?? ((preset.autoNormalise || Boolean(net.defaults?.autoNormalise)) && !o.styleLayerWeights && !o.contentLayerWeights);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new DOMException('the set-up was aborted', 'AbortError');
}

// --- the set-up --------------------------------------------------------------------------------

/**
 * What every problem of one run shares, whatever its size: the validated options, the decoded
 * images at their own sizes, the network and the engine. Made once by {@link prepareSetup}; each
 * scale (and `score`) then makes its problem with {@link problemAt}.
 */
export interface Setup {
  readonly options: StylizeOptions;
  /** The options as given (validated), to tell given from defaulted. */
  readonly given: Partial<StylizeOptions>;
  readonly preset: Preset;
  readonly net: FeatureNet;
  /** The photo as decoded; null for a texture. */
  readonly content: RgbImage | null;
  /** The style images as decoded, with their blend weights b_k (summing to 1). */
  readonly styles: readonly { image: RgbImage; weight: number }[];
  /** The final output size (for a tileable texture, already a multiple of the network's stride). */
  readonly size: { width: number; height: number };
  readonly engine: Engine;
  readonly sessionOptions: SessionOptions;
  /** The layers of the final objective (content and style), which every scale must hold. */
  readonly layers: readonly string[];
  /** The objective at the final size, without targets (for planning: its terms and network). */
  readonly spec: ObjectiveSpec;
  readonly notice: (m: string) => void;
  readonly stage: (s: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Validates the request, reads the image headers (the pixel budget is checked before anything is
 * decoded), decodes the images and loads the network.
 * @param outputSize the generated image's size; default: the content image's, sized by the
 *        options (`size` or `area`). `score` passes the scored image's size.
 * @throws OptionError, ImageError, WeightFormatError or GraphBuildError with a message that says
 *         what was expected, what was received and what to do.
 */
export async function prepareSetup(request: ProblemRequest, control: SetupControl = {}, outputSize?: { width: number; height: number }): Promise<Setup> {
  checkRequest(request, 'the request');
  const { content: contentInput, style: styleInput, ...rest } = request;
  const o = validateOptions(rest);
  const notice = control.onNotice ?? (() => {});
  const stage = control.onStage ?? (() => {});
  const preset = getPreset(o.preset);
  const styleInputs = Array.isArray(styleInput) ? styleInput : [styleInput];
  const blend = blendWeights(o, styleInputs.length);
  if (o.threads !== undefined && o.threads > os.availableParallelism()) {
    notice(`--threads ${o.threads} is more than the ${os.availableParallelism()} cores available; using ${os.availableParallelism()}`);
  }

  // size, from the headers alone; the pixel budget before anything is decoded
  checkAborted(control.signal);
  const texture = contentInput === null;
  if (texture) checkTextureOptions(o, rest);
  else if (o.tileable || o.width !== undefined || o.height !== undefined) {
    throw new OptionError(`${o.tileable ? 'tileable applies' : 'width and height apply'} to textures only (no content image), but a content image was given; use 'impasto texture <style...>' for a texture`);
  }
  const contentDims = contentInput === null ? null : await inputSize(contentInput, 'content');
  const styleDims: { width: number; height: number }[] = [];
  for (const [i, s] of styleInputs.entries()) styleDims.push(await inputSize(s, styleInputs.length > 1 ? `style[${i}]` : 'style'));
  const totalPixels = [...(contentDims ? [contentDims] : []), ...styleDims].reduce((a, d) => a + d.width * d.height, 0);
  if (totalPixels > MAX_TOTAL_INPUT_PIXELS) {
    throw new OptionError(`the input images hold ${(totalPixels / 1e6).toFixed(0)} Mpx in all, more than the ${MAX_TOTAL_INPUT_PIXELS / 1e6} Mpx decoded per problem; downscale them first (the working sizes are set by --size anyway)`);
  }
  let size = outputSize ?? (contentDims ? sizeOf(contentDims, o) : textureSize(styleDims[0]!, o));

  // network, and the final objective's layers (validated here, once)
  checkAborted(control.signal);
  stage('loading the network');
  const net = control.net ?? (await networkFor(o, preset, notice, control.weights));
  if (o.tileable) size = tileableSize(size, net, notice);
  const styleSizes = styleDims.map((s) => styleSize(s, size, o));
  const smallest = Math.min(size.width, size.height, ...styleSizes.map((s) => Math.min(s.width, s.height)));
  const spec = { ...objectiveSpec(o, preset, net, size, smallest, () => {}, texture), circular: o.tileable };
  const layers = [...spec.content, ...spec.style].map((l) => l.layer);
  // the plan (memory) before anything is decoded
  control.beforeDecode?.(spec, net, o, rest);

  // load, one image at a time
  checkAborted(control.signal);
  stage(`reading ${(texture ? 0 : 1) + styleInputs.length} images`);
  const content = contentInput === null ? null : await loadInput(contentInput);
  const styles: { image: RgbImage; weight: number }[] = [];
  for (const [i, s] of styleInputs.entries()) styles.push({ image: await loadInput(s), weight: blend[i]! });
  const engine = control.engine ?? (await resolveEngine(o.engine));
  return {
    options: o, given: rest, preset, net, content, styles, size, engine, sessionOptions: sessionOptions(o), layers, spec,
    notice, stage, signal: control.signal,
  };
}

/** A video frame's temporal terms (losses/temporal.ts), given to {@link problemAt}. */
export interface TemporalRequest {
  /** `--temporal-weight` T (temporal.ts `temporalWeights` makes λ_t of it); undefined: its default. */
  readonly weight?: number;
  /** One target per frame offset j (ω and c at this problem's size). */
  readonly terms: readonly { readonly offset: number; readonly target: TemporalTarget }[];
}

/**
 * The problem of one run at one output size (the final size, or a coarser scale of it): the
 * content resampled from the original to `size`, the style images to `styleScale` × its longest
 * side, the objective, the colour stage, the targets (re-extracted at this size), the
 * normalisation and the graph. With `tiles`, the objective is evaluated in blocks (tiled.ts).
 * With `temporal` (a video frame), the temporal terms join the objective after the normalisation,
 * λ_t set from its final content weights.
 * @throws OptionError when a layer needs more pixels than `size` or a style image has, or when
 *         temporal terms would need blocks.
 */
export async function problemAt(setup: Setup, size: { width: number; height: number }, tiles: TileLayout | null = null, quiet = false, temporal?: TemporalRequest): Promise<PreparedProblem> {
  const { options: o, preset, net, notice: tell, stage } = setup;
  const notice = quiet ? () => {} : tell;
  const texture = setup.content === null;
  const styleSizes = setup.styles.map((s) => styleSize(s.image, size, o));
  const smallest = Math.min(size.width, size.height, ...styleSizes.map((s) => Math.min(s.width, s.height)));
  const unguided = { ...objectiveSpec(o, preset, net, size, smallest, notice, texture), circular: o.tileable };
  const spec = o.contentMasks ? { ...unguided, style: await guidedTerms(o, preset, net, unguided.style, size, styleSizes, notice) } : unguided;
  const layerList = [...spec.content, ...spec.style].map((l) => l.layer);
  const minSide = net.minSide(layerList);
  for (const [what, s] of [['output', size] as const, ...styleSizes.map((s) => ['style image', s] as const)]) {
    if (s.width < minSide || s.height < minSide) {
      throw new OptionError(`the ${what} would be ${s.width}×${s.height} px, but layers ${layerList.join(', ')} need at least ${minSide}×${minSide}; use a larger --size (or --min-size) or an image of a less extreme aspect ratio`);
    }
  }
  const content = setup.content ? toPlanar(await resizeImage(setup.content, size.width, size.height)) : null;
  const sized = await Promise.all(setup.styles.map(async (s, i) => ({ image: toPlanar(await resizeImage(s.image, styleSizes[i]!.width, styleSizes[i]!.height)), weight: s.weight })));
  // colour: the style images matched to the content (Gatys et al. 2017 §5), before their targets
  const styles = sized.map((s) => ({
    ...s, image: !content ? s.image : o.luminanceOnly ? matchLuminance(s.image, content) : o.colorMatch ? matchColour(s.image, content, o.colorMatch) : s.image,
  }));

  // targets, normalisation, graph and session
  checkAborted(setup.signal);
  const { engine, sessionOptions: sessionOpts } = setup;
  const normalised = wantsAutoNormalise(o, preset, net);
  let problem: Problem;
  let objective: ObjectiveSpec;
  if (tiles && temporal?.terms.length) {
    throw new OptionError(`a video frame of ${size.width}×${size.height} px does not fit --max-memory whole, and the temporal loss is not evaluated in blocks; use a smaller --size or a larger --max-memory`);
  }
  if (tiles) {
    stage(`computing the targets in blocks (${size.width}×${size.height}, ${tiles.blocks.length} blocks of ${tiles.blockWidth}×${tiles.blockHeight})`);
    const t = await TiledProblem.create(engine, spec, content, styles, tiles, normalised, sessionOpts);
    problem = t;
    objective = t.objective;
  } else {
    stage(`computing the targets (${content ? `${size.width}×${size.height} content, ` : ''}${styles.length} style image${styles.length > 1 ? 's' : ''})`);
    const targeted = await computeTargets(engine, spec, content, styles, sessionOpts);
    const normalisedSpec = normalised ? autoNormalise(targeted) : targeted;
    const withWeights = temporal?.terms.length ? withTemporal(normalisedSpec, preset, normalised, temporal) : normalisedSpec;
    objective = withWeights;
    checkAborted(setup.signal);
    stage('building the objective graph');
    problem = await StyleProblem.create(engine, withWeights, sessionOpts);
  }
  return { options: o, preset, net, width: size.width, height: size.height, content, styles, objective, autoNormalised: normalised, problem };
}

/** The objective with the temporal terms of `temporal`, λ_t from its final content weights or (scale-free) each term's own scale. */
function withTemporal<T extends ObjectiveSpec>(spec: T, preset: Preset, scaleFree: boolean, temporal: TemporalRequest): T {
  const content = spec.content.map((term) => ({ weight: term.weight, ...geometryOf(spec, term.layer) }));
  const weights = temporalWeights(temporal.weight, scaleFree, spec.alpha, preset.content, content, temporal.terms.map((t) => t.target));
  return { ...spec, temporal: temporal.terms.map((t, k) => ({ offset: t.offset, weight: weights[k]!, target: t.target })) };
}

/**
 * Sets up one problem at one size: {@link prepareSetup} then {@link problemAt}, whole when it fits
 * the memory budget (`maxMemory`) and `tileSize` is not given, else in blocks (plan.ts).
 * @param outputSize as for {@link prepareSetup}.
 * @throws OptionError when it cannot fit, with the largest size that does.
 */
export async function prepareProblem(
  request: ProblemRequest, control: SetupControl = {}, outputSize?: { width: number; height: number },
): Promise<PreparedProblem> {
  let plan: ReturnType<typeof planProblem> | null = null;
  const setup = await prepareSetup(request, {
    ...control,
    beforeDecode: (spec, _net, o) => {
      plan = planProblem(spec, workPerPixel(spec), { width: spec.width, height: spec.height }, o, o.history, memoryBudget(o));
    },
  }, outputSize);
  return problemAt(setup, setup.size, plan!.tiles);
}
