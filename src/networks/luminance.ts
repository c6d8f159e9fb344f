/**
 * Luminance-only transfer (Gatys et al. 2017, §5.1): the network sees the luma of its input,
 * Y = 0.299 R + 0.587 G + 0.114 B (BT.601, as color.ts), replicated to its three input channels.
 *
 * `luminanceNet(net)` wraps any FeatureNet with that map as a fixed 1×1 convolution in front of
 * it, so the content target, the style targets, every evaluation and `score` all see luminance
 * images, and the gradient with respect to the RGB image is Jᵀ times the gradient with respect to
 * Y (each pixel moves along (0.299, 0.587, 0.114)). The optimised image's chroma is meaningless;
 * the driver recombines its Y with the content's chroma (color.ts `transferLuminance`), which
 * keeps Y, so the written image's loss is the optimised one up to 8-bit rounding.
 */
import type { FeatureNet } from './feature-net.js';

/** The weights of the map RGB → (Y, Y, Y), [3,3,1,1]. */
const LUMA_TO_RGB = [0.299, 0.587, 0.114, 0.299, 0.587, 0.114, 0.299, 0.587, 0.114];

/** `net` behind an RGB → luma map (see the file header). */
export function luminanceNet(net: FeatureNet): FeatureNet {
  return {
    ...net,
    description: `${net.description}, luminance only`,
    build: (t, image, want, options) => {
      const w = t.b.constant('luminance.w', LUMA_TO_RGB, [3, 3, 1, 1]);
      return net.build(t, t.conv(image, w, undefined, { pads: [0, 0, 0, 0] }, 'luminance'), want, options);
    },
  };
}
