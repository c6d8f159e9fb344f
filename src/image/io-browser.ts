/**
 * Image input and output in the browser (canvas and ImageBitmap): the browser bundle's stand-in
 * for io-node.ts (tools/build-web.mjs substitutes it), with the exports the bundled pipeline uses. In the browser,
 * images arrive decoded (`decodeImage` of a picked file's bytes) or as RgbImage; a path is refused.
 *
 * Decoding flattens alpha over white, as io-node does; the browser applies EXIF orientation
 * (`imageOrientation: 'from-image'`) and converts to sRGB itself. Resizing draws with the canvas's
 * high-quality smoothing: close to, but not the same pixels as, sharp's Lanczos-3 in Node.
 */
import { ImageError } from '../errors.js';
import type { RgbImage } from './rgb.js';

export { fromPlanar, toPlanar, type RgbImage } from './rgb.js';
export { ImageError };

/** Largest input accepted, in pixels, as in Node. */
export const MAX_INPUT_PIXELS = 100_000_000;

function noPaths(file: string): never {
  throw new ImageError(`cannot read image ${file}: in the browser, images are given as picked files (decodeImage) or decoded RGB, not as paths`);
}

export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  return noPaths(file);
}

export async function readImage(file: string): Promise<RgbImage> {
  return noPaths(file);
}

function canvas(width: number, height: number): OffscreenCanvasRenderingContext2D {
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser has no 2D canvas');
  return ctx;
}

function fromRgba(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    const a = rgba[4 * i + 3]! / 255;
    for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round(rgba[4 * i + c]! * a + 255 * (1 - a));
  }
  return { data, width, height };
}

function toRgba(img: RgbImage): ImageData {
  const n = img.width * img.height;
  const rgba = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) rgba[4 * i + c] = img.data[3 * i + c]!;
    rgba[4 * i + 3] = 255;
  }
  return new ImageData(rgba, img.width, img.height);
}

/** Draws a decoded bitmap into 8-bit RGB, alpha over white. */
function bitmapToRgb(bitmap: ImageBitmap): RgbImage {
  const ctx = canvas(bitmap.width, bitmap.height);
  ctx.drawImage(bitmap, 0, 0);
  return fromRgba(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height);
}

/**
 * Decodes a picked file's bytes as upright 8-bit sRGB. @throws ImageError naming `name` for bytes
 * the browser cannot decode or an image over `maxPixels`.
 */
export async function decodeImage(bytes: Uint8Array, name: string, maxPixels = MAX_INPUT_PIXELS): Promise<RgbImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'default' });
  } catch (err) {
    throw new ImageError(`cannot read ${name}: this browser cannot decode it as an image (${(err as Error).message}); check that the file is a JPEG, PNG or WebP and not truncated`);
  }
  try {
    if (bitmap.width * bitmap.height > maxPixels) {
      throw new ImageError(`${name} is ${bitmap.width}×${bitmap.height} px; Impasto reads images up to ${Number((maxPixels / 1e6).toPrecision(3))} Mpx. Downscale it first`);
    }
    return bitmapToRgb(bitmap);
  } finally {
    bitmap.close();
  }
}

/** Resizes to exactly width×height with the canvas's high-quality smoothing. */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const bitmap = await createImageBitmap(toRgba(img), { resizeWidth: width, resizeHeight: height, resizeQuality: 'high', premultiplyAlpha: 'none' });
  try {
    return bitmapToRgb(bitmap);
  } finally {
    bitmap.close();
  }
}

/** Encodes as PNG bytes. */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const c = new OffscreenCanvas(img.width, img.height);
  c.getContext('2d')!.putImageData(toRgba(img), 0, 0);
  return new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
}
