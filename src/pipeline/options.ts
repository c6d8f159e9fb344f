/**
 * The options of a stylisation, defined once: name, type, default, documentation and validation.
 * The CLI's flags and help text are derived from this table (flag = kebab-case of the key), and
 * `validateOptions` is what both the CLI and the library call.
 *
 * Defaults marked "preset" come from the chosen preset (presets.ts) when not given.
 */
import { OptionError } from '../errors.js';
import { PRESET_NAMES, PRESETS } from '../losses/presets.js';
import { STYLE_LOSSES, type StyleLossName } from '../losses/registry.js';
import type { TvForm } from '../losses/tv.js';
import type { Pooling } from '../networks/vgg.js';
import { LBFGS_DEFAULTS } from '../optimizers/lbfgs.js';
import { ADAM_DEFAULTS } from '../optimizers/adam.js';

export { OptionError } from '../errors.js';

/** Steps per scale by default: coarse-to-fine at √2 from 128 px to 512 px took 0.34–0.44 of the time of single-scale at 300 evaluations (bench/scales.ts, README). */
export const DEFAULT_ITERATIONS = 50;
/** Iterate averaging off by default: with L-BFGS, decay 0.9 ended 0.1–0.9 % and 0.99 ended 1.9–5.9 % higher (bench/scales.ts, README). */
export const DEFAULT_AVERAGE = 0;
/** The tolerance stop, off by default: on the offline network 1e-3 and 3e-3 never fired in 50 steps a scale and 1e-2 saved 30 % of the evaluations for 0.4 % more loss; on VGG-19 none fired (bench/scales.ts, README). */
export const DEFAULT_TOLERANCE = 0;
/** Adam's moments across scales: reset, as crowsonkb's fresh optimiser per scale; resized moments ended 71 % (offline) and 5.6 % (VGG-19) higher at 512 px (bench/scales.ts, README). */
export const DEFAULT_ADAM_MOMENTS = 'reset';

