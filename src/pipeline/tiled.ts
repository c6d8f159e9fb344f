/**
 * Tiled evaluation: the loss and gradient of the whole image, computed in overlapping blocks so
 * that memory is bounded by the block, not the image (after Galerne, Raad, Lezama & Morel,
 * "Scaling Painting Style Transfer", 2024).
 *
 * Layout (`tileLayout`). The image is cut into *owned* regions, one per block, which partition it;
 * each block is its owned region plus a margin on every side that is not the image's edge. All
 * blocks have one shape (one graph, one session per pass), and every cut and block origin is a
 * multiple of the network's deepest stride S (2^poolings), so a block's feature grid is the image's
 * grid, shifted. The margin is at least the reach R of the deepest layer: how far beyond its own
 * S×S cell a feature sees (`reachOf`: VGG-19 to relu5_1, S = 16, R = 70 px; the offline network,
 * S = 32, R = 95 px). So every feature whose cell lies in an owned region is computed in its block
 * exactly as in the whole image: the zero padding it sees is the image's own edge, or none.
 *
 * Per evaluation (`TiledProblem.evaluate`), for style units whose statistics are sums over
 * positions (`tiling: 'statistics'`: the Gram matrix):
 *   pass 1  each block's statistics over its owned features (features × a 0/1 mask of the owned
 *           cells), summed in float64: the whole image's statistics G_l, exactly;
 *   global  each style term S_l = termOf(G_l) and C_l = β·w_l·∂S_l/∂G_l, from a small graph;
 *   pass 2  each block back-propagates the surrogate Σ_l ⟨C_l, G_l^block⟩ (G_l^block: its owned
 *           features' statistics) + α·Σ u_c·C_c^block (content on its owned features, at the whole
 *           image's N_l, M_l) + γ·L_tv^block (the differences its owned pixels start), and its whole
 *           gradient is added into the image's. Every owned feature's back-propagation stays inside
 *           its block, so the sum is the whole image's gradient.
 * Content targets P are the content image's features, computed inside each block's pass-2 graph
 * from the content image's block (a forward pass of the network, not differentiated): they never
 * leave ONNX Runtime, so no block's features pile up in memory. (Handing them back to JavaScript,
 * 128 channels at full resolution per block for the offline network, took a 4000×3000 run to
 * 5.5 GB of resident memory.)
 *
 * Departure from Galerne et al.: they back-propagate each block's loss from all its features and
 * keep the gradient of the block's inner region, which is exact only with a margin of twice the
 * reach; here only owned features are back-propagated and the whole block's gradient is kept,
 * which is exact with one reach. Both evaluate the global statistics in a first pass.
 * Limits: Gram (and content and TV) only; not with masks (their guides are per position of the
 * whole image) nor for tileable textures (circular padding); refused with an OptionError.
 */
import type { Engine, HostTensor, Session, SessionOptions } from '../engine/engine.js';
import { GraphBuilder, Value } from '../graph/builder.js';
import { Tape } from '../graph/autodiff.js';
import { geometryOf, type ObjectiveSpec } from '../losses/objective.js';
import { asFeatureMap, asImage, type FeatureMap } from '../losses/types.js';
import { tvOfBlock } from '../losses/tv.js';
import { termKey, withTarget, type ImageStats, type LayerGeometry, type StatValues, type TermSpec } from '../losses/unit.js';
import type { FeatureNet } from '../networks/feature-net.js';
import { OptionError } from '../errors.js';
import type { Evaluation, Image255, Problem, StyleSource } from './problem.js';


/** One block: its origin in the image and the region it owns, [x0, x1) × [y0, y1) in image px. */
export interface Block {
  readonly x: number;
  readonly y: number;
  readonly owned: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
}

/** The blocks of one image: all of blockWidth × blockHeight px. */
export interface TileLayout {
  readonly width: number;
  readonly height: number;
  readonly blockWidth: number;
  readonly blockHeight: number;
  /** px of margin a block keeps around its owned region (except at the image's edges). */
  readonly margin: number;
  /** The deepest layer's stride S in px: origins and cuts are multiples of it. */
  readonly stride: number;
  readonly blocks: readonly Block[];
}

