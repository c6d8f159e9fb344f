/**
 * The loss-unit contract: what one loss (content, Gram style, mean–std style, W2 style…) owns.
 *
 * A unit is everything about one per-layer loss, in one module:
 * - its doc block: formula, normalisation, reduction, departures from the paper;
 * - its target statistics: which statistics of a layer's features it compares (`shapes`), how
 *   the forward-only target graph computes them from one image (`statistics`), and how the
 *   statistics of one or several images become the target (`target`: a style blend, a size
 *   change);
 * - its term in the objective graph (`term`), normalisation included;
 * - its share of the automatic layer normalisation (`scale`).
 *
 * The objective (objective.ts) composes weighted units and knows nothing of any loss's maths.
 *
 * Notation (Gatys et al. 2016), used by every unit's doc block: at layer l, F [N_l, M_l] are the
 * generated image's features (N_l = channels, M_l = H_l·W_l positions), taken from the network's
 * FeatureMap [1, N_l, H_l, W_l]; a subscript s marks the style image's, P the content image's.
 *
 * Targets are typed by unit: `Stats<'gram', 'gram'>` is not assignable to
 * `Stats<'mean-std', 'mean' | 'std'>`, so a target cannot be handed to a unit it was not made by
 * (tests/types/brands.test.ts); `kind` repeats the brand at run time for the same check.
 */
import type { HostTensor } from '../engine/engine.js';
import type { Value } from '../graph/builder.js';
import type { Tape } from '../graph/autodiff.js';
import type { FeatureMap } from './types.js';

/** Statistic tensors of one image at one layer, by statistic name (host side, float32). */
export type StatTensors<Names extends string> = { readonly [N in Names]: HostTensor };

/** Graph values of the same statistics (graph inputs of the objective graph). */
export type StatValues<Names extends string> = { readonly [N in Names]: Value };

/** A unit's target at one layer: its statistics, branded with the unit's kind. */
export interface Stats<Kind extends string, Names extends string> {
  readonly kind: Kind;
  readonly tensors: StatTensors<Names>;
}

/** The generated image's geometry at one layer: N_l channels and M_l = H_l·W_l positions. */
export interface LayerGeometry {
  readonly channels: number;
  readonly positions: number;
}

/** One image's statistics, with its blend weight and its own M_l^k (positions at this layer). */
export interface ImageStats<Names extends string> {
  readonly stats: StatTensors<Names>;
  /** Blend weight b_k; the weights of all style images sum to 1 (content: one image, weight 1). */
  readonly weight: number;
  /** M_l^k of this image at this layer. */
  readonly positions: number;
}

/** A per-layer loss: see the file header. */
export interface LossUnit<Kind extends string, Names extends string> {
  /** The unit's name, also its `--style-loss` value for style units (e.g. `gram`). */
  readonly kind: Kind;
  readonly role: 'content' | 'style';
  /** The term at one layer in one line, in the notation above (for help text and tables). */
  readonly formula: string;
  /** Shapes of the target statistics for a layer whose FeatureMap is `features` [1,N,H_l,W_l]. */
  shapes(features: readonly number[]): { readonly [N in Names]: readonly number[] };
  /** Forward-only target graph: the statistics of one image's features [1,N,H,W]. */
  statistics(t: Tape, features: FeatureMap, label: string): StatValues<Names>;
  /**
   * Host side: the target from each image's statistics (one image for content; the blend of the
   * style images for style), for a generated image of geometry `at`.
   */
  target(images: readonly ImageStats<Names>[], at: LayerGeometry): Stats<Kind, Names>;
  /** Objective graph: the term at one layer, normalisation included; a scalar Value. */
  term(t: Tape, features: FeatureMap, target: StatValues<Names>, label: string): Value;
  /**
   * Tiled evaluation (pipeline/tiled.ts), where the image is seen in blocks:
   * - 'statistics': the statistics are sums over positions, so the whole image's are the sum of
   *   its blocks' (the Gram matrix); the term is then `termOf` those sums.
   * - 'positions': the statistics are per position and the term a sum over positions (content),
   *   so the whole image's term is the sum of `termOf` over the blocks, at the whole image's `at`.
   * Absent: the unit cannot be tiled (mean and deviation are not sums).
   */
  readonly tiling?: 'statistics' | 'positions';
  /**
   * With `tiling`: the term from the generated image's statistics `stats` (as `statistics` makes
   * them) for an image of geometry `at`, normalisation included. `term` is `termOf` of
   * `statistics`, so the formula is written once.
   */
  termOf?(t: Tape, stats: StatValues<Names>, target: StatValues<Names>, at: LayerGeometry, label: string): Value;
  /**
   * The term's natural scale at this target: its value when the generated features are all zero.
   * Automatic normalisation divides the layer weight by it, so the term reads as a relative error.
   * @returns a number > 0 for any target that is not all zeros.
   */
  scale(target: Stats<Kind, Names>, at: LayerGeometry): number;
}

