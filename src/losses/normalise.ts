/**
 * Automatic per-layer normalisation (after He, Wang & Hopcroft 2016): rescales each layer's weight
 * so that its term reads as a relative squared error, independent of the layer's size and of the
 * magnitude of its activations:
 *
 *   content layer c:  u_c · k_c · Σ(F−P)²  →  u_c · Σ(F−P)² / ΣP²
 *   style layer l:    w_l · k_l · Σ(G−A)²  →  w_l · Σ(G−A)² / ΣA²
 *
 * i.e. u_c ← u_c / (k_c · ΣP²) and w_l ← w_l / (k_l · ΣA²), with k from the preset at the output
 * size. Random networks need this: their raw Gram losses differ between layers by orders of
 * magnitude. α and β then weigh scale-free terms. The reported terms stay the preset's own.
 */
import type { Targets } from '../pipeline/problem.js';
import type { ObjectiveSpec } from './objective.js';

function sumSquares(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * data[i]!;
  return s;
}

/** Returns a copy of `spec` with auto-normalised layer weights. @throws Error when a target is all zeros. */
export function autoNormalise(spec: ObjectiveSpec, targets: Targets): ObjectiveSpec {
  const norm = (layer: string, energy: number, factor: number, what: string) => {
    if (!(energy > 0)) throw new Error(`cannot normalise ${what} layer ${layer}: its target is all zeros (a blank image?); give explicit layer weights instead`);
    return 1 / (factor * energy);
  };
  const size = (layer: string) => {
    const [h, w] = spec.net.featureSize(layer, spec.height, spec.width);
    return [spec.net.channels(layer), h * w] as const;
  };
  return {
    ...spec,
    content: spec.content.map(({ layer, weight }) => ({
      layer,
      weight: weight * norm(layer, sumSquares(targets.content.get(layer)!.data as Float32Array), spec.contentFactor(...size(layer)), 'content'),
    })),
    style: spec.style.map(({ layer, weight }) => ({
      layer,
      weight: weight * norm(layer, sumSquares(targets.gram.get(layer)!.data as Float32Array), spec.styleFactor(...size(layer)), 'style'),
    })),
  };
}