/**
 * The deepest stride S (px per feature) of `layers`, and their reach R: how many px beyond its
 * own S×S cell a feature of any of them depends on (from the network's windows and poolings:
 * a k×k window at stride s adds (k−1)/2·s, a 2×2 pooling doubles s).
 */
export function reachOf(net: FeatureNet, layers: readonly string[]): { stride: number; reach: number } {
  let stride = 1;
  let reach = 0;
  for (const layer of layers) {
    let s = 1;
    let r = 0;
    for (const step of net.guideSteps(layer)) {
      if (step.kind === 'pool') s *= 2;
      else r += ((step.size - 1) / 2) * s;
    }
    stride = Math.max(stride, s);
    reach = Math.max(reach, r);
  }
  return { stride, reach };
}

/** Along one axis of `length` px: the block length, the block origins and the cuts c_0 = 0 < … < c_n = length. */
function axisLayout(length: number, target: number, margin: number, stride: number): { block: number; starts: number[]; cuts: number[] } {
  if (length <= target) return { block: length, starts: [0], cuts: [0, length] };
  const rest = length % stride;
  const block = Math.floor((target - rest) / stride) * stride + rest; // ≡ length (mod S): the last block ends at the edge
  const step = Math.floor((block - 2 * margin - stride) / stride) * stride;
  if (step < stride) {
    throw new OptionError(`blocks of ${target} px are too small for this network: each needs a margin of ${margin} px on both sides; use blocks of at least ${2 * margin + 2 * stride + rest} px`);
  }
  for (let n = 1 + Math.ceil((length - block) / step); n < length; n++) {
    const starts = Array.from({ length: n }, (_, k) => (k === n - 1 ? length - block : Math.floor((k * (length - block)) / (n - 1) / stride) * stride));
    const cuts = [0];
    let ok = true;
    for (let k = 1; k < n; k++) {
      const overlapEnd = starts[k - 1]! + block;
      const c = Math.round((starts[k]! + overlapEnd) / 2 / stride) * stride;
      if (c - starts[k]! < margin || overlapEnd - c < margin || c <= cuts[k - 1]!) ok = false;
      cuts.push(c);
    }
    cuts.push(length);
    if (ok) return { block, starts, cuts };
  }
  throw new Error(`no block layout of ${length} px with blocks of ${block} px`);
}

/**
 * Blocks of at most `blockSide` px a side (fewer where the image is smaller) for the image of
 * width × height, with a margin of the reach of `layers` rounded up to their stride.
 * @throws OptionError when the blocks are too small for the margin.
 */
export function tileLayout(width: number, height: number, net: FeatureNet, layers: readonly string[], blockSide: number): TileLayout {
  const { stride, reach } = reachOf(net, layers);
  const margin = Math.ceil(reach / stride) * stride;
  const xs = axisLayout(width, blockSide, margin, stride);
  const ys = axisLayout(height, blockSide, margin, stride);
  const blocks: Block[] = [];
  for (const [j, y] of ys.starts.entries()) {
    for (const [i, x] of xs.starts.entries()) blocks.push({ x, y, owned: { x0: xs.cuts[i]!, x1: xs.cuts[i + 1]!, y0: ys.cuts[j]!, y1: ys.cuts[j + 1]! } });
  }
  return { width, height, blockWidth: xs.block, blockHeight: ys.block, margin, stride, blocks };
}

/** The stride of one layer (px per feature). */
function strideOf(net: FeatureNet, layer: string): number {
  return net.guideSteps(layer).reduce((s, step) => (step.kind === 'pool' ? 2 * s : s), 1);
}

/** The 0/1 mask [1,1,h_l,w_l] of the cells a block owns at `layer` (or at the pixels: layer null). */
function ownedMask(net: FeatureNet, layout: TileLayout, block: Block, layer: string | null): HostTensor {
  const { blockWidth: bw, blockHeight: bh } = layout;
  const [fh, fw] = layer === null ? [bh, bw] : net.featureSize(layer, bh, bw);
  const s = layer === null ? 1 : strideOf(net, layer);
  const { x0, x1, y0, y1 } = block.owned;
  const fx0 = (x0 - block.x) / s;
  const fy0 = (y0 - block.y) / s;
  const fx1 = x1 === layout.width ? fw : (x1 - block.x) / s;
  const fy1 = y1 === layout.height ? fh : (y1 - block.y) / s;
  const data = new Float32Array(fh * fw);
  for (let y = fy0; y < fy1; y++) data.fill(1, y * fw + fx0, y * fw + fx1);
  return { data, dims: [1, 1, fh, fw] };
}

