/**
 * Presets: each reference tool's loss normalisation, pooling and default weights, written in the
 * paper's notation so that weights can be converted between tools; and `impasto`, the default:
 * the paper's terms with scale-free layer weights (`autoNormalise`) and β from the strength knob
 * (strength.ts), whose balance does not depend on the weight file's convention.
 *
 * Every preset's total is the objective of objective.ts,
 *
 *   L = α · Σ_c u_c · k_c · Σ(F−P)²  +  β · Σ_l w_l · k_l · Σ(G−A)²  +  γ · L_tv
 *
 * with k_c named by `content` (a `ContentNormalisation` of content.ts) and k_l by `gram` (a
 * `GramNormalisation` of gram-style.ts); those two files hold the factors themselves. Where a tool
 * divides G by M (or by N·M) before its loss, or takes a mean instead of a sum, that division is
 * a k_l there, so G itself is always the raw Gram matrix. k_l applies to the Gram style loss only:
 * `--style-loss w2` and `mean-std` carry their own normalisation, and the presets' β and w_l were
 * chosen by the tools for Gram losses.
 *
 * Sources: each tool's own code, as listed in the `summary` and `notes`; the weights are the
 * tools' defaults.
 *
 * The paper's α/β and Gatys's β were chosen for his *mean-normalised* VGG-19 (filters rescaled so
 * that each has mean activation 1 over images and positions), not for the Oxford or torchvision
 * weights this toolkit loads: the same β gives another balance of content and style on those.
 */
import { CONTENT_NORMALISATIONS, type ContentNormalisation } from './content.js';
import { GRAM_NORMALISATIONS, type GramNormalisation } from './gram-style.js';
import { OptionError } from '../errors.js';
import type { TvForm } from './tv.js';
import type { Pooling } from '../networks/vgg.js';

export type PresetName = 'impasto' | 'paper' | 'gatys-code' | 'jcjohnson' | 'pytorch-tutorial' | 'tf-course-lab';

/** A tool's conventions. Weights here are the tool's defaults; users override them by option. */
export interface Preset {
  readonly name: PresetName;
  readonly summary: string;
  /** k_c: see content.ts. */
  readonly content: ContentNormalisation;
  /** k_l of the Gram style loss: see gram-style.ts. */
  readonly gram: GramNormalisation;
  /** Default w_l for a style layer of N channels. */
  styleLayerWeight(n: number): number;
  /** Text of the default w_l. */
  readonly styleLayerWeightText: string;
  readonly contentLayers: readonly string[];
  readonly styleLayers: readonly string[];
  readonly alpha: number;
  /** The tool's β for raw terms; under auto-normalisation β comes from the strength (strength.ts). */
  readonly beta: number;
  readonly gamma: number;
  /** Scale-free (auto-normalised) layer weights by default, with β from the strength knob. */
  readonly autoNormalise: boolean;
  readonly tv: TvForm;
  /** The tool's pooling between VGG blocks. */
  readonly pooling: Pooling;
  /** What the tool does that this preset cannot reproduce, or details worth knowing ('none'). */
  readonly notes: string;
}

const GATYS_STYLE = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];