/** Options of {@link stylize}, all validated. Images are paths or decoded RGB images. */
export interface StylizeOptions {
  /**
   * VGG weight file, recognised by its first bytes: safetensors, PyTorch .pth (legacy or zip),
   * Keras .h5, Caffe .caffemodel or ONNX; default: see `network`.
   */
  weights?: string;
  /**
   * Network when no weight file is given: `auto` (a cached pretrained VGG-19 if there is one, else
   * the offline network), `offline` (the untrained multi-scale network, the embedded default) or
   * `random-vgg19` / `random-vgg16` (VGG with seeded random weights).
   */
  network: 'auto' | 'offline' | 'random-vgg19' | 'random-vgg16';
  /** Scale-free per-layer weights (`autoNormalise` in losses/objective.ts: each weight divided by its term at zero features); default: on for the `impasto` preset and the offline network, unless layer weights are given. */
  autoNormalise?: boolean;
  /** A preset name or alias (presets.ts). */
  preset: string;
  /** Pooling between VGG blocks; default: the preset's. */
  pooling?: Pooling;
  /** The style loss (registry.ts); the preset's Gram normalisation applies to `gram` only. */
  styleLoss: StyleLossName;
  optimizer: 'lbfgs' | 'adam';
  lineSearch: 'strong-wolfe' | 'fixed';
  /** L-BFGS correction pairs. */
  history: number;
  /** Adam step size in 0–255 pixel units. */
  learningRate: number;
  /** Optimiser iterations (steps) at each scale; the progress bar, the events and the result count steps. */
  iterations: number;
  /** Objective evaluations at most per scale (a line search may take several per iteration); default ⌈1.25·iterations⌉ + 20. */
  maxEvaluations?: number;
  /** Coarse-to-fine: the first scale's longest side in px; the scales grow by `scaleFactor` up to `size`. `minSize` ≥ `size`: one scale. */
  minSize: number;
  /** The ratio between successive scales' longest sides (> 1). */
  scaleFactor: number;
  /** Iterate averaging: the decay of a bias-corrected exponential average of the iterates, restarted at each scale; the average is the output and the next scale's start. 0: off. */
  average: number;
  /** Convergence stop, per scale: stop when the loss fell by less than this fraction over the last 10 steps. 0: off. */
  tolerance: number;
  /** Adam's moments across a scale change: `reset` (start afresh) or `resize` (resampled to the new size, the step count kept). */
  adamMoments: 'reset' | 'resize';
  /** Save the run's state to this file every `checkpointEvery` evaluations and when interrupted. */
  checkpoint?: string;
  checkpointEvery: number;
  /** Continue the run saved in this checkpoint (same inputs and options). */
  resume?: string;
  /** Evaluate the objective in blocks of at most this many px a side (default: only when the whole image would not fit in `maxMemory`, in blocks as large as fit). */
  tileSize?: number;
  /** Keep pixels in 0–255 during the optimisation: `project` (projected L-BFGS), `clamp` (clamp each trial point) or `none`. */
  bounds: 'project' | 'clamp' | 'none';
  /** Output size: longest side in px (ignored when `area` is set). */
  size: number;
  /** Output size by pixel area instead (Gatys's rule), in px. */
  area?: number;
  /** Textures only (no content image): the output's width and height in px; one alone keeps the first style image's aspect ratio. */
  width?: number;
  height?: number;
  /** Textures only: the output tiles seamlessly (circular padding in the network, seams in the TV term). */
  tileable: boolean;
  /** Style images are sized to `styleScale` × the output's longest side (or area). */
  styleScale: number;
  /** Blend weights of the style images (normalised to sum 1); default equal. */
  styleBlend?: number[];
  init: string;
  seed: number;
  contentLayers?: string[];
  contentLayerWeights?: number[];
  styleLayers?: string[];
  styleLayerWeights?: number[];
  /** α, β, γ: default from the preset (β: from `strength`). */
  contentWeight?: number;
  styleWeight?: number;
  /** Style strength in [0, 1], mapped to β per network and preset (losses/strength.ts); not with `styleWeight`. */
  strength?: number;
  tvWeight?: number;
  tv?: TvForm;
  originalColors: boolean;
  /** Optimise on luminance (Gatys et al. 2017 §5.1): the network sees Y; the output takes the content's chroma. */
  luminanceOnly: boolean;
  /** Match the style images' RGB mean and covariance to the content's before transfer (Gatys et al. 2017 §5.2). */
  colorMatch?: 'chol' | 'pca' | 'sym';
  /** Spatial control (Gatys et al. 2017 §4): one greyscale mask per style image, where in the output that style applies. */
  contentMasks?: string[];
  /** One greyscale mask per style image, which region of it supplies its statistics (default: all of it). */
  styleMasks?: string[];
  /** How masks reach each layer (losses/guides.ts). */
  guidePropagation: 'simple' | 'all' | 'inside';
  /** Dilate (> 0) or erode (< 0) the masks by this many px before propagation. */
  guideErode: number;
  /** Emit the current image with every Nth iteration event (0: never). */
  imageEvery: number;
  /** Intra-op threads (default, and at most: all cores). */
  threads?: number;
  /** Memory budget in GB for the predicted peak (memory.ts; default: the available memory less 10 % of the machine). */
  maxMemory?: number;
  /** ONNX Runtime execution provider: `cpu`, or `cuda` (falls back to CPU for unsupported ops). */
  executionProvider: 'cpu' | 'cuda';
  /** Engine: `node` (onnxruntime-node) or `web` (onnxruntime-web's wasm build; 4–5× slower). */
  engine: 'node' | 'web';
}

/** Options of a stylisation that do not apply to a score (it measures the image as it is, at its own size). */
export const NOT_FOR_SCORE = ['size', 'area', 'width', 'height', 'tileable', 'iterations', 'maxEvaluations', 'optimizer', 'lineSearch', 'history', 'learningRate', 'init', 'bounds', 'originalColors', 'imageEvery', 'minSize', 'scaleFactor', 'average', 'tolerance', 'adamMoments', 'checkpoint', 'checkpointEvery', 'resume'] as const;

type Kind = 'number' | 'int' | 'string' | 'boolean' | 'numbers' | 'strings';

/** One option's definition. */
export interface OptionDef {
  readonly key: keyof StylizeOptions;
  readonly kind: Kind;
  readonly doc: string;
  /** Default, or a text such as 'preset' for defaults resolved later. */
  readonly default?: unknown;
  readonly defaultText?: string;
  readonly choices?: readonly string[];
  /** Lower bound (inclusive unless `exclusiveMin`). */
  readonly min?: number;
  readonly exclusiveMin?: boolean;
  readonly max?: number;
  /** The unit of a number, named in its messages ('GB': `--max-memory 4`, not `4GB`). */
  readonly unit?: string;
  /** false: a library option only, not a CLI flag (e.g. `imageEvery`: the CLI has no use for images in events). */
  readonly cli?: false;
  /**
   * Why a remote request (the web API, a queued job) may not set this option: it names a file on
   * the machine that runs the job, or it is the operator's to choose (threads, memory, engine).
   * Absent: remote requests may set it.
   */
  readonly local?: string;
}