/** The block's pixels [3, bh, bw] copied out of a planar image [3, H, W]. */
function crop(img: Float32Array, layout: TileLayout, block: Block): Float32Array {
  return cropInto(new Float32Array(3 * layout.blockWidth * layout.blockHeight), img, layout, block);
}

/** The same, into `out` (which it returns). */
function cropInto(out: Float32Array, img: Float32Array, layout: TileLayout, block: Block): Float32Array {
  const { width: W, height: H, blockWidth: bw, blockHeight: bh } = layout;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < bh; y++) {
      const from = c * H * W + (block.y + y) * W + block.x;
      out.set(img.subarray(from, from + bw), (c * bh + y) * bw);
    }
  }
  return out;
}

/** Adds a block's gradient [3, bh, bw] into the image's [3, H, W]. */
function addBlock(into: Float32Array, g: Float32Array, layout: TileLayout, block: Block): void {
  const { width: W, height: H, blockWidth: bw, blockHeight: bh } = layout;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < bh; y++) {
      const to = c * H * W + (block.y + y) * W + block.x;
      const from = (c * bh + y) * bw;
      for (let x = 0; x < bw; x++) into[to + x]! += g[from + x]!;
    }
  }
}

const statsName = (key: string, stat: string) => `stat/${key}/${stat}`;
const maskName = (layer: string) => `mask/${layer}`;

/** Features at `layers` of a block image input, each times its owned mask (an input). */
function maskedFeatures(t: Tape, net: FeatureNet, image: Value, layers: readonly string[], masks: Map<string, Value>): Map<string, FeatureMap> {
  const feats = net.build(t, image, layers);
  const out = new Map<string, FeatureMap>();
  for (const layer of new Set(layers)) {
    const f = feats.get(layer)!;
    const [, , h, w] = f.shape as number[];
    masks.set(layer, t.b.input(maskName(layer), [1, 1, h!, w!]));
    out.set(layer, asFeatureMap(t.mul(f, masks.get(layer)!, `${layer}.owned`), layer));
  }
  return out;
}

/** Pass 1's graph: a block's owned statistics for each style term. */
function statsGraph(net: FeatureNet, h: number, w: number, terms: readonly TermSpec[]): GraphBuilder {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = b.input('image', [1, 3, h, w]);
  const feats = maskedFeatures(t, net, image, terms.map((x) => x.layer), new Map());
  for (const term of terms) {
    const key = termKey(term);
    const stats = term.unit.statistics(t, feats.get(term.layer)!, `style_${key}`) as StatValues<string>;
    for (const [stat, v] of Object.entries(stats)) b.output(statsName(key, stat), v);
  }
  return b;
}

/**
 * The content graph, run once per block at set-up: each content term's value at zero features
 * over the block's owned cells (their sum over blocks is the term's `scale`, for the automatic
 * normalisation).
 */
function contentGraph(net: FeatureNet, h: number, w: number, terms: readonly TermSpec[], at: (term: TermSpec) => LayerGeometry): Uint8Array {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = b.input('image', [1, 3, h, w]);
  const feats = net.build(t, image, terms.map((x) => x.layer));
  for (const term of terms) {
    const key = termKey(term);
    const p = feats.get(term.layer)!;
    const [, , fh, fw] = p.shape as number[];
    const owned = t.mul(p, b.input(maskName(term.layer), [1, 1, fh!, fw!]), `${key}.owned`);
    b.output(`zero/${key}`, term.unit.termOf!(t, { features: t.scale(owned, 0, `${key}.zero`) }, { features: owned }, at(term), `content_${key}`));
  }
  return b.toModel('tiled-content');
}

