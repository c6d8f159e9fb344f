/**
 * One style-transfer problem on an engine: computes the targets once (forward-only graph), then
 * evaluates loss, terms and gradient of an image as often as the optimiser asks.
 *
 * Images here are planar RGB in 0–255 units, [3,H,W] float32 (`Image255`).
 */
import type { Engine, HostTensor, Session, SessionOptions } from '../engine/engine.js';
import { buildObjectiveGraph, buildTargetGraph, ObjectiveSpec } from '../losses/objective.js';
import type { FeatureNet } from '../networks/feature-net.js';

/** A planar RGB image, [3,H,W] float32, values in 0–255 (not clipped during optimisation). */
export interface Image255 {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** Content features and style Gram matrices computed from images. */
export interface Targets {
  /** `content/<layer>` → FeatureMap [1,N,H_l,W_l]. */
  readonly content: Map<string, HostTensor>;
  /** `gram/<layer>` → GramMatrix [N,N], already scaled to the generated image's M_l. */
  readonly gram: Map<string, HostTensor>;
}

/** One evaluation: total loss, each term before its weight, and d(loss)/d(image) [3,H,W]. */
export interface Evaluation {
  readonly loss: number;
  readonly terms: Record<string, number>;
  readonly grad: Float32Array;
}

/** A style image and its blend weight (weights of all style images sum to 1). */
export interface StyleSource {
  readonly image: Image255;
  readonly weight: number;
}

function asInput(img: Image255): HostTensor {
  return { data: img.data, dims: [1, 3, img.height, img.width] };
}

/** Runs the forward-only target graph of an image; returns its outputs by name. */
async function runTargetGraph(
  engine: Engine, net: FeatureNet, img: Image255,
  want: { features: readonly string[]; grams: readonly string[] }, opts: SessionOptions,
): Promise<Record<string, HostTensor>> {
  const g = buildTargetGraph(net, img.height, img.width, want);
  const s = await engine.createSession(g.model, { arena: false, memPattern: false, ...opts });
  try {
    return await s.run({ image: asInput(img) });
  } finally {
    await s.dispose();
  }
}

/**
 * Computes the targets for a problem: content features P^l of the content image (which must have
 * the output size), and A^l = Σ_k b_k · (M_l / M_l^k) · F_k F_kᵀ over the style images.
 * @param outputSize the generated image's size; it fixes M_l for the Gram scaling.
 */
export async function computeTargets(
  engine: Engine, spec: Pick<ObjectiveSpec, 'net' | 'content' | 'style'>,
  content: Image255, styles: readonly StyleSource[], opts: SessionOptions = {},
): Promise<Targets> {
  const contentLayers = spec.content.map((c) => c.layer);
  const styleLayers = spec.style.map((s) => s.layer);
  const out: Targets = { content: new Map(), gram: new Map() };
  const own = await runTargetGraph(engine, spec.net, content, { features: contentLayers, grams: styleLayers }, opts);
  for (const l of contentLayers) out.content.set(l, own[`features/${l}`]!);
  // M_l of the generated image (the content image has the output size).
  const ownM = new Map<string, number>();
  for (const l of styleLayers) {
    const [h, w] = spec.net.featureSize(l, content.height, content.width);
    ownM.set(l, h * w);
  }
  for (const { image, weight } of styles) {
    const res = await runTargetGraph(engine, spec.net, image, { features: styleLayers, grams: styleLayers }, opts);
    for (const l of styleLayers) {
      const f = res[`features/${l}`]!;
      const g = res[`gram/${l}`]!;
      const scale = (weight * ownM.get(l)!) / (f.dims[2]! * f.dims[3]!);
      const acc = out.gram.get(l)?.data as Float32Array | undefined ?? new Float32Array(g.data.length);
      const gd = g.data as Float32Array;
      for (let i = 0; i < acc.length; i++) acc[i]! += scale * gd[i]!;
      out.gram.set(l, { data: acc, dims: g.dims });
    }
  }
  return out;
}

/** The objective of one problem, bound to a session. Create with {@link StyleProblem.create}. */
export class StyleProblem {
  private constructor(
    private readonly session: Session,
    private readonly feeds: Record<string, HostTensor>,
    readonly termNames: readonly string[],
    readonly width: number,
    readonly height: number,
  ) {}

  /**
   * Builds the objective graph for `spec` and creates its session.
   * @param targets from {@link computeTargets} for the same spec and size.
   */
  static async create(engine: Engine, spec: ObjectiveSpec, targets: Targets, opts: SessionOptions = {}): Promise<StyleProblem> {
    const graph = buildObjectiveGraph(spec);
    const feeds: Record<string, HostTensor> = {};
    for (const [l, shape] of graph.targetShapes.content) {
      const t = targets.content.get(l);
      if (!t || t.dims.join() !== shape.join()) throw new Error(`content target for ${l} must be [${shape}], received ${t ? `[${t.dims}]` : 'none'}`);
      feeds[`content/${l}`] = t;
    }
    for (const [l, shape] of graph.targetShapes.gram) {
      const t = targets.gram.get(l);
      if (!t || t.dims.join() !== shape.join()) throw new Error(`style target for ${l} must be [${shape}], received ${t ? `[${t.dims}]` : 'none'}`);
      feeds[`gram/${l}`] = t;
    }
    const session = await engine.createSession(graph.model, { pixels: spec.width * spec.height, ...opts });
    return new StyleProblem(session, feeds, graph.termNames, spec.width, spec.height);
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