/** A unit of any kind (for heterogeneous lists; bind targets with {@link withTarget}). */
export type AnyLossUnit = LossUnit<any, any>;

/** One weighted term of the objective: a unit at a layer, before its target is known. */
export interface TermSpec<U extends AnyLossUnit = AnyLossUnit> {
  readonly unit: U;
  readonly layer: string;
  /** The layer weight (u_c for content, w_l for style), before α or β. */
  readonly weight: number;
  /**
   * Spatial control (guided-gram.ts): the region this term is for, which makes its key
   * `<layer>@<region>` (see {@link termKey}); and the style images that feed its target (their
   * indices; default all, blended). Both are absent for an unguided term.
   */
  readonly region?: number;
  readonly sources?: readonly number[];
}

/** A term's key in term names, target inputs and reports: its layer, or `<layer>@<region>` for a guided term. */
export function termKey(term: Pick<TermSpec, 'layer' | 'region'>): string {
  return term.region === undefined ? term.layer : `${term.layer}@${term.region}`;
}

/** The target type of a unit. */
export type TargetOf<U> = U extends LossUnit<infer K, infer N> ? Stats<K, N> : never;

/** A term with its target bound; only {@link withTarget} makes one, so unit and target agree. */
export interface TargetedTerm<U extends AnyLossUnit = AnyLossUnit> extends TermSpec<U> {
  readonly target: TargetOf<U>;
}

/**
 * Binds a term to its target.
 * @throws Error when the target was made by another unit (a run-time repeat of the type check).
 */
export function withTarget<K extends string, N extends string>(
  term: TermSpec<LossUnit<K, N>>, target: Stats<K, N>,
): TargetedTerm<LossUnit<K, N>> {
  if (target.kind !== term.unit.kind) {
    throw new Error(`${term.layer}: a '${target.kind}' target was given to the '${term.unit.kind}' loss`);
  }
  return { ...term, target: target as TargetOf<LossUnit<K, N>> };
}

/** Σ x² in float64. */
export function sumSquares(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * data[i]!;
  return s;
}

/** b_k-weighted sum of one statistic over images, each image's tensor times `factor(image)`. */
export function weightedSum<N extends string>(
  images: readonly ImageStats<N>[], name: N, factor: (img: ImageStats<N>) => number = (img) => img.weight,
): HostTensor {
  const first = images[0]!.stats[name];
  const acc = new Float32Array(first.data.length);
  for (const img of images) {
    const d = img.stats[name].data as Float32Array;
    if (d.length !== acc.length) throw new Error(`statistic '${name}' has ${d.length} values in one image and ${acc.length} in another`);
    const f = factor(img);
    for (let i = 0; i < acc.length; i++) acc[i]! += f * d[i]!;
  }
  return { data: acc, dims: first.dims };
}