/** Pass 2's graph: the block's surrogate loss and its gradient, its content terms and its TV. */
function blockGraph(spec: ObjectiveSpec, h: number, w: number, at: (term: TermSpec) => LayerGeometry): GraphBuilder {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const image = t.watch(b.input('image', [1, 3, h, w]));
  const masks = new Map<string, Value>();
  const feats = maskedFeatures(t, spec.net, image, [...spec.content, ...spec.style].map((x) => x.layer), masks);
  const parts: Value[] = [];
  for (const term of spec.style) {
    const key = termKey(term);
    const stats = term.unit.statistics(t, feats.get(term.layer)!, `style_${key}`) as StatValues<string>;
    for (const [stat, v] of Object.entries(stats)) {
      const coef = b.input(`coef/${key}/${stat}`, v.shape);
      parts.push(t.reduceSum(t.mul(v, coef, `${key}.${stat}.c`), `${key}.${stat}.inner`));
    }
  }
  // The content targets from the content image's block: a forward pass, not watched, so not differentiated.
  const contentFeats = spec.content.length ? spec.net.build(t, b.input('content', [1, 3, h, w]), spec.content.map((x) => x.layer)) : new Map<string, Value>();
  for (const term of spec.content) {
    const key = termKey(term);
    const f = feats.get(term.layer)!;
    const p = t.mul(contentFeats.get(term.layer)!, masks.get(term.layer)!, `${key}.P_owned`);
    const v = term.unit.termOf!(t, { features: f }, { features: p }, at(term), `content_${key}`);
    b.output(`term/content/${key}`, v);
    if (spec.alpha * term.weight !== 0) parts.push(t.scale(v, spec.alpha * term.weight, `${key}.weighted`));
  }
  const tv = tvOfBlock(t, asImage(image), b.input(maskName('pixels'), [1, 1, h, w]), spec.tv);
  b.output('term/tv', tv);
  if (spec.gamma !== 0) parts.push(t.scale(tv, spec.gamma, 'tv.weighted'));
  let surrogate = parts[0]!;
  for (const p of parts.slice(1)) surrogate = t.add(surrogate, p, 'surrogate');
  const [grad] = t.gradient(surrogate, [image]);
  b.output('grad', grad!);
  return b;
}

/**
 * The work of one block in one tiled evaluation: pass 1's graph (when there are style terms) and
 * pass 2's, at blockWidth × blockHeight px, summed (GraphBuilder.workload's `macs` and `values`;
 * `runs` the session runs a block makes). What the time model (memory.ts `predictSeconds`) reads.
 * Builds both graphs without running them. `spec`'s targets do not enter, and its weights only
 * where one is zero (that term's scaling node is then left out: one scalar).
 */
export function tiledWorkload(spec: ObjectiveSpec, blockWidth: number, blockHeight: number): { macs: number; values: number; runs: number } {
  const at = (term: TermSpec) => geometryOf(spec, term.layer);
  const graphs = [...(spec.style.length ? [statsGraph(spec.net, blockHeight, blockWidth, spec.style)] : []), blockGraph(spec, blockHeight, blockWidth, at)];
  const work = graphs.map((g) => g.workload());
  return { macs: work.reduce((a, w) => a + w.macs, 0), values: work.reduce((a, w) => a + w.values, 0), runs: graphs.length };
}

/** The global graph: each style term from the whole image's statistics, and β·w_l·∂S_l/∂stat. */
function globalGraph(spec: ObjectiveSpec, shapes: Map<TermSpec, Record<string, readonly number[]>>): Uint8Array {
  const b = new GraphBuilder('float32');
  const t = new Tape(b);
  const watched: Value[] = [];
  const names: string[] = [];
  let total: Value | null = null;
  for (const term of spec.style) {
    const key = termKey(term);
    const stats: Record<string, Value> = {};
    const target: Record<string, Value> = {};
    for (const [stat, shape] of Object.entries(shapes.get(term)!)) {
      stats[stat] = t.watch(b.input(statsName(key, stat), shape));
      target[stat] = b.input(`target/style/${key}/${stat}`, shape);
      watched.push(stats[stat]!);
      names.push(`coef/${key}/${stat}`);
    }
    const v = term.unit.termOf!(t, stats, target, geometryOf(spec, term.layer), `style_${key}`);
    b.output(`term/style/${key}`, v);
    const weighted = t.scale(v, spec.beta * term.weight, `${key}.weighted`);
    total = total ? t.add(total, weighted, 'style_total') : weighted;
  }
  if (total) t.gradient(total, watched).forEach((g, i) => b.output(names[i]!, g));
  return b.toModel('tiled-global');
}