export const OPTION_DEFS: readonly OptionDef[] = [
  { key: 'weights', kind: 'string', doc: 'VGG weight file: safetensors, PyTorch .pth, Keras .h5, Caffe .caffemodel or ONNX', defaultText: 'none: --network', local: 'a path on the machine that runs the job' },
  { key: 'network', kind: 'string', doc: "network without --weights: auto (a cached VGG-19, else offline), the untrained offline network, or VGG with seeded random weights", default: 'auto', choices: ['auto', 'offline', 'random-vgg19', 'random-vgg16'] },
  { key: 'autoNormalise', kind: 'boolean', doc: 'scale-free per-layer weights, each divided by its term at zero features (He et al. 2016)', defaultText: 'preset impasto and the offline network: on' },
  { key: 'preset', kind: 'string', doc: "loss normalisation, pooling and default weights: impasto (the paper's terms, scale-free layer weights) or a reference tool's (see 'impasto presets')", default: 'impasto', choices: PRESET_NAMES },
  { key: 'styleLoss', kind: 'string', doc: "style statistic: gram (the paper's), mean-std (per-channel mean and deviation), w2 (Wasserstein-2 distance of Gaussian fits, crowsonkb's)", default: 'gram', choices: Object.keys(STYLE_LOSSES) },
  { key: 'pooling', kind: 'string', doc: 'pooling between VGG blocks (the paper prefers avg; the reference tools use max)', defaultText: `preset (${Object.values(PRESETS).map((p) => `${p.name} ${p.pooling}`).join(', ')})`, choices: ['max', 'avg'] },
  { key: 'optimizer', kind: 'string', doc: 'optimiser', default: 'lbfgs', choices: ['lbfgs', 'adam'] },
  { key: 'lineSearch', kind: 'string', doc: "L-BFGS line search: 'strong-wolfe' or Torch's fixed unit step", default: LBFGS_DEFAULTS.lineSearch, choices: ['strong-wolfe', 'fixed'] },
  { key: 'history', kind: 'int', doc: 'L-BFGS correction pairs kept (memory: 2·history·3·H·W floats)', default: LBFGS_DEFAULTS.history, min: 1, max: 1000 },
  { key: 'learningRate', kind: 'number', doc: 'Adam step size in 0–255 pixel units', default: ADAM_DEFAULTS.lr, min: 0, exclusiveMin: true },
  { key: 'iterations', kind: 'int', doc: 'optimiser iterations (steps) at each scale; the bar, the events and the result count these', default: DEFAULT_ITERATIONS, min: 1, max: 1_000_000 },
  { key: 'maxEvaluations', kind: 'int', doc: 'objective evaluations at most, per scale (forward+backward passes; a line search may take several per iteration)', defaultText: '⌈1.25·iterations⌉ + 20', min: 1, max: 10_000_000 },
  { key: 'minSize', kind: 'int', doc: 'coarse-to-fine: the first scale\'s longest side in px, growing by --scale-factor up to --size (--min-size ≥ --size: one scale)', default: 128, min: 16, max: 16384 },
  { key: 'scaleFactor', kind: 'number', doc: 'coarse-to-fine: ratio of successive scales\' longest sides', default: Math.SQRT2, defaultText: '√2', min: 1, exclusiveMin: true, max: 4 },
  { key: 'average', kind: 'number', doc: 'iterate averaging: decay of a bias-corrected moving average of the iterates per scale, which is the output (0: off; crowsonkb: 0.99)', default: DEFAULT_AVERAGE, min: 0, max: 0.9999 },
  { key: 'tolerance', kind: 'number', doc: 'stop a scale when the loss fell by less than this fraction over its last 10 steps (0: off)', default: DEFAULT_TOLERANCE, min: 0, max: 1 },
  { key: 'adamMoments', kind: 'string', doc: "Adam across scales: reset its moments, or resize them to the new scale", default: DEFAULT_ADAM_MOMENTS, choices: ['reset', 'resize'] },
  { key: 'checkpoint', kind: 'string', doc: 'save the run to FILE every --checkpoint-every evaluations and when interrupted (atomically)', local: 'a path on the machine that runs the job' },
  { key: 'checkpointEvery', kind: 'int', doc: 'evaluations between checkpoints', default: 50, min: 1, max: 10_000_000, local: 'goes with checkpoint' },
  { key: 'resume', kind: 'string', doc: 'continue the run saved in FILE (same images and options), to the result the uninterrupted run gives', local: 'a path on the machine that runs the job' },
  { key: 'tileSize', kind: 'int', doc: 'evaluate in blocks of at most PX a side, with exact global statistics', defaultText: 'blocks only when the image does not fit in --max-memory', min: 64, max: 16384 },
  { key: 'bounds', kind: 'string', doc: 'keep pixels in 0–255 while optimising: project (projected L-BFGS; Adam clamps each step), clamp (clamp each trial point), none', default: 'project', choices: ['project', 'clamp', 'none'] },
  { key: 'size', kind: 'int', doc: 'output size: longest side in px', default: 384, min: 16, max: 16384 },
  { key: 'area', kind: 'int', doc: 'output size by pixel area instead of longest side (Gatys: 512·512)', min: 256, max: 268_435_456 },
  { key: 'width', kind: 'int', doc: "texture: the output's width in px (with --height; alone, the first style image's aspect ratio)", min: 16, max: 16384 },
  { key: 'height', kind: 'int', doc: "texture: the output's height in px", min: 16, max: 16384 },
  { key: 'tileable', kind: 'boolean', doc: 'texture: make it tile seamlessly, left to right and top to bottom (circular padding in the network)', default: false },
  { key: 'styleScale', kind: 'number', doc: 'style image size relative to the output', default: 1, min: 0, exclusiveMin: true, max: 8 },
  { key: 'styleBlend', kind: 'numbers', doc: 'blend weights of several style images (normalised to sum 1)', defaultText: 'equal' },
  { key: 'init', kind: 'string', doc: "starting image: 'content', 'noise' (seeded), 'style', or an image file", default: 'content' },
  { key: 'seed', kind: 'int', doc: 'seed for the noise init and the untrained network', default: 0, min: 0, max: 2 ** 32 - 1 },
  { key: 'contentLayers', kind: 'strings', doc: 'content layers, e.g. relu4_2', defaultText: 'preset' },
  { key: 'contentLayerWeights', kind: 'numbers', doc: 'per-content-layer weights u_c', defaultText: '1 each' },
  { key: 'styleLayers', kind: 'strings', doc: 'style layers, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1', defaultText: 'preset' },
  { key: 'styleLayerWeights', kind: 'numbers', doc: 'per-style-layer weights w_l', defaultText: 'preset' },
  { key: 'contentWeight', kind: 'number', doc: 'α, weight of the content loss', defaultText: 'preset', min: 0 },
  { key: 'styleWeight', kind: 'number', doc: 'β, weight of the style loss (instead of --strength)', defaultText: 'from --strength', min: 0 },
  { key: 'strength', kind: 'number', doc: 'style strength, 0 (the photo) to 1 (the most style), mapped to β per network and preset', defaultText: '0.5', min: 0, max: 1 },
  { key: 'tvWeight', kind: 'number', doc: 'γ, weight of the total-variation loss', defaultText: 'preset', min: 0 },
  { key: 'tv', kind: 'string', doc: 'total-variation form', defaultText: 'preset', choices: ['l2', 'l1'] },
  { key: 'originalColors', kind: 'boolean', doc: "keep the content image's colours (luminance transfer after optimising)", default: false },
  { key: 'luminanceOnly', kind: 'boolean', doc: "transfer style in luminance only: the network sees Y (BT.601), the style's Y is matched to the content's mean and deviation, the output keeps the content's chroma (Gatys et al. 2017)", default: false },
  { key: 'contentMasks', kind: 'strings', doc: 'one greyscale mask per style image: where in the output that style applies (white = there)', defaultText: 'none', local: 'a path on the machine that runs the job' },
  { key: 'styleMasks', kind: 'strings', doc: 'one greyscale mask per style image: which region of it supplies its statistics', defaultText: 'the whole image', local: 'a path on the machine that runs the job' },
  { key: 'guidePropagation', kind: 'string', doc: "how masks reach each layer: simple (a zoom), all (neurons whose receptive field touches the region), inside (wholly inside it)", default: 'inside', choices: ['simple', 'all', 'inside'] },
  { key: 'guideErode', kind: 'int', doc: 'dilate (K > 0) or erode (K < 0) the masks by K px before propagation', default: 0, min: -64, max: 64 },
  { key: 'colorMatch', kind: 'string', doc: "before transfer, map each style image's RGB to the content's mean and covariance: chol (Cholesky), pca (symmetric square roots) or sym (the symmetric map)", choices: ['chol', 'pca', 'sym'] },
  { key: 'imageEvery', kind: 'int', doc: 'attach the current image to every Nth iteration event (0: never)', default: 0, min: 0, cli: false, local: "the server's to choose" },
  { key: 'threads', kind: 'int', doc: 'CPU threads for ONNX Runtime (more than the cores available is lowered to them)', defaultText: 'all cores', min: 1, max: 1024, local: "the server's to choose" },
  { key: 'maxMemory', kind: 'number', doc: "memory budget in GB: a larger problem is evaluated in blocks, or refused before any work with the largest size that fits (see 'impasto plan')", defaultText: 'available memory less 10 % of the machine', min: 0, exclusiveMin: true, max: 1e6, unit: 'GB', local: "the server's to choose" },
  { key: 'engine', kind: 'string', doc: 'ONNX Runtime package: node (native) or web (its WebAssembly build, slower; the browser engine)', default: 'node', choices: ['node', 'web'], local: "the server's to choose" },
  { key: 'executionProvider', kind: 'string', doc: "ONNX Runtime execution provider; 'cuda' needs onnxruntime-node's CUDA libraries", default: 'cpu', choices: ['cpu', 'cuda'], local: "the server's to choose" },
];

