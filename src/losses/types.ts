/**
 * Branded graph values for the losses, so that passing a Gram matrix where features are expected
 * (the course lab's "Expects two images" bug) is a compile error, and the shape is checked once at
 * the boundary.
 *
 * - `FeatureMap`: [1, N, H, W] activations of one layer (N_l = N channels, M_l = H·W positions).
 * - `GramMatrix`: [N, N] un-normalised Gram matrix G = F Fᵀ (a sum over the M_l positions).
 * - `ImageValue`: [1, 3, H, W] RGB image in 0–255 units.
 */
import { GraphBuildError, Value, fmtShape } from '../graph/builder.js';

declare const brand: unique symbol;
export type FeatureMap = Value & { readonly [brand]: 'FeatureMap' };
export type GramMatrix = Value & { readonly [brand]: 'GramMatrix' };
export type ImageValue = Value & { readonly [brand]: 'Image' };

/** @throws GraphBuildError unless `v` is [1, N, H, W]. */
export function asFeatureMap(v: Value, what = v.name): FeatureMap {
  if (v.shape.length !== 4 || v.shape[0] !== 1) throw new GraphBuildError(`${what}: expected a feature map [1,N,H,W], received ${fmtShape(v.shape)}`);
  return v as FeatureMap;
}

/** @throws GraphBuildError unless `v` is square [N, N]. */
export function asGramMatrix(v: Value, what = v.name): GramMatrix {
  if (v.shape.length !== 2 || v.shape[0] !== v.shape[1]) throw new GraphBuildError(`${what}: expected a Gram matrix [N,N], received ${fmtShape(v.shape)}`);
  return v as GramMatrix;
}

/** @throws GraphBuildError unless `v` is [1, C, H, W] (C = 3 for RGB; tests use other C). */
export function asImage(v: Value, what = v.name): ImageValue {
  if (v.shape.length !== 4 || v.shape[0] !== 1) throw new GraphBuildError(`${what}: expected an image [1,3,H,W], received ${fmtShape(v.shape)}`);
  return v as ImageValue;
}
