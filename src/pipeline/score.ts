/**
 * `score`: every loss term of an existing image under a network, weights and preset, a
 * reproducible quality measure. The image is scored at its own size; the content image is
 * resized to it and the style images are sized as `stylize` would size them for that output.
 *
 * Terms are the preset's own, before α, β, γ and the layer weights: under `paper`, content is
 * ½Σ(F−P)² and each style entry is E_l = 1/(4N²M²)Σ(G−A)².
 */
import { resolveEngine, type Engine } from '../engine/index.js';
import { readImage, resizeImage, toPlanar } from '../image/io-node.js';
import { getPreset } from '../losses/presets.js';
import { validateOptions, StylizeOptions } from './options.js';
import { computeTargets, StyleProblem } from './problem.js';
import { ImageInput, objectiveSpec, resolveNetwork, sessionOptions, styleSize, wantsAutoNormalise } from './stylize.js';
import { autoNormalise } from '../losses/normalise.js';

export interface ScoreResult {
  /** The total L that stylize would minimise for this image (same weights and normalisation). */
  readonly total: number;
  /** Content term per preset (a single content layer gives a number; several are summed). */
  readonly content: number;
  /** Style term per layer, E_l under `paper`. */
  readonly style: Record<string, number>;
  readonly tv: number;
  readonly width: number;
  readonly height: number;
}

export interface ScoreRequest extends Partial<StylizeOptions> {
  image: ImageInput;
  content: ImageInput;
  style: ImageInput | ImageInput[];
}

/** Scores an image. @throws the same errors as stylize for bad inputs. */
export async function score(request: ScoreRequest, control: { engine?: Engine; onNotice?: (m: string) => void } = {}): Promise<ScoreResult> {
  const { image: imageInput, content: contentInput, style: styleInput, ...rest } = request;
  const o = validateOptions(rest);
  const preset = getPreset(o.preset);
  const load = async (i: ImageInput) => (typeof i === 'string' ? readImage(i) : i);
  const image = await load(imageInput);
  const size = { width: image.width, height: image.height };
  const longest = Math.max(size.width, size.height);
  const contentImg = toPlanar(await resizeImage(await load(contentInput), size.width, size.height));
  const styleInputs = Array.isArray(styleInput) ? styleInput : [styleInput];
  const blend = o.styleBlend ?? styleInputs.map(() => 1);
  const blendSum = blend.reduce((a, b) => a + b, 0);
  const styles = await Promise.all(styleInputs.map(async (s, i) => {
    const raw = await load(s);
    // As stylize would size it for an output of this image's size.
    const ss = styleSize(raw, { size: longest, area: o.area && size.width * size.height, styleScale: o.styleScale });
    return { image: toPlanar(await resizeImage(raw, ss.width, ss.height)), weight: blend[i]! / blendSum };
  }));
  const net = await resolveNetwork(o, control.onNotice ?? (() => {}));
  const spec0 = objectiveSpec(o, preset, net, size, Math.min(size.width, size.height, ...styles.map((st) => Math.min(st.image.width, st.image.height))), control.onNotice);
  const engine = control.engine ?? (await resolveEngine(o.engine));
  const targets = await computeTargets(engine, spec0, contentImg, styles, sessionOptions(o));
  const spec = wantsAutoNormalise(o, net) ? autoNormalise(spec0, targets) : spec0;
  const problem = await StyleProblem.create(engine, spec, targets, sessionOptions(o));
  try {
    const ev = await problem.evaluate(toPlanar(image).data);
    const style: Record<string, number> = {};
    let content = 0;
    for (const [k, v] of Object.entries(ev.terms)) {
      if (k.startsWith('style/')) style[k.slice(6)] = v;
      else if (k.startsWith('content/')) content += v;
    }
    return { total: ev.loss, content, style, tv: ev.terms.tv!, ...size };
  } finally {
    await problem.dispose();
  }
}