/** Sessions of a graph, created once per problem and run block by block. */
async function session(engine: Engine, model: Uint8Array, opts: SessionOptions): Promise<Session> {
  // ORT's arena on, its memory pattern off: without the arena every run takes its tensors from
  // the system afresh and the page faults made evaluations 5× slower (measured at 512 px on the
  // offline network: 7.8 s against 1.4 s per evaluation); the arenas of the three sessions stay
  // allocated side by side, which the memory model's `tiledMemory` factor counts.
  return engine.createSession(model, { ...opts, arena: true, memPattern: false });
}

/**
 * The owned masks of the blocks, made once per distinct shape of owned region: most blocks own the
 * same rectangle relative to their origin, so a few sets of masks serve them all.
 */
class MaskSets {
  private readonly sets = new Map<string, Record<string, HostTensor>>();
  constructor(private readonly net: FeatureNet, private readonly layout: TileLayout, private readonly layers: readonly string[]) {}

  of(block: Block): Record<string, HostTensor> {
    const { x0, x1, y0, y1 } = block.owned;
    const { width: W, height: H } = this.layout;
    const key = [x0 - block.x, y0 - block.y, x1 === W ? 'end' : x1 - block.x, y1 === H ? 'end' : y1 - block.y].join();
    let set = this.sets.get(key);
    if (!set) {
      set = { [maskName('pixels')]: ownedMask(this.net, this.layout, block, null) };
      for (const layer of new Set(this.layers)) set[maskName(layer)] = ownedMask(this.net, this.layout, block, layer);
      this.sets.set(key, set);
    }
    return set;
  }
}

/** The statistics of a whole image, summed block by block (float64), for `terms`. */
async function tiledStatistics(
  engine: Engine, net: FeatureNet, img: Image255, terms: readonly TermSpec[], blockSide: number, layers: readonly string[], opts: SessionOptions,
): Promise<Map<TermSpec, Record<string, HostTensor>>> {
  const layout = tileLayout(img.width, img.height, net, layers, blockSide);
  const s = await session(engine, statsGraph(net, layout.blockHeight, layout.blockWidth, terms).toModel('tiled-statistics'), opts);
  const acc = new Map<string, { sum: Float64Array; dims: readonly number[] }>();
  try {
    for (const block of layout.blocks) {
      const feeds: Record<string, HostTensor> = { image: { data: crop(img.data, layout, block), dims: [1, 3, layout.blockHeight, layout.blockWidth] } };
      for (const term of terms) feeds[maskName(term.layer)] = ownedMask(net, layout, block, term.layer);
      const out = await s.run(feeds);
      for (const [name, v] of Object.entries(out)) {
        const a = acc.get(name) ?? { sum: new Float64Array(v.data.length), dims: v.dims };
        for (let i = 0; i < a.sum.length; i++) a.sum[i]! += Number(v.data[i]);
        acc.set(name, a);
      }
    }
  } finally {
    await s.dispose();
  }
  const byTerm = new Map<TermSpec, Record<string, HostTensor>>();
  for (const term of terms) {
    const prefix = `stat/${termKey(term)}/`;
    const stats: Record<string, HostTensor> = {};
    for (const [name, a] of acc) if (name.startsWith(prefix)) stats[name.slice(prefix.length)] = { data: Float32Array.from(a.sum), dims: a.dims };
    byTerm.set(term, stats);
  }
  return byTerm;
}

/**
 * Refuses objectives that cannot be tiled, saying why and what to do.
 * @throws OptionError
 */
export function checkTileable(spec: Pick<ObjectiveSpec, 'content' | 'style' | 'circular'>): void {
  if (spec.circular) throw new OptionError('a tileable texture (circular padding) cannot be evaluated in blocks; use a size that fits in --max-memory');
  for (const term of [...spec.content, ...spec.style]) {
    if (term.region !== undefined) throw new OptionError('masks (guided Gram matrices) cannot be evaluated in blocks; use a size that fits in --max-memory');
    const want = term.unit.role === 'style' ? 'statistics' : 'positions';
    if (term.unit.tiling !== want || !term.unit.termOf) {
      throw new OptionError(`the ${term.unit.kind} loss cannot be evaluated in blocks (its statistics are not sums over positions); use --style-loss gram, or a size that fits in --max-memory`);
    }
  }
}

