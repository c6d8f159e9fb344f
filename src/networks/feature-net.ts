/**
 * FeatureNet: what the losses need of a feature network, whatever its architecture (pretrained
 * VGG, or the untrained multi-scale network of the offline tier). Layers are addressed by name.
 */
import type { Value } from '../graph/builder.js';
import type { Tape } from '../graph/autodiff.js';
import type { GuideStep } from '../losses/guides.js';

/** A network's own defaults, used where the user gives none (instead of the preset's). */
export interface NetDefaults {
  readonly content: { layer: string; weight: number }[];
  readonly style: { layer: string; weight: number }[];
  /** Normalise layer weights automatically (`autoNormalise` in losses/objective.ts) unless the user sets layer weights. */
  readonly autoNormalise: boolean;
}

/** How a network is emitted. */
export interface BuildOptions {
  /** Circular padding in every convolution (graph/circular.ts), for textures that tile. */
  readonly circular?: boolean;
}

export interface FeatureNet {
  /** Pretrained-architecture VGG (any weights) or an untrained offline network; the strength knob's calibration (losses/strength.ts) is per family. */
  readonly family: 'vgg' | 'untrained';
  /** For messages and events, e.g. `vgg19 (weights.safetensors), avg pooling`. */
  readonly description: string;
  /** Every layer name, in order. */
  readonly layers: readonly string[];
  /**
   * Default layers and weights when the user names none. Pretrained VGG returns null (the preset's
   * layers apply); the untrained network has its own.
   */
  readonly defaults: NetDefaults | null;
  /** @throws GraphBuildError listing unknown names and the valid ones. */
  checkLayers(names: readonly string[]): void;
  /** Smallest image side (px) for which every named layer has at least 1×1 output. */
  minSide(names: readonly string[]): number;
  /** Spatial size [H_l, W_l] of a layer for an H×W image. */
  featureSize(layer: string, height: number, width: number): [number, number];
  /** Channels N_l of a layer. */
  channels(layer: string): number;
  /**
   * How the layer sees the image, for bringing spatial guides to it (losses/guides.ts): its
   * "same" windows (k×k convolutions) and 2×2 poolings in order; 1×1 maps are left out.
   */
  guideSteps(layer: string): readonly GuideStep[];
  /**
   * Emits the network from an RGB 0–255 image [1,3,H,W] up to the deepest wanted layer.
   * @returns each wanted layer's Value [1,N_l,H_l,W_l].
   */
  build(t: Tape, image: Value, want: readonly string[], options?: BuildOptions): Map<string, Value>;
}