/** An option's CLI flag without the dashes: camelCase → kebab-case (`styleWeight` → `style-weight`). */
export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `init` values a remote request may give (a file name would reach the server's filesystem). */
export const REMOTE_INITS = ['content', 'noise', 'style'] as const;

/**
 * Checks the options of a remote request (the web API's `options` field, a queued job) before
 * {@link validateOptions}: a JSON object whose keys are option names a remote request may set
 * (no paths, nothing the operator decides) and whose `init` is not a file.
 * @throws OptionError naming the key and saying why
 */
export function checkRemoteOptions(given: unknown): asserts given is Partial<StylizeOptions> {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new OptionError(`invalid options: expected a JSON object of option names (see GET /api/options), received ${Array.isArray(given) ? 'an array' : given === null ? 'null' : typeof given}`);
  }
  for (const key of Object.keys(given)) {
    const def = OPTION_DEFS.find((d) => d.key === key);
    if (!def) continue; // validateOptions names unknown keys, with a suggestion
    if (def.local) throw new OptionError(`option ${key} cannot be set here: ${def.local}`);
  }
  const init = (given as { init?: unknown }).init;
  if (init !== undefined && !(REMOTE_INITS as readonly unknown[]).includes(init)) {
    throw new OptionError(`invalid init: expected one of ${REMOTE_INITS.map((v) => `'${v}'`).join(', ')} (an image file is a path on the server), received ${fmt(init)}`);
  }
}

