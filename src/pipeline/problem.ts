/**
 * One style-transfer problem on an engine: its targets, computed once by the forward-only target
 * graph, and its objective graph bound to a session, evaluated as often as the optimiser asks.
 *
 * Images here are planar RGB in 0–255 units, [3,H,W] float32 (`Image255`).
 */
import type { Engine, HostTensor, Session, SessionOptions } from '../engine/engine.js';
import { buildObjectiveGraph, buildTargetGraph, geometryOf, ObjectiveSpec, TargetedObjective } from '../losses/objective.js';
import { termKey, withTarget, type ImageStats, type TargetedTerm, type TermSpec } from '../losses/unit.js';
import type { FeatureNet } from '../networks/feature-net.js';

/** A planar RGB image, [3,H,W] float32, values in 0–255 (outside it only while optimising with `bounds: 'none'`). */
export interface Image255 {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** One evaluation: total loss, each term before its weight, and d(loss)/d(image) [3,H,W]. */
export interface Evaluation {
  readonly loss: number;
  /** Keys `content/<layer>`, `style/<layer>`, `tv`, and a video frame's `temporal/<j>`. */
  readonly terms: Record<string, number>;
  readonly grad: Float32Array;
}

/** A style image (already at its working size) and its blend weight b_k (all b_k sum to 1). */
export interface StyleSource {
  readonly image: Image255;
  readonly weight: number;
}

/** Runs the forward-only target graph on an image; returns each term's statistics. */
async function statisticsOf(
  engine: Engine, net: FeatureNet, img: Image255, terms: readonly TermSpec[], opts: SessionOptions, circular = false,
): Promise<Map<TermSpec, ImageStats<string>['stats']>> {
  if (terms.length === 0) return new Map();
  const g = buildTargetGraph(net, img.height, img.width, terms, circular);
  const s = await engine.createSession(g.model, { arena: false, memPattern: false, ...opts });
  let out: Record<string, HostTensor>;
  try {
    out = await s.run({ image: { data: img.data, dims: [1, 3, img.height, img.width] } });
  } finally {
    await s.dispose();
  }
  const byTerm = new Map<TermSpec, Record<string, HostTensor>>();
  for (const term of terms) {
    const prefix = `${term.unit.role}/${termKey(term)}/`;
    const stats: Record<string, HostTensor> = {};
    for (const [name, v] of Object.entries(out)) if (name.startsWith(prefix)) stats[name.slice(prefix.length)] = v;
    byTerm.set(term, stats);
  }
  return byTerm;
}

/**
 * Computes every term's target: content units from the content image (which must have the output
 * size; null for a texture, which has no content terms), style units from the style images with their blend weights; each unit's `target` says
 * how (for the Gram loss, A = Σ_k b_k (M_l / M_l^k) F_k F_kᵀ, gram-style.ts).
 */
export async function computeTargets(
  engine: Engine, spec: ObjectiveSpec, content: Image255 | null, styles: readonly StyleSource[], opts: SessionOptions = {},
): Promise<TargetedObjective> {
  if (content === null) {
    if (spec.content.length) throw new Error('content terms need a content image; a texture (no content image) has none');
  } else if (content.width !== spec.width || content.height !== spec.height) {
    throw new Error(`the content image is ${content.width}×${content.height} px, but the objective is ${spec.width}×${spec.height}: resize it first`);
  }
  const positions = (term: TermSpec, img: Image255) => {
    const [h, w] = spec.net.featureSize(term.layer, img.height, img.width);
    return h * w;
  };
  const own = content ? await statisticsOf(engine, spec.net, content, spec.content, opts) : new Map();
  const perStyle: { s: StyleSource; stats: Map<TermSpec, ImageStats<string>['stats']> }[] = [];
  // Each style term is fed by its sources (a guided term: its region's image), else by every image.
  const feeds = (term: TermSpec, k: number) => !term.sources || term.sources.includes(k);
  for (const [k, s] of styles.entries()) perStyle.push({ s, stats: await statisticsOf(engine, spec.net, s.image, spec.style.filter((term) => feeds(term, k)), opts, spec.circular) });
  const bind = (term: TermSpec, images: ImageStats<string>[]): TargetedTerm =>
    withTarget(term, term.unit.target(images, geometryOf(spec, term.layer)));
  /** The images feeding `term`, their blend weights renormalised to sum 1 over them. */
  const sourcesOf = (term: TermSpec) => {
    const fed = perStyle.filter((_, k) => feeds(term, k));
    const total = fed.reduce((a, { s }) => a + s.weight, 0);
    return fed.map(({ s, stats }) => ({ stats: stats.get(term)!, weight: s.weight / total, positions: positions(term, s.image) }));
  };
  return {
    ...spec,
    content: spec.content.map((term) => bind(term, [{ stats: own.get(term)!, weight: 1, positions: positions(term, content!) }])),
    style: spec.style.map((term) => bind(term, sourcesOf(term))),
  };
}

/**
 * An objective to evaluate: the whole-image graph on one session ({@link StyleProblem}), or the
 * same loss and gradient evaluated in blocks (tiled.ts).
 */
export interface Problem {
  readonly width: number;
  readonly height: number;
  /**
   * Evaluates the objective at `image` ([3,H,W] RGB 0–255 of this problem's size).
   * @returns loss, terms (before weights) and gradient [3,H,W].
   */
  evaluate(image: Float32Array): Promise<Evaluation>;
  dispose(): Promise<void>;
}

/** The objective of one problem, bound to a session. Create with {@link StyleProblem.create}. */
export class StyleProblem implements Problem {
  private constructor(
    private readonly session: Session,
    private readonly feeds: Record<string, HostTensor>,
    readonly termNames: readonly string[],
    readonly width: number,
    readonly height: number,
  ) {}

  /** Builds the objective graph of `spec` (terms with their targets) and creates its session. */
  static async create(engine: Engine, spec: TargetedObjective, opts: SessionOptions = {}): Promise<StyleProblem> {
    const graph = buildObjectiveGraph(spec);
    const session = await engine.createSession(graph.model, { pixels: spec.width * spec.height, ...opts });
    return new StyleProblem(session, graph.targetFeeds, graph.termNames, spec.width, spec.height);
  }

  /**
   * Evaluates the objective at `image` ([3,H,W] RGB 0–255 of this problem's size).
   * @returns loss, terms (before weights; keys without the `term/` prefix) and gradient [3,H,W].
   */
  async evaluate(image: Float32Array): Promise<Evaluation> {
    if (image.length !== 3 * this.width * this.height) {
      throw new Error(`image must hold 3×${this.height}×${this.width} = ${3 * this.width * this.height} values, received ${image.length}`);
    }
    const out = await this.session.run({ ...this.feeds, image: { data: image, dims: [1, 3, this.height, this.width] } });
    const terms: Record<string, number> = {};
    for (const n of this.termNames) terms[n.slice('term/'.length)] = Number(out[n]!.data[0]);
    return { loss: Number(out.loss!.data[0]), terms, grad: out.grad!.data as Float32Array };
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
