/**
 * Relays a stylisation's events across a worker boundary (the server's job worker, the browser's
 * device worker): each event without its pixels, and each attached image as a PNG `preview`
 * message, encoded in order and off the optimiser's path. No platform dependency: the encoder is
 * given (sharp in Node, the canvas in the browser).
 */
import type { RgbImage } from '../image/rgb.js';
import type { StylizeEvent } from './stylize.js';

export type RelayMessage =
  | { type: 'event'; event: Record<string, unknown> }
  | { type: 'preview'; iteration: number; png: Uint8Array };

export interface EventRelay {
  /** Pass as `stylize`'s `onEvent`. */
  readonly onEvent: (e: StylizeEvent) => void;
  /** Resolves when every preview so far has been encoded and posted. */
  flushed(): Promise<void>;
}

export function eventRelay(post: (m: RelayMessage) => void, encode: (img: RgbImage) => Promise<Uint8Array>): EventRelay {
  let previews = Promise.resolve();
  return {
    onEvent: (e) => {
      if (e.type === 'iterate' && e.image) {
        const { image, ...rest } = e;
        post({ type: 'event', event: rest });
        previews = previews.then(async () => post({ type: 'preview', iteration: e.iteration, png: await encode(image) }));
      } else {
        post({ type: 'event', event: e as unknown as Record<string, unknown> });
      }
    },
    flushed: () => previews,
  };
}