/** The paper's preset; `impasto` shares its terms, layers and pooling. */
const PAPER: Preset = {
  name: 'paper',
  summary: 'Gatys, Ecker & Bethge (CVPR 2016), eqs. 1–5 exactly',
  content: 'half-sum',
  gram: 'paper',
  styleLayerWeight: () => 1 / 5,
  styleLayerWeightText: '1/5',
  contentLayers: ['relu4_2'],
  styleLayers: GATYS_STYLE,
  alpha: 1,
  beta: 1e3,
  gamma: 0,
  tv: 'l2',
  pooling: 'avg',
  autoNormalise: false,
  notes: "α/β = 1e-3 as in the paper's Fig. 3, chosen for Gatys's mean-normalised VGG-19; average pooling, which the paper prefers; no TV term (the paper has none)",
};

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  impasto: {
    ...PAPER,
    name: 'impasto',
    summary: "Impasto's default: the paper's terms, layers and pooling, with scale-free layer weights (He et al. 2016) and β set by --strength",
    styleLayerWeightText: '1/5 ÷ scale',
    autoNormalise: true,
    notes: "each layer weight is divided by its term at zero features (objective.ts autoNormalise), so the balance does not depend on the weight file's convention "
      + "(torchvision's inputs are about 58× smaller than Caffe's; with raw terms the style term scales with the fourth power of the features and the content term with the square) and β is the --strength map's (strength.ts); "
      + "the reported terms are the paper's own",
  },
  paper: PAPER,
  'gatys-code': {
    name: 'gatys-code',
    summary: "Gatys's own PyTorch notebook (leongatys/PytorchNeuralStyleTransfer): MSE of G/M, layer weights 1e3/N², content MSE",
    content: 'mean',
    gram: 'mean-g-by-m',
    styleLayerWeight: (n) => 1e3 / (n * n),
    styleLayerWeightText: '1e3/N²',
    contentLayers: ['relu4_2'],
    styleLayers: GATYS_STYLE,
    alpha: 1,
    beta: 1,
    gamma: 0,
    tv: 'l2',
    pooling: 'max',
    autoNormalise: false,
    notes: "its weights (1e3/N² per layer) were chosen for his mean-normalised VGG-19 (vgg_conv.pth); its VGG class pools by max by default",
  },
  jcjohnson: {
    name: 'jcjohnson',
    summary: 'jcjohnson/neural-style: MSE of G/(N·M), content MSE, TV',
    content: 'mean',
    gram: 'mean-g-by-nm',
    styleLayerWeight: () => 1,
    styleLayerWeightText: '1',
    contentLayers: ['relu4_2'],
    styleLayers: GATYS_STYLE,
    alpha: 5,
    beta: 100,
    gamma: 5e-4,
    tv: 'l2',
    pooling: 'max',
    autoNormalise: false,
    notes: 'his TVLoss adds the gradient of ½Σ(d²) times his tv_weight 1e-3, which is the gradient of 5e-4·Σ(d²): γ = 5e-4 here (tv.ts); '
      + 'his preprocess scales [0,1] pixels by 256 before subtracting the Caffe mean, where Caffe and Impasto use 255, so his network sees pixels 256/255 of ours (not reproduced: 0.4 %)',
  },
  'pytorch-tutorial': {
    name: 'pytorch-tutorial',
    summary: 'PyTorch tutorial: G/(N·M), MSE, pre-ReLU conv layers, content on conv2_2',
    content: 'mean',
    gram: 'mean-g-by-nm',
    styleLayerWeight: () => 1,
    styleLayerWeightText: '1',
    contentLayers: ['conv2_2'],
    styleLayers: ['conv1_1', 'conv1_2', 'conv2_1', 'conv2_2', 'conv3_1'],
    alpha: 1,
    beta: 1e6,
    gamma: 0,
    tv: 'l2',
    pooling: 'max',
    autoNormalise: false,
    notes: "its 'conv_4' content layer is conv2_2 and 'conv_1'…'conv_5' are the first five convs, taken before the ReLU; torchvision's VGG-19 pools by max",
  },
  'tf-course-lab': {
    name: 'tf-course-lab',
    summary: 'DeepLearning.AI TensorFlow course lab (C4W1): mean of (G/M − A)², the ¼ of the paper missing; content ½Σ; TV L1',
    content: 'half-sum',
    gram: 'mean-g-by-m',
    styleLayerWeight: () => 1 / 5,
    styleLayerWeightText: '1/5',
    contentLayers: ['relu5_2'],
    styleLayers: GATYS_STYLE,
    alpha: 1e-2,
    beta: 2e-2,
    gamma: 2,
    tv: 'l1',
    pooling: 'max',
    autoNormalise: false,
    notes: "also accepted as 'keras-tutorial'; not the tensorflow.org tutorial, which takes a mean for content and runs on [0,1] pixels; "
      + "Keras 'block5_conv2' includes its ReLU, so it is relu5_2 here; Keras's VGG-19 pools by max",
  },
};

/** Other names accepted for a preset. */
export const PRESET_ALIASES: Readonly<Record<string, PresetName>> = { 'keras-tutorial': 'tf-course-lab' };

/** Every name `getPreset` accepts: the presets, then the aliases. */
export const PRESET_NAMES: readonly string[] = [...Object.keys(PRESETS), ...Object.keys(PRESET_ALIASES)];

/** Looks a preset up by name or alias. @throws Error listing the valid names. */
export function getPreset(name: string): Preset {
  const p = (PRESETS as Record<string, Preset>)[PRESET_ALIASES[name] ?? name];
  if (!p) throw new OptionError(`unknown preset '${name}'; expected one of: ${PRESET_NAMES.join(', ')}`);
  return p;
}

/** k_c(N, M) of a preset (content.ts). */
export const contentFactor = (p: Preset) => CONTENT_NORMALISATIONS[p.content].factor;
/** k_l(N, M) of a preset's Gram loss (gram-style.ts). */
export const styleFactor = (p: Preset) => GRAM_NORMALISATIONS[p.gram].factor;
