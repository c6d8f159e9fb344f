/**
 * `score`: every loss term of an existing image under a network, weights and preset, a
 * reproducible quality measure. The image is scored at its own size: the problem is set up by the
 * same code as `stylize` (prepare.ts) with the output size fixed to the image's, so the content
 * image is resized to it and the style images are sized as `stylize` would size them for it.
 *
 * Terms are the units' own, before α, β, γ and the layer weights: under `paper` with the Gram
 * loss, content is ½Σ(F−P)² and each style entry is E_l = 1/(4N²M²)Σ(G−A)².
 */
import type { Engine } from '../engine/index.js';
import { NonFiniteError, OptionError } from '../errors.js';
import { readImage, toPlanar, type RgbImage } from '../image/io-node.js';
import { termWeights } from '../losses/objective.js';
import { checkRequest, NOT_FOR_SCORE } from './options.js';

export { NOT_FOR_SCORE } from './options.js';
import { checkImageInput, prepareProblem, type ImageInput, type ProblemRequest } from './prepare.js';

export interface ScoreResult {
  /** The total L that stylize would minimise for this image (same weights and normalisation). */
  readonly total: number;
  /** The content terms summed over the content layers. */
  readonly content: number;
  /** Style term per layer (E_l under `paper` with the Gram loss). */
  readonly style: Record<string, number>;
  readonly tv: number;
  /** Every term by the key stylize's events and result use (`content/<layer>`, `style/<layer>`, `tv`). */
  readonly terms: Readonly<Record<string, number>>;
  /** The factor each term enters the total with (α·u_c, β·w_l, γ), by the same keys. */
  readonly termWeights: Readonly<Record<string, number>>;
  /** The preset and style loss the terms are under. */
  readonly preset: string;
  readonly styleLoss: string;
  readonly width: number;
  readonly height: number;
}

export interface ScoreRequest extends ProblemRequest {
  /** The image to score. */
  image: ImageInput;
}

/**
 * Scores an image.
 * @throws the same errors as stylize for the same bad inputs; NonFiniteError (exit 4) when the
 *         total or a term is NaN or infinite.
 */
export async function score(
  request: ScoreRequest,
  control: { engine?: Engine; onNotice?: (m: string) => void; onStage?: (stage: string) => void; signal?: AbortSignal } = {},
): Promise<ScoreResult> {
  checkRequest(request, 'score');
  const { image: imageInput, ...problemRequest } = request;
  checkImageInput(imageInput, 'image');
  const given = NOT_FOR_SCORE.filter((k) => problemRequest[k] !== undefined);
  if (given.length) {
    throw new OptionError(`score measures the image as it is, at its own size; ${given.join(', ')} ${given.length > 1 ? 'do' : 'does'} not apply to it (resize the image first to score it at another size)`);
  }
  const image: RgbImage = typeof imageInput === 'string' ? await readImage(imageInput) : imageInput;
  const size = { width: image.width, height: image.height };
  const p = await prepareProblem(problemRequest, control, size);
  try {
    control.onStage?.('evaluating the image');
    const ev = await p.problem.evaluate(toPlanar(image).data);
    const style: Record<string, number> = {};
    let content = 0;
    for (const [k, v] of Object.entries(ev.terms)) {
      if (k.startsWith('style/')) style[k.slice('style/'.length)] = v;
      else if (k.startsWith('content/')) content += v;
    }
    const bad = [['total', ev.loss] as const, ...Object.entries(ev.terms)].filter(([, v]) => !Number.isFinite(v)).map(([k]) => k);
    if (bad.length) {
      throw new NonFiniteError(`the score of ${typeof imageInput === 'string' ? imageInput : 'the image'} is not finite (${bad.join(', ')}): a weight overflows float32 (at most ~3e38 in all) or the weights hold NaN; lower --style-weight, --content-weight or --tv-weight`);
    }
    return {
      total: ev.loss, content, style, tv: ev.terms.tv!, terms: ev.terms, termWeights: termWeights(p.objective),
      preset: p.preset.name, styleLoss: p.options.styleLoss, ...size,
    };
  } finally {
    await p.problem.dispose();
  }
}
