/**
 * The objective: a weighted composition of loss units (unit.ts), and the two graphs of a problem.
 *
 *   L = α · Σ_c u_c · C_c  +  β · Σ_l w_l · S_l  +  γ · L_tv  [ +  Σ_j λ_t · L_temporal(j) ]
 *
 * where each C_c is a content unit's term at content layer c (content.ts), each S_l a style
 * unit's term at style layer l (gram-style.ts, mean-std-style.ts, …: every formula, normalisation
 * and target rule is in its unit's file), u_c and w_l the layer weights, L_tv the
 * total-variation term (tv.ts), and, for a video frame only, one temporal term per frame offset j
 * (temporal.ts, which also says how λ_t is set). This file adds no factor of its own.
 *
 * 1. The *target graph* (forward only): image [1,3,H,W] → every statistic the units ask of it.
 *    Run once per content image and once per style image.
 * 2. The *objective graph*: image [1,3,H,W] plus the targets → total loss, each term, and
 *    d(loss)/d(image) [1,3,H,W]. Run once per optimiser evaluation.
 *
 * Graph inputs:  `image` [1,3,H,W] RGB 0–255; `target/<role>/<key>/<statistic>` (shapes from the
 *                unit's `shapes`; the key is the layer, or `<layer>@<region>` for a guided term).
 *                For each temporal term: `target/temporal/<j>/warped` [1,3,H,W] and
 *                `target/temporal/<j>/certainty` [1,1,H,W].
 * Graph outputs: `loss` []; `grad` [1,3,H,W]; `term/content/<key>`, `term/style/<key>`,
 *                `term/tv` and `term/temporal/<j>`, each [] and *before* α, β, γ, λ_t and the
 *                layer weights (the unit's own normalisation is included).
 */
import { GraphBuildError, GraphBuilder, Value, fmtShape } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { OptionError } from '../errors.js';
import type { HostTensor } from '../engine/engine.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { asFeatureMap, asImage } from './types.js';
import { TvForm, tvLoss } from './tv.js';
import { temporalLoss, type TemporalTerm } from './temporal.js';
import { termKey, type LayerGeometry, type StatValues, type TargetedTerm, type TermSpec } from './unit.js';

/** Everything that defines one objective, with terms `T` (before or after their targets are bound). */
export interface ObjectiveSpec<T extends TermSpec = TermSpec> {
  readonly net: FeatureNet;
  /** The generated image's size in px. */
  readonly height: number;
  readonly width: number;
  /** Content units at their layers, with u_c. */
  readonly content: readonly T[];
  /** Style units at their layers, with w_l. */
  readonly style: readonly T[];
  /** α, β, γ. */
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly tv: TvForm;
  /**
   * The generated image tiles: circular padding in the network and seams in the TV term. The
   * targets are computed with circular padding too: at the coarse levels, where a filter spans
   * much of the image, zero-padded statistics of the style image are ones no wrapped image can
   * have (measured: the deepest offline layers' terms stayed 100–1000× higher).
   */
  readonly circular?: boolean;
  /** A video frame's temporal terms (temporal.ts), one per frame offset, with λ_t and targets. */
  readonly temporal?: readonly TemporalTerm[];
}

/** An objective whose terms have their targets (from problem.ts's `computeTargets`). */
export type TargetedObjective = ObjectiveSpec<TargetedTerm>;

/** N_l and M_l of the generated image at `layer`. */
export function geometryOf(spec: Pick<ObjectiveSpec, 'net' | 'height' | 'width'>, layer: string): LayerGeometry {
  const [h, w] = spec.net.featureSize(layer, spec.height, spec.width);
  return { channels: spec.net.channels(layer), positions: h * w };
}

/**
 * Automatic per-layer normalisation (after He, Wang & Hopcroft 2016): each layer weight is
 * divided by its unit's `scale` at its target (the term's value at zero features), so every term
 * reads as a relative error, whatever the layer's size and the magnitude of its activations:
 * u_c ← u_c / scale_c, w_l ← w_l / scale_l. Random networks need this: their raw terms differ
 * between layers by orders of magnitude. α and β then weigh scale-free terms; the reported terms
 * stay the units' own.
 * @throws Error when a target is all zeros (its scale is 0), naming the layer.
 */
export function autoNormalise(spec: TargetedObjective): TargetedObjective {
  const norm = (term: TargetedTerm): TargetedTerm => {
    const s = term.unit.scale(term.target, geometryOf(spec, term.layer));
    if (!(s > 0)) throw new OptionError(`cannot normalise ${term.unit.role} layer ${termKey(term)}: its target is all zeros (a blank image?); give explicit layer weights instead`);
    return { ...term, weight: term.weight / s };
  };
  return { ...spec, content: spec.content.map(norm), style: spec.style.map(norm) };
}

/**
 * The factor each reported term is multiplied by in the total: α·u_c for `content/<layer>`, β·w_l
 * for `style/<layer>`, γ for `tv` (the keys of the terms that StyleProblem.evaluate reports), so
 * that L = Σ factor × term.
 */
export function termWeights(spec: ObjectiveSpec): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of spec.content) out[`${t.unit.role}/${termKey(t)}`] = spec.alpha * t.weight;
  for (const t of spec.style) out[`${t.unit.role}/${termKey(t)}`] = spec.beta * t.weight;
  out.tv = spec.gamma;
  for (const term of spec.temporal ?? []) out[`temporal/${term.offset}`] = term.weight;
  return out;
}

const inputName = (role: string, layer: string, stat: string) => `target/${role}/${layer}/${stat}`;

