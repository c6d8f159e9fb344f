/**
 * Image input and output in Node, through sharp (libvips).
 *
 * Reading normalises every input to 8-bit sRGB with three channels, upright:
 * - EXIF orientation is applied (a phone photo comes out the way it was held);
 * - CMYK, grey, 16-bit and palette images are converted to sRGB by libvips (with the embedded ICC
 *   profile where there is one);
 * - an alpha channel is composited over white;
 * - images over {@link MAX_INPUT_PIXELS} are refused from their header, before decoding.
 * Writing goes to a temporary file beside the target, then a rename, so a crash or Ctrl-C never
 * leaves a half-written image at the output path.
 */
import { rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { formatOf, ImageError } from './output-path.js';
import { OptionError } from '../errors.js';

export { checkOutputPath, formatOf, ImageError } from './output-path.js';
import sharp, { type Metadata } from 'sharp';
import type { RgbImage } from './rgb.js';

export { fromPlanar, toPlanar, type RgbImage } from './rgb.js';

/** Largest input accepted, in pixels (100 Mpx, e.g. 10000×10000). */
export const MAX_INPUT_PIXELS = 100_000_000;



function describe(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

/**
 * An image file's upright size from its header alone (nothing is decoded), after the same checks
 * as {@link readImage}: a regular file, a readable header.
 * @throws ImageError
 */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  await checkRegular(file);
  try {
    const meta = await sharp(file, { limitInputPixels: false }).metadata();
    return { width: meta.autoOrient?.width ?? meta.width ?? 0, height: meta.autoOrient?.height ?? meta.height ?? 0 };
  } catch (err) {
    throw new ImageError(`cannot read image ${file}: expected a JPEG, PNG, WebP, TIFF, GIF or AVIF file, but it is not a readable image (${describe(err)}); check that the file is an image and not truncated`);
  }
}

/** @throws ImageError unless `file` is a regular file (a FIFO would block the decoder forever). */
async function checkRegular(file: string): Promise<void> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new ImageError(err.code === 'ENOENT' ? `cannot read image ${file}: the file does not exist; check the path` : `cannot read image ${file}: ${err.code ?? err.message}`);
  });
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
    throw new ImageError(`cannot read image ${file}: it is ${kind}; expected an image file (JPEG, PNG, WebP, TIFF, GIF or AVIF)`);
  }
}

/**
 * Reads an image file as upright 8-bit sRGB.
 * @throws ImageError for a missing, corrupt, truncated, unsupported or oversized file, or a path
 *         that is not a regular file (a FIFO, a device, a directory); OptionError when `file` is
 *         not a non-empty string.
 */
export async function readImage(file: string): Promise<RgbImage> {
  if (typeof file !== 'string' || file === '') throw new OptionError(`readImage: expected a file path, received ${file === '' ? 'an empty string' : typeof file}`);
  await checkRegular(file);
  return decode(file, `image ${file}`, 'the file', 'check the path');
}

/**
 * Decodes an encoded image held in memory (an upload) as upright 8-bit sRGB, with the same checks
 * and messages as {@link readImage}; `name` says which input it is (e.g. `upload "photo.jpg" (content)`).
 * @throws ImageError for bytes that are not a supported image, a truncated one, or one over
 *         `maxPixels` (default {@link MAX_INPUT_PIXELS}), checked from the header before decoding.
 */
export async function decodeImage(bytes: Uint8Array, name: string, maxPixels = MAX_INPUT_PIXELS): Promise<RgbImage> {
  return decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name, 'the upload', 'upload another file', maxPixels);
}

/** readImage and decodeImage: header (size limit), then the pixels. */
async function decode(input: string | Buffer, name: string, what: string, fix: string, maxPixels = MAX_INPUT_PIXELS): Promise<RgbImage> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    const msg = describe(err);
    if (typeof input === 'string' && /missing|no such file/i.test(msg)) throw new ImageError(`cannot read ${name}: the file does not exist; ${fix}`);
    throw new ImageError(`cannot read ${name}: expected a JPEG, PNG, WebP, TIFF, GIF or AVIF file, but it is not a readable image (${msg}); check that ${what} is an image and not truncated`);
  }
  const w = meta.autoOrient?.width ?? meta.width ?? 0;
  const h = meta.autoOrient?.height ?? meta.height ?? 0;
  if (w * h > maxPixels) {
    throw new ImageError(
      `${name} is ${w}×${h} px (${((w * h) / 1e6).toFixed(0)} Mpx); Impasto reads images up to ${Number((maxPixels / 1e6).toPrecision(3))} Mpx. ` +
        'Downscale it first (e.g. vips resize, or convert -resize); the output size is set by --size anyway',
    );
  }
  try {
    const { data, info } = await sharp(input, { failOn: 'truncated', limitInputPixels: maxPixels })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw new ImageError(`cannot decode ${name}: ${describe(err)}; ${what} is corrupt or truncated; re-export or re-download it`);
  }
}

/** Resizes interleaved RGB to exactly width×height (Lanczos-3; aspect ratio as given). */
export async function resizeImage(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}

/**
 * Writes an image atomically: encode to `<dir>/.<name>.<pid>.<random>.tmp`, then rename over `file`.
 * @throws OptionError when `file` is not a path or `img`'s bytes do not match its size;
 *         ImageError when the format is unknown or the directory is not writable.
 */
export async function writeImage(file: string, img: RgbImage): Promise<void> {
  if (typeof file !== 'string' || file === '') throw new OptionError(`writeImage: expected a file path, received ${typeof file}`);
  const w = img?.width, h = img?.height;
  if (!(img?.data instanceof Uint8Array) || !Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0 || img.data.length !== 3 * w * h) {
    throw new OptionError(`writeImage: expected an RgbImage {data: Uint8Array of 3·width·height bytes, width, height} for ${file}, received ${img?.data?.length ?? 'no'} bytes for ${w}×${h}`);
  }
  const fmt = formatOf(file);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .toFormat(fmt, fmt === 'jpeg' ? { quality: 95 } : {})
      .toFile(tmp);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ImageError(`cannot write ${file}: ${describe(err)}; check that the directory exists and is writable`);
  }
}

/** Encodes interleaved RGB as PNG bytes in memory (a job's preview or result). */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const buf = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
