/**
 * Presets: each reference tool's loss normalisation and default weights, written in the paper's
 * notation so that weights can be converted between tools.
 *
 * Notation (Gatys et al. 2016): N_l = channels of layer l, M_l = H_l·W_l, G/A = generated/style
 * Gram matrices, un-normalised (G = F Fᵀ). Every preset's total is
 *
 *   L = α · Σ_c u_c · k_c(N,M) · Σ(F−P)²  +  β · Σ_l w_l · k_l(N,M) · Σ(G−A)²  +  γ · L_tv
 *
 * where k_c is `contentFactor`, k_l is `styleFactor`, u_c and w_l are per-layer weights. Where a
 * tool divides G by M (or by N·M) before its loss, or takes a mean instead of a sum, that division
 * is moved into k_l here, so that G itself is always the raw Gram matrix. Sources: shared
 * reference-tools.md §2 (each tool's source file is named there).
 */
import type { TvForm } from './tv.js';

export type PresetName = 'paper' | 'gatys-code' | 'jcjohnson' | 'pytorch-tutorial' | 'keras-tutorial';

/** A tool's conventions. Weights here are the tool's defaults; users override them by option. */
export interface Preset {
  readonly name: PresetName;
  readonly summary: string;
  /** k_c(N, M): factor on Σ(F−P)² for one content layer. */
  contentFactor(n: number, m: number): number;
  /** k_l(N, M): factor on Σ(G−A)² for one style layer. */
  styleFactor(n: number, m: number): number;
  /** Default w_l for a style layer of N channels. */
  styleLayerWeight(n: number): number;
  /** k_c and k_l written in the paper's notation, for the presets table. */
  readonly contentFactorText: string;
  readonly styleFactorText: string;
  /** The per-layer style factor relative to the paper's 1/(4N²M²), in words. */
  readonly styleVsPaper: string;
  readonly contentLayers: readonly string[];
  readonly styleLayers: readonly string[];
  /** Text of the default w_l. */
  readonly styleLayerWeightText: string;
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly tv: TvForm;
  /** What the tool does that this preset cannot reproduce (or 'none'). */
  readonly notes: string;
}

const GATYS_STYLE = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1'];

export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  paper: {
    name: 'paper',
    summary: 'Gatys, Ecker & Bethge (CVPR 2016), eqs. 1–5 exactly',
    contentFactor: () => 0.5,
    styleFactor: (n, m) => 1 / (4 * n * n * m * m),
    styleLayerWeight: () => 1 / 5,
    contentFactorText: '1/2',
    styleFactorText: '1/(4·N²·M²)',
    styleVsPaper: '×1',
    contentLayers: ['relu4_2'],
    styleLayers: GATYS_STYLE,
    styleLayerWeightText: '1/5',
    alpha: 1,
    beta: 1e3,
    gamma: 0,
    tv: 'l2',
    notes: 'α/β = 1e-3 as in the paper\'s Fig. 3; no TV term (the paper has none)',
  },
  'gatys-code': {
    name: 'gatys-code',
    summary: "Gatys's own PyTorch notebook: MSE of G/M, layer weights 1e3/N², content MSE",
    contentFactor: (n, m) => 1 / (n * m),
    styleFactor: (n, m) => 1 / (n * n * m * m),
    styleLayerWeight: (n) => 1e3 / (n * n),
    contentFactorText: '1/(N·M)',
    styleFactorText: '1/(N²·M²)',
    styleVsPaper: '×4 (and w_l = 1e3/N², so ×4e3/N² in all)',
    contentLayers: ['relu4_2'],
    styleLayers: GATYS_STYLE,
    styleLayerWeightText: '1e3/N²',
    alpha: 1,
    beta: 1,
    gamma: 0,
    tv: 'l2',
    notes: 'none',
  },
  jcjohnson: {
    name: 'jcjohnson',
    summary: 'jcjohnson/neural-style: MSE of G/(N·M), content MSE, TV',
    contentFactor: (n, m) => 1 / (n * m),
    styleFactor: (n, m) => 1 / (n ** 4 * m * m),
    styleLayerWeight: () => 1,
    contentFactorText: '1/(N·M)',
    styleFactorText: '1/(N⁴·M²)',
    styleVsPaper: '×4/N²',
    contentLayers: ['relu4_2'],
    styleLayers: GATYS_STYLE,
    styleLayerWeightText: '1',
    alpha: 5,
    beta: 100,
    gamma: 5e-4,
    tv: 'l2',
    notes: 'his TV adds the gradient of ½Σ(d²) with weight 1e-3: γ = 5e-4 here; his ×256 pixel scale belongs to his weights',
  },
  'pytorch-tutorial': {
    name: 'pytorch-tutorial',
    summary: 'PyTorch tutorial: G/(N·M), MSE, pre-ReLU conv layers, content on conv2_2',
    contentFactor: (n, m) => 1 / (n * m),
    styleFactor: (n, m) => 1 / (n ** 4 * m * m),
    styleLayerWeight: () => 1,
    contentFactorText: '1/(N·M)',
    styleFactorText: '1/(N⁴·M²)',
    styleVsPaper: '×4/N²',
    contentLayers: ['conv2_2'],
    styleLayers: ['conv1_1', 'conv1_2', 'conv2_1', 'conv2_2', 'conv3_1'],
    styleLayerWeightText: '1',
    alpha: 1,
    beta: 1e6,
    gamma: 0,
    tv: 'l2',
    notes: "its 'conv_4' content layer is conv2_2 and 'conv_1'…'conv_5' are the first five convs, taken before the ReLU",
  },
  'keras-tutorial': {
    name: 'keras-tutorial',
    summary: 'TF/Keras course lab: mean of (G/M − A)², the ¼ of the paper missing; content ½Σ; TV L1',
    contentFactor: () => 0.5,
    styleFactor: (n, m) => 1 / (n * n * m * m),
    styleLayerWeight: () => 1 / 5,
    contentFactorText: '1/2',
    styleFactorText: '1/(N²·M²)',
    styleVsPaper: '×4 (the missing ¼)',
    contentLayers: ['relu5_2'],
    styleLayers: GATYS_STYLE,
    styleLayerWeightText: '1/5',
    alpha: 1e-2,
    beta: 2e-2,
    gamma: 2,
    tv: 'l1',
    notes: "Keras 'block5_conv2' includes its ReLU, so it is relu5_2 here",
  },
};

/** Looks a preset up by name. @throws Error listing the valid names. */
export function getPreset(name: string): Preset {
  const p = (PRESETS as Record<string, Preset>)[name];
  if (!p) throw new Error(`unknown preset '${name}'; expected one of: ${Object.keys(PRESETS).join(', ')}`);
  return p;
}
