/**
 * The two graphs of one style-transfer problem:
 *
 * 1. The *target graph* (forward only): image [1,3,H,W] → features at the content layers and Gram
 *    matrices at the style layers. Run once per content image and once per style image.
 * 2. The *objective graph*: image [1,3,H,W] plus targets → total loss, each term, and
 *    d(loss)/d(image) [1,3,H,W]. Run once per optimiser evaluation.
 *
 *   L = α · Σ_c u_c · k_c · Σ(F_c − P_c)²  +  β · Σ_l w_l · k_l · Σ(G_l − A_l)²  +  γ · L_tv
 *
 * Graph inputs:  `image` [1,3,H,W] RGB 0–255; `content/<layer>` [1,N,H_l,W_l]; `gram/<layer>` [N,N].
 * Graph outputs: `loss` []; `grad` [1,3,H,W]; `term/content/<layer>`, `term/style/<layer>` and
 *                `term/tv`, each [] and *before* α, β, γ and the layer weights (k is included).
 */
import { GraphBuildError, GraphBuilder, Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { asFeatureMap, asGramMatrix, asImage } from './types.js';
import { contentLoss } from './content.js';
import { gramOf, gramStyleLoss } from './gram-style.js';
import { TvForm, tvLoss } from './tv.js';

/** A layer and its weight (u_c or w_l). */
export interface LayerWeight {
  readonly layer: string;
  readonly weight: number;
}

/** Everything that defines one objective graph. */
export interface ObjectiveSpec {
  readonly net: FeatureNet;
  /** Image size in px. */
  readonly height: number;
  readonly width: number;
  readonly content: readonly LayerWeight[];
  readonly style: readonly LayerWeight[];
  /** k_c(N, M) and k_l(N, M), from the preset. */
  readonly contentFactor: (n: number, m: number) => number;
  readonly styleFactor: (n: number, m: number) => number;
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly tv: TvForm;
}

/** Shapes of the target inputs an objective graph expects. */
export interface TargetShapes {
  content: Map<string, number[]>;
  gram: Map<string, number[]>;
}

/** A built objective graph. */
export interface ObjectiveGraph {
  readonly model: Uint8Array;
  readonly targetShapes: TargetShapes;
  /** Output names of the terms, in order: content layers, style layers, then `term/tv`. */
  readonly termNames: readonly string[];
  readonly opHistogram: Record<string, number>;
}

/**
 * Builds the objective graph for one image size.
 * @throws GraphBuildError for unknown layers, or an image too small for the deepest layer.
 */
export function buildObjectiveGraph(spec: ObjectiveSpec): ObjectiveGraph {
  const layers = [...spec.content.map((c) => c.layer), ...spec.style.map((s) => s.layer)];
  spec.net.checkLayers(layers);
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = t.watch(b.input('image', [1, 3, spec.height, spec.width]));
  const feats = spec.net.build(t, image, layers);

  const weighted: Value[] = [];
  const termNames: string[] = [];
  const targetShapes: TargetShapes = { content: new Map(), gram: new Map() };
  const term = (name: string, v: Value, w: number) => {
    b.output(name, v);
    termNames.push(name);
    if (w !== 0) weighted.push(t.scale(v, w, `${name}.weighted`));
  };

  for (const { layer, weight } of spec.content) {
    const f = asFeatureMap(feats.get(layer)!, layer);
    const [, n, h, w] = f.shape as number[];
    const target = asFeatureMap(b.input(`content/${layer}`, f.shape));
    targetShapes.content.set(layer, [...f.shape]);
    term(`term/content/${layer}`, contentLoss(t, f, target, spec.contentFactor(n!, h! * w!), `content_${layer}`), spec.alpha * weight);
  }
  for (const { layer, weight } of spec.style) {
    const f = asFeatureMap(feats.get(layer)!, layer);
    const [, n, h, w] = f.shape as number[];
    const target = asGramMatrix(b.input(`gram/${layer}`, [n!, n!]));
    targetShapes.gram.set(layer, [n!, n!]);
    term(`term/style/${layer}`, gramStyleLoss(t, f, target, spec.styleFactor(n!, h! * w!), `style_${layer}`), spec.beta * weight);
  }
  term('term/tv', tvLoss(t, asImage(image), spec.tv), spec.gamma);

  if (weighted.length === 0) {
    throw new GraphBuildError('every loss weight is zero (α, β, γ and the layer weights): there is nothing to optimise; give at least one a positive weight');
  }
  let loss = weighted[0]!;
  for (const w of weighted.slice(1)) loss = t.add(loss, w, 'total');
  b.output('loss', loss);
  const [grad] = t.gradient(loss, [image]);
  b.output('grad', grad!);
  return { model: b.toModel('objective'), targetShapes, termNames, opHistogram: b.opHistogram() };
}

/** A built target graph. */
export interface TargetGraph {
  readonly model: Uint8Array;
  /** Output names: `features/<layer>` [1,N,H_l,W_l] and `gram/<layer>` [N,N] (un-normalised). */
  readonly outputs: readonly string[];
}

/**
 * Builds the forward-only graph that computes content features and style Gram matrices of an
 * image of the given size.
 */
export function buildTargetGraph(
  net: FeatureNet,
  height: number,
  width: number,
  want: { features: readonly string[]; grams: readonly string[] },
): TargetGraph {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = b.input('image', [1, 3, height, width]);
  const feats = net.build(t, image, [...want.features, ...want.grams]);
  const outputs: string[] = [];
  for (const l of want.features) outputs.push(b.output(`features/${l}`, feats.get(l)!).name);
  for (const l of want.grams) outputs.push(b.output(`gram/${l}`, gramOf(t, asFeatureMap(feats.get(l)!, l), `gram_${l}`)).name);
  return { model: b.toModel('targets'), outputs };
}