/** The objective of one problem, evaluated in blocks. Create with {@link TiledProblem.create}. */
export class TiledProblem implements Problem {
  /** One block's image and content pixels, reused for every block (ORT reads them during each run only). */
  private readonly imageBlock: Float32Array;
  private readonly contentBlock: Float32Array;

  private constructor(
    readonly objective: ObjectiveSpec,
    readonly layout: TileLayout,
    private readonly masks: MaskSets,
    private readonly content: Image255 | null,
    private readonly targetFeeds: Record<string, HostTensor>,
    private readonly sessions: { stats: Session | null; block: Session; global: Session | null },
  ) {
    this.imageBlock = new Float32Array(3 * layout.blockWidth * layout.blockHeight);
    this.contentBlock = new Float32Array(content ? this.imageBlock.length : 0);
  }

  get width(): number {
    return this.layout.width;
  }

  get height(): number {
    return this.layout.height;
  }

  /**
   * Computes the targets block by block (the style images in blocks of the same size), the
   * automatic normalisation when `normalise`, and the sessions.
   * @throws OptionError when the objective cannot be tiled (`checkTileable`).
   */
  static async create(
    engine: Engine, spec: ObjectiveSpec, content: Image255 | null, styles: readonly StyleSource[], layout: TileLayout, normalise: boolean, opts: SessionOptions,
  ): Promise<TiledProblem> {
    checkTileable(spec);
    if (spec.content.length && !content) throw new Error('content terms need a content image');
    const net = spec.net;
    const layers = [...spec.content, ...spec.style].map((x) => x.layer);
    const side = Math.max(layout.blockWidth, layout.blockHeight);
    const { blockHeight: bh, blockWidth: bw } = layout;
    const at = (term: TermSpec) => geometryOf(spec, term.layer);
    const masks = new MaskSets(net, layout, layers);

    // style targets: each style image's statistics summed over its own blocks
    const perStyle: { s: StyleSource; stats: Map<TermSpec, Record<string, HostTensor>> }[] = [];
    for (const s of styles) perStyle.push({ s, stats: await tiledStatistics(engine, net, s.image, spec.style, side, layers, opts) });
    const style = spec.style.map((term) => {
      const images: ImageStats<string>[] = perStyle.map(({ s, stats }) => {
        const [h, w] = net.featureSize(term.layer, s.image.height, s.image.width);
        return { stats: stats.get(term)!, weight: s.weight, positions: h * w };
      });
      const targeted = withTarget(term, term.unit.target(images, at(term)));
      return { term, targeted, scale: normalise ? term.unit.scale(targeted.target, at(term)) : 1 };
    });

    // content: each term's scale (its value at zero features), summed over the blocks
    const contentScale = new Map<TermSpec, number>(spec.content.map((term) => [term, 0]));
    if (normalise && spec.content.length && content) {
      const s = await session(engine, contentGraph(net, bh, bw, spec.content, at), opts);
      try {
        for (const block of layout.blocks) {
          const feeds: Record<string, HostTensor> = { image: { data: crop(content.data, layout, block), dims: [1, 3, bh, bw] } };
          for (const term of spec.content) feeds[maskName(term.layer)] = masks.of(block)[maskName(term.layer)]!;
          const out = await s.run(feeds);
          for (const term of spec.content) contentScale.set(term, contentScale.get(term)! + Number(out[`zero/${termKey(term)}`]!.data[0]));
        }
      } finally {
        await s.dispose();
      }
    }
    const weightOf = (term: TermSpec, scale: number) => {
      if (normalise && !(scale > 0)) throw new OptionError(`cannot normalise ${term.unit.role} layer ${termKey(term)}: its target is all zeros (a blank image?); give explicit layer weights instead`);
      return term.weight / scale;
    };
    const objective: ObjectiveSpec = {
      ...spec,
      content: spec.content.map((term) => ({ ...term, weight: weightOf(term, normalise ? contentScale.get(term)! : 1) })),
      style: style.map(({ term, scale }) => ({ ...term, weight: weightOf(term, scale) })),
    };
    const targetFeeds: Record<string, HostTensor> = {};
    const shapes = new Map<TermSpec, Record<string, readonly number[]>>();
    objective.style.forEach((term, i) => {
      const tensors = style[i]!.targeted.target.tensors as Record<string, HostTensor>;
      const sh: Record<string, readonly number[]> = {};
      for (const [stat, v] of Object.entries(tensors)) {
        targetFeeds[`target/style/${termKey(term)}/${stat}`] = v;
        sh[stat] = v.dims;
      }
      shapes.set(term, sh);
    });
    const sessions = {
      stats: objective.style.length ? await session(engine, statsGraph(net, bh, bw, objective.style).toModel('tiled-statistics'), opts) : null,
      block: await session(engine, blockGraph(objective, bh, bw, at).toModel('tiled-block'), opts),
      global: objective.style.length ? await session(engine, globalGraph(objective, shapes), opts) : null,
    };
    return new TiledProblem(objective, layout, masks, content, targetFeeds, sessions);
  }