/** One option as `GET /api/options` describes it: the table's entry, for a form. */
export interface OptionSchema {
  key: string;
  /** The CLI's flag, e.g. `--style-weight`. */
  flag: string;
  type: Kind;
  doc: string;
  default?: unknown;
  defaultText?: string;
  choices?: readonly string[];
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
}

/** The options a remote request may set, from {@link OPTION_DEFS}, with `init` narrowed to {@link REMOTE_INITS}. */
export function remoteOptionSchema(): OptionSchema[] {
  return OPTION_DEFS.filter((d) => !d.local).map((d) => ({
    key: d.key, flag: `--${flagOf(d.key)}`, type: d.kind, doc: d.doc,
    ...(d.default !== undefined ? { default: d.default } : {}), ...(d.defaultText ? { defaultText: d.defaultText } : {}),
    ...(d.key === 'init' ? { choices: REMOTE_INITS } : d.choices ? { choices: d.choices } : {}),
    ...(d.min !== undefined ? { min: d.min } : {}), ...(d.exclusiveMin ? { exclusiveMin: true } : {}), ...(d.max !== undefined ? { max: d.max } : {}),
  }));
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.map(fmt).join(', ')}]` : String(v);
}

function checkNumber(def: OptionDef, v: unknown, int: boolean, name: string): number {
  const what = `${int ? 'an integer' : 'a number'}${def.unit ? ` of ${def.unit}` : ''}${def.min !== undefined ? ` ${def.exclusiveMin ? '>' : '≥'} ${def.min}` : ''}${def.max !== undefined ? ` and ≤ ${def.max}` : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))
    || (def.min !== undefined && (def.exclusiveMin ? v <= def.min : v < def.min)) || (def.max !== undefined && v > def.max)) {
    throw new OptionError(`invalid ${name}: expected ${what}, received ${fmt(v)}`);
  }
  return v;
}