/** A built objective graph. */
export interface ObjectiveGraph {
  readonly model: Uint8Array;
  /** Feeds for every target input, by input name, checked against the graph's shapes. */
  readonly targetFeeds: Record<string, HostTensor>;
  /** Output names of the terms, in order: content layers, style layers, `term/tv`, then `term/temporal/<j>`. */
  readonly termNames: readonly string[];
  readonly opHistogram: Record<string, number>;
}

/**
 * Builds the objective graph for one image size.
 * @throws GraphBuildError for unknown layers, an image too small for the deepest layer, a target
 *         of the wrong shape, or weights that are all zero.
 */
export function buildObjectiveGraph(spec: TargetedObjective): ObjectiveGraph {
  return emitObjective(spec, true);
}

/**
 * The work of the objective graph of `spec` (GraphBuilder.workload), built without its targets:
 * what the memory and time model (pipeline/memory.ts) reads.
 */
export function objectiveWorkload(spec: ObjectiveSpec): { values: number; macs: number; constants: number; peakLive: number } {
  return emitObjective(spec as TargetedObjective, false).workload;
}

function emitObjective(spec: TargetedObjective, withTargets: boolean): ObjectiveGraph & { workload: { values: number; macs: number; constants: number; peakLive: number } } {
  const terms = [...spec.content.map((t) => ({ t, mult: spec.alpha })), ...spec.style.map((t) => ({ t, mult: spec.beta }))];
  spec.net.checkLayers(terms.map(({ t }) => t.layer));
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = t.watch(b.input('image', [1, 3, spec.height, spec.width]));
  const feats = spec.net.build(t, image, terms.map(({ t: term }) => term.layer), { circular: spec.circular });

  const weighted: Value[] = [];
  const termNames: string[] = [];
  const targetFeeds: Record<string, HostTensor> = {};
  const output = (name: string, v: Value, w: number) => {
    b.output(name, v);
    termNames.push(name);
    if (w !== 0) weighted.push(t.scale(v, w, `${name}.weighted`));
  };

  for (const { t: term, mult } of terms) {
    const { unit, layer, weight, target } = term;
    const key = termKey(term);
    const f = asFeatureMap(feats.get(layer)!, layer);
    const inputs: Record<string, Value> = {};
    for (const [stat, shape] of Object.entries(unit.shapes(f.shape) as Record<string, readonly number[]>)) {
      const name = inputName(unit.role, key, stat);
      inputs[stat] = b.input(name, shape);
      if (!withTargets) continue;
      const given = (target.tensors as Record<string, HostTensor>)[stat];
      if (!given || given.dims.join() !== shape.join()) {
        throw new GraphBuildError(`the ${unit.kind} target '${stat}' at ${key} must be ${fmtShape(shape)}, received ${given ? fmtShape(given.dims) : 'none'}`);
      }
      targetFeeds[name] = given;
    }
    output(`term/${unit.role}/${key}`, unit.term(t, f, inputs as StatValues<string>, `${unit.role}_${key}`), mult * weight);
  }
  output('term/tv', tvLoss(t, asImage(image), spec.tv, 'tv', spec.circular), spec.gamma);
  for (const term of spec.temporal ?? []) {
    const key = `temporal/${term.offset}`;
    const warped = b.input(`target/${key}/warped`, [1, 3, spec.height, spec.width]);
    const certainty = b.input(`target/${key}/certainty`, [1, 1, spec.height, spec.width]);
    if (withTargets) {
      const n = spec.width * spec.height;
      if (term.target.warped.length !== 3 * n || term.target.certainty.length !== n) {
        throw new GraphBuildError(`the temporal target of offset ${term.offset} must be [1,3,${spec.height},${spec.width}] and [1,1,${spec.height},${spec.width}], received ${term.target.warped.length} and ${term.target.certainty.length} values`);
      }
      targetFeeds[warped.name] = { data: term.target.warped, dims: [1, 3, spec.height, spec.width] };
      targetFeeds[certainty.name] = { data: term.target.certainty, dims: [1, 1, spec.height, spec.width] };
    }
    output(`term/${key}`, temporalLoss(t, asImage(image), warped, certainty, `temporal_${term.offset}`), term.weight);
  }

  if (weighted.length === 0) {
    throw new GraphBuildError('every loss weight is zero (α, β, γ and the layer weights): there is nothing to optimise; give at least one a positive weight');
  }
  let loss = weighted[0]!;
  for (const w of weighted.slice(1)) loss = t.add(loss, w, 'total');
  b.output('loss', loss);
  const [grad] = t.gradient(loss, [image]);
  b.output('grad', grad!);
  const workload = b.workload();
  return { model: withTargets ? b.toModel('objective') : new Uint8Array(0), targetFeeds, termNames, opHistogram: b.opHistogram(), workload };
}

/** A built target graph. */
export interface TargetGraph {
  readonly model: Uint8Array;
  /** Output names: `<role>/<layer>/<statistic>`, one per statistic of each term's unit. */
  readonly outputs: readonly string[];
}

/**
 * Builds the forward-only graph that computes the statistics that `terms` need from one image of
 * the given size (with circular padding when `circular`: see ObjectiveSpec.circular).
 */
export function buildTargetGraph(net: FeatureNet, height: number, width: number, terms: readonly TermSpec[], circular = false): TargetGraph {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = b.input('image', [1, 3, height, width]);
  const feats = net.build(t, image, terms.map((term) => term.layer), { circular });
  const outputs: string[] = [];
  for (const term of terms) {
    const { unit, layer } = term;
    const key = termKey(term);
    const stats = unit.statistics(t, asFeatureMap(feats.get(layer)!, layer), `${unit.role}_${key}`) as StatValues<string>;
    for (const [stat, v] of Object.entries(stats)) outputs.push(b.output(`${unit.role}/${key}/${stat}`, v).name);
  }
  return { model: b.toModel('targets'), outputs };
}