  /** The loss, terms and gradient of the whole image, by the two passes of the file header. */
  async evaluate(image: Float32Array): Promise<Evaluation> {
    const { layout, objective: spec, sessions } = this;
    const { blockWidth: bw, blockHeight: bh } = layout;
    if (image.length !== 3 * layout.width * layout.height) {
      throw new Error(`image must hold 3×${layout.height}×${layout.width} = ${3 * layout.width * layout.height} values, received ${image.length}`);
    }
    const dims = [1, 3, bh, bw];
    const terms: Record<string, number> = {};
    let loss = 0;

    // pass 1 and the global terms
    const coefs: Record<string, HostTensor> = {};
    if (sessions.stats && sessions.global) {
      const acc = new Map<string, { sum: Float64Array; dims: readonly number[] }>();
      for (const block of layout.blocks) {
        cropInto(this.imageBlock, image, layout, block);
        const out = await sessions.stats.run({ image: { data: this.imageBlock, dims }, ...pick(this.masks.of(block), spec.style.map((x) => maskName(x.layer))) });
        for (const [name, v] of Object.entries(out)) {
          const a = acc.get(name) ?? { sum: new Float64Array(v.data.length), dims: v.dims };
          for (let i = 0; i < a.sum.length; i++) a.sum[i]! += Number(v.data[i]);
          acc.set(name, a);
        }
      }
      const feeds: Record<string, HostTensor> = { ...this.targetFeeds };
      for (const [name, a] of acc) feeds[name] = { data: Float32Array.from(a.sum), dims: a.dims };
      const out = await sessions.global.run(feeds);
      for (const term of spec.style) {
        const key = termKey(term);
        const v = Number(out[`term/style/${key}`]!.data[0]);
        terms[`style/${key}`] = v;
        loss += spec.beta * term.weight * v;
      }
      for (const [name, v] of Object.entries(out)) if (name.startsWith('coef/')) coefs[name] = v;
    }

    // pass 2
    const grad = new Float32Array(image.length);
    const sums: Record<string, number> = { tv: 0 };
    for (const term of spec.content) sums[`content/${termKey(term)}`] = 0;
    for (const block of layout.blocks) {
      cropInto(this.imageBlock, image, layout, block);
      const feeds: Record<string, HostTensor> = { image: { data: this.imageBlock, dims }, ...this.masks.of(block), ...coefs };
      if (spec.content.length && this.content) {
        cropInto(this.contentBlock, this.content.data, layout, block);
        feeds.content = { data: this.contentBlock, dims };
      }
      const out = await sessions.block.run(feeds);
      addBlock(grad, out.grad!.data as Float32Array, layout, block);
      for (const name of Object.keys(sums)) sums[name]! += Number(out[`term/${name}`]!.data[0]);
    }
    for (const term of spec.content) {
      const key = `content/${termKey(term)}`;
      terms[key] = sums[key]!;
      loss += spec.alpha * term.weight * sums[key]!;
    }
    terms.tv = sums.tv!;
    loss += spec.gamma * sums.tv!;
    return { loss, terms, grad };
  }

  async dispose(): Promise<void> {
    for (const s of [this.sessions.stats, this.sessions.block, this.sessions.global]) await s?.dispose();
  }
}

function pick(from: Record<string, HostTensor>, names: readonly string[]): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const n of names) out[n] = from[n]!;
  return out;
}