/**
 * Validates one value against its definition; returns it.
 * @param name how messages name the option: the key (library), or the CLI's `--flag`.
 * @throws OptionError
 */
export function validateOption(def: OptionDef, v: unknown, name: string = def.key): unknown {
  switch (def.kind) {
    case 'number':
      return checkNumber(def, v, false, name);
    case 'int':
      return checkNumber(def, v, true, name);
    case 'boolean':
      if (typeof v !== 'boolean') throw new OptionError(`invalid ${name}: expected true or false, received ${fmt(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string' || v === '') throw new OptionError(`invalid ${name}: expected a non-empty string, received ${fmt(v)}`);
      if (def.choices && !def.choices.includes(v)) throw new OptionError(`invalid ${name}: expected one of ${def.choices.join(', ')}, received ${fmt(v)}`);
      return v;
    case 'numbers':
      if (!Array.isArray(v) || v.length === 0) throw new OptionError(`invalid ${name}: expected a non-empty list of numbers ≥ 0, received ${fmt(v)}`);
      for (const x of v) {
        if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
          throw new OptionError(`invalid ${name}: expected numbers ≥ 0 (finite, not NaN), received ${fmt(x)} in ${fmt(v)}`);
        }
      }
      return v;
    case 'strings':
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x === '')) {
        throw new OptionError(`invalid ${name}: expected a non-empty list of names, received ${fmt(v)}`);
      }
      return v;
  }
}

/**
 * Fills defaults and validates every option on its own. The rules that need the network (layer
 * names, one weight per layer) are checked once, by the problem set-up (prepare.ts).
 * @throws OptionError for the first invalid or unknown option.
 */
export function validateOptions(input: Partial<StylizeOptions>): StylizeOptions {
  checkRequest(input, 'validateOptions', 'an options object');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!OPTION_DEFS.some((d) => d.key === key)) {
      throw new OptionError(`unknown option '${key}'; expected one of: ${OPTION_DEFS.map((d) => d.key).join(', ')}`);
    }
  }
  for (const def of OPTION_DEFS) {
    const v = (input as Record<string, unknown>)[def.key];
    if (v === undefined) {
      if (def.default !== undefined) out[def.key] = def.default;
      continue;
    }
    out[def.key] = validateOption(def, v);
  }
  if (out.luminanceOnly === true && out.colorMatch !== undefined) {
    throw new OptionError(`give either luminanceOnly (--luminance-only) or colorMatch (--color-match ${out.colorMatch}), not both: luminance-only transfer ignores the style's colours`);
  }
  // One way to give the output's size: the longest side, the area, or (a texture) width and height.
  const ways = [
    input.size !== undefined && `size ${input.size}`, input.area !== undefined && `area ${input.area}`,
    (input.width !== undefined || input.height !== undefined) && [input.width !== undefined && `width ${input.width}`, input.height !== undefined && `height ${input.height}`].filter(Boolean).join(', '),
  ].filter(Boolean);
  if (ways.length > 1) {
    throw new OptionError(`give the output's size one way, not ${ways.join(' and ')}: size (the longest side), area (the pixel count), or a texture's width and/or height`);
  }
  if (out.strength !== undefined && out.styleWeight !== undefined) {
    throw new OptionError(`give either strength (--strength ${out.strength}) or styleWeight (--style-weight ${out.styleWeight}), not both: the strength sets the style weight`);
  }
  return out as unknown as StylizeOptions;
}

/**
 * Library boundary: a request (or options) argument is an object; its fields are checked where
 * they are read. @throws OptionError naming the function that was called.
 */
export function checkRequest(request: unknown, fn: string, what = 'a request object'): void {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new OptionError(`${fn}: expected ${what}, received ${request === null ? 'null' : Array.isArray(request) ? 'an array' : typeof request}`);
  }
}
